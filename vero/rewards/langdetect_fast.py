"""`langdetect.detect`, with its sampling loop on numpy arrays: the same answer, about twice as fast.

The IFEval checkers that name a language (ResponseLanguageChecker, CapitalLettersEnglishChecker,
LowercaseLettersEnglishChecker) call langdetect 1.0.9's `detect(text)`, and its `_detect_block` takes
most of an instruction-following reward's time: 7 trials, each multiplying 55 language probabilities,
one Python float at a time, by the profile of a randomly drawn n-gram until one language passes
0.99999. `FastDetector` keeps everything else of langdetect's `Detector` (text cleaning, n-gram
extraction, its `random.Random` seeded as the factory says, the draws in the same order) and does the
arithmetic on numpy arrays element by element in the same order: `p_i ← p_i · (α/10⁴ + q_i)`, the sum
for normalisation accumulated left to right (`np.add.accumulate`, as Python's `sum`), so every
probability is bit-identical to langdetect's (tests/test_rewards_langdetect.py compares both on the
reward corpus). Used only through `detect`, for this project's checkers; langdetect itself is left
as it is (the release's reward, when imported alongside, runs langdetect's own loop).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from langdetect import detector_factory
from langdetect.detector import Detector
from langdetect.lang_detect_exception import ErrorCode, LangDetectException
from langdetect.utils.ngram import NGram

_SPACES = re.compile(" {2,}")


@lru_cache(maxsize=1 << 15)  # ~20 MB at most; a language's common n-grams are far fewer
def _profile(word: str) -> np.ndarray:
    """An n-gram's 55 language probabilities as an array (made once per n-gram)."""
    return np.array(detector_factory._factory.word_lang_prob_map[word], dtype=np.float64)


@lru_cache(maxsize=1 << 14)
def _normalized(ch: str) -> str:
    return NGram.normalize(ch)


# langdetect's cleaning counts characters in "A".."z" against characters from U+0300 on (its exception
# for the Latin Extended Additional block compares the block's number with its name, so never applies)
_LATIN = re.compile("[A-z]")
_NON_LATIN = re.compile("[\u0300-\U0010ffff]")


@lru_cache(maxsize=1 << 16)
def _piece_ngrams(piece: str, spaced: bool) -> tuple[str, ...]:
    """The 1-, 2- and 3-grams langdetect's `_extract_ngrams` takes from one space-free piece of
    normalised text (and the space after it when `spaced`) that are in its profiles; a run of two
    capitals and what follows it in the piece is skipped, as there."""
    table = detector_factory._factory.word_lang_prob_map
    found = []
    grams, capital = " ", False
    for ch in piece + " " if spaced else piece:
        last = grams[-1]
        if last == " ":
            grams, capital = " ", False
        elif len(grams) >= NGram.N_GRAM:
            grams = grams[1:]
        grams += ch
        if ch.isupper():
            if last.isupper():
                capital = True
        else:
            capital = False
        if capital:
            continue
        if ch != " " and ch in table:
            found.append(ch)
        if len(grams) >= 2:
            if grams[-2:] in table:
                found.append(grams[-2:])
            if len(grams) >= 3 and grams in table:
                found.append(grams)
    return tuple(found)


class FastDetector(Detector):
    def append(self, text):
        text = self.URL_RE.sub(" ", text)
        text = self.MAIL_RE.sub(" ", text)
        text = NGram.normalize_vi(text)
        # langdetect keeps a character unless it and the one before it are both " "
        self.text += _SPACES.sub(" ", text[: self.max_text_length])

    def cleaning_text(self):
        latin = len(_LATIN.findall(self.text))
        if latin * 2 < len(_NON_LATIN.findall(self.text)):
            self.text = "".join(ch for ch in self.text if ch < "A" or ch > "z")

    def _extract_ngrams(self):
        # langdetect's n-gram buffer restarts at every (normalised) space, so the n-grams of a text are
        # those of its space-separated pieces in turn, each followed by its space but the last one
        pieces = "".join(map(_normalized, self.text)).split(" ")
        found: list[str] = []
        last = len(pieces) - 1
        for i, piece in enumerate(pieces):
            if piece:
                found.extend(_piece_ngrams(piece, i < last))
        return found

    def _detect_block(self):
        self.cleaning_text()
        ngrams = self._extract_ngrams()
        if not ngrams:
            raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
        n_langs = len(self.langlist)
        profiles = [_profile(w) for w in ngrams]
        langprob = np.zeros(n_langs)
        self.random.seed(self.seed)
        for _ in range(self.n_trial):
            if self.prior_map is not None:
                prob = np.array(self.prior_map, dtype=np.float64)
            else:
                prob = np.full(n_langs, 1.0 / n_langs)
            alpha = self.alpha + self.random.gauss(0.0, 1.0) * self.ALPHA_WIDTH
            weight = alpha / self.BASE_FREQ
            i = 0
            while True:
                prob *= weight + self.random.choice(profiles)
                if i % 5 == 0:
                    total = float(np.add.accumulate(prob)[-1])
                    if total == 0.0:
                        raise ZeroDivisionError("float division by zero")  # as langdetect's loop
                    prob /= total
                    if float(prob.max()) > self.CONV_THRESHOLD or i >= self.ITERATION_LIMIT:
                        break
                i += 1
            langprob += prob / self.n_trial
        self.langprob = langprob.tolist()


def detect(text: str) -> str:
    """`langdetect.detect(text)` (the factory's seed and profiles), computed by `FastDetector`."""
    detector_factory.init_factory()
    factory = detector_factory._factory
    detector = FastDetector(factory)
    detector.append(text)
    return detector.detect()
