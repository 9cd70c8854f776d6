"""The instruction checkers the Vero release adds to IFEval's: 28 from open-instruct's IFEvalG, 19 from
MM-IFEval.

The release's instruction library (`vero-rl/vero_reward/instructions.py`, zlab-princeton/vero @
8c81e37) holds IFEval's 29 checker classes (lm-eval's, used by `vero.rewards.ifeval` with the release's
changes) and the 47 classes below. Its reward finds a class by name, builds it with the payload's
arguments (`cls(name).build_description(**args)`, retried with `get_instruction_args_keys()` only on a
`TypeError`) and asks `check_following(answer)`; a class that cannot be built, or whose check raises,
counts as not followed. Each class here takes the same argument names and keys, draws the same values
when an argument is missing or falsy (the release tests most with `if not x`, so 0 is drawn too), fails
to build where the release's does, and decides the same way on every input, quirks included (the
keyword arguments are regular expressions, not escaped; `[a-z]` and `[a-zA-Z]` count ASCII letters
only; `\\d` matches any Unicode digit).

Sentences and words come from the `Counting` the classes are bound to (`checker_classes`): nltk's
punkt `sent_tokenize` and `word_tokenize`, as the release uses them. MM-IFEval's checks are the ones
MMIFEval scores with (`vero.eval.mmif_checks.CHECKS`: the release has the same functions in
`vero-eval/lmms_eval/tasks/mmifeval/utils.py`), except that sentences come from `Counting` here and the
reward's no-digit check is the release library's own (`\\d` anywhere), not MMIFEval's number pattern.
Description strings are this project's own (the reward never shows them to the model).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import pairwise

from vero.eval.mmif_checks import CHECKS as MMIF_CHECKS
from vero.eval.mmif_checks import paragraphs

RELATIONS = ("less than", "at least")

# The keyword pool the release's library draws from when a keyword argument is missing (its fallback
# instructions_util, used when open-instruct is not installed, as in a plain install of the release):
# the NATO spelling alphabet.
KEYWORD_POOL = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
)

# RepeatPhraseChecker draws one of these phrases when none is given (the release's `_PHRASES`).
PHRASES = (
    "Dance like nobody is watching you",
    "The early bird catches the worm",
    "Time flies when having fun",
    "Every cloud has a silver lining",
    "Actions speak louder than words",
    "Don't judge a book by cover",
    "Live each day to the fullest",
    "All that glitters is not gold",
    "Laughter is the best medicine",
    "The pen is mightier than sword",
)


def draw_keywords(n: int) -> list[str]:
    """`n` keywords from `KEYWORD_POOL`, distinct while the pool allows (the release's draw)."""
    if n <= 0:
        return []
    if n <= len(KEYWORD_POOL):
        return random.sample(KEYWORD_POOL, n)
    return random.choices(KEYWORD_POOL, k=n)


def compare(relation: object, count: int, threshold: object) -> bool:
    """IFEval's two relations: "less than" → count < threshold, "at least" → count ≥ threshold."""
    if relation == "less than":
        return count < threshold  # type: ignore[operator]
    if relation == "at least":
        return count >= threshold  # type: ignore[operator]
    return False


def checked_relation(relation: object) -> str:
    """A relation argument as IFEval builds it: drawn when missing, else one of RELATIONS."""
    if relation is None:
        return random.choice(RELATIONS)
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")
    return relation  # type: ignore[return-value]


class Counting:
    """Sentence and word splitting for the checkers.

    `punkt`: nltk's punkt model can be loaded (`vero.rewards.nltk_punkt.ensure_punkt`); then sentences are
    `nltk.sent_tokenize` and words `nltk.word_tokenize`, as in the release. Without it, `regex` (a
    sentence splitter, e.g. lm-eval's `split_into_sentences`) counts sentences and words come from nltk's
    Treebank tokenizer alone (`preserve_line=True`); with neither, both raise `LookupError`, as nltk does
    for the release (the instruction is then not followed).
    """

    def __init__(self, punkt: bool, regex: Callable[[str], list[str]] | None = None) -> None:
        self.punkt = punkt
        self.regex = None if punkt else regex

    def sentences(self, text: str) -> Sequence[str]:
        if self.regex is not None:
            return [s for s in self.regex(text) if s.strip()]
        if not self.punkt:
            raise LookupError("nltk's punkt_tab model is not installed")
        return _punkt_sentences(text)

    def words(self, text: str) -> Sequence[str]:
        if not self.punkt and self.regex is None:
            raise LookupError("nltk's punkt_tab model is not installed")
        if not self.punkt:
            return _treebank_words(text)
        # nltk.word_tokenize(text) is, by its definition, the Treebank words of each punkt sentence
        return tuple(w for sentence in _punkt_sentences(text) for w in _treebank_words(sentence))

    def count_words_near(self, text: str, threshold: object) -> int:
        """`len(self.words(text))`, or a bound of it on the same side of `threshold` (so that it
        compares with `threshold` as the count does). nltk's words split each whitespace-separated
        chunk into one or more tokens and never drop a character, so the count lies between the
        number of chunks and the number of non-space characters; outside those bounds nothing is
        tokenized."""
        if not self.punkt and self.regex is None:
            raise LookupError("nltk's punkt_tab model is not installed")
        if isinstance(threshold, int | float) and not isinstance(threshold, bool):
            chunks = text.split()
            if len(chunks) >= threshold:
                return len(chunks)
            letters = sum(map(len, chunks))
            if letters < threshold:
                return letters
        return len(self.words(text))


# One response is split by every checker of its payload that counts sentences or words: split it once.
@lru_cache(maxsize=64)
def _punkt_sentences(text: str) -> tuple[str, ...]:
    import nltk

    return tuple(nltk.sent_tokenize(text))


@lru_cache(maxsize=256)
def _treebank_words(sentence: str) -> tuple[str, ...]:
    import nltk

    return tuple(nltk.word_tokenize(sentence, preserve_line=True))


class Checker:
    """A checker with the interface the release's reward calls (that of IFEval's `Instruction`)."""

    keys: tuple[str, ...] = ()  # what `get_instruction_args_keys` answers: the release's list
    text: Counting = Counting(punkt=False)  # replaced per semantics by `checker_classes`

    def __init__(self, instruction_id: object = None) -> None:
        self.id = instruction_id
        self.args: dict = {}

    def build_description(self, **kwargs) -> str:
        raise NotImplementedError

    def get_instruction_args_keys(self) -> list[str]:
        return list(self.keys)

    def get_instruction_args(self) -> dict:
        return dict(self.args)

    def check_following(self, value: str) -> bool:
        raise NotImplementedError

    def _built(self, description: str, **args) -> str:
        self.args = args
        return description


def _word_argument(word: object) -> str:
    """A word argument of the IFEvalG checkers that accept a list: drawn when missing, else its first
    item when it is not a string, stripped."""
    if not word:
        return draw_keywords(1)[0]
    return (word if isinstance(word, str) else word[0]).strip()  # type: ignore[index]


def _required_text(value: object, name: str) -> object:
    if not value:
        raise ValueError(f"{name} is required")
    return value


def _blocks(pieces: list[str]) -> int | None:
    """IFEval's paragraph count over split pieces: an empty first or last piece does not count, an
    empty piece between two others makes the layout invalid (None)."""
    count = len(pieces)
    for i, piece in enumerate(pieces):
        if not piece.strip():
            if i in (0, len(pieces) - 1):
                count -= 1
            else:
                return None
    return count


_STARS = re.compile(r"\s?\*\*\*\s?")  # IFEval's `***` paragraph divider


def _strip_punctuation(word: str) -> str:
    return re.sub(r"[^\w\s]", "", word)


# --- IFEvalG (open-instruct) ------------------------------------------------------------------------


class RepeatPhraseChecker(Checker):
    """The phrase appears `small_n` times (windows of its length between its first and last word), all
    but one exactly and one with exactly one word changed; a window with two or more changes fails."""

    keys = ("phrase", "small_n")

    def build_description(self, phrase=None, small_n=None):
        self.phrase = phrase.strip() if phrase else random.choice(PHRASES)
        self.times = small_n if small_n else random.randint(2, 3)
        return self._built(
            f"Repeat {self.phrase!r} {self.times} times, one copy with one middle word changed.",
            phrase=self.phrase,
            small_n=self.times,
        )

    def check_following(self, value):
        ref = self.phrase.split()
        if not ref:
            return False
        words = re.findall(r"\b\w+\b", value)
        size = len(ref)
        exact = changed = windows = 0
        for start in range(len(words) - size + 1):
            window = words[start : start + size]
            if window[0] != ref[0] or window[-1] != ref[-1]:
                continue
            windows += 1
            differing = sum(a != b for a, b in zip(window, ref, strict=True))
            if differing == 0:
                exact += 1
            elif differing == 1:
                changed += 1
            else:
                return False
        return windows == self.times and changed == 1 and exact == self.times - 1


class CopyChecker(Checker):
    """The answer is the given text, case-insensitively, surrounding whitespace aside."""

    keys = ("prompt_to_repeat",)

    def build_description(self, prompt_to_repeat=None):
        self.prompt = _required_text(prompt_to_repeat, "prompt_to_repeat")
        return self._built(f"Copy this text exactly: {self.prompt}", prompt_to_repeat=self.prompt)

    def check_following(self, value):
        return value.strip().lower() == self.prompt.strip().lower()


class CopyingSimpleChecker(CopyChecker):
    """As CopyChecker: the answer repeats the request, nothing else."""


class CopySpanIdxChecker(Checker):
    """The answer is the text's characters [n_start, n_end), case-insensitively (an index given as 0 is
    drawn, as the release tests it with `not`)."""

    keys = ("n_start", "n_end", "prompt_to_repeat")

    def build_description(self, prompt_to_repeat=None, n_start=None, n_end=None):
        self.prompt = _required_text(prompt_to_repeat, "prompt_to_repeat")
        self.start = n_start if n_start else random.randint(0, len(self.prompt) - 2)
        self.end = n_end if n_end else random.randint(self.start + 1, len(self.prompt) - 1)
        return self._built(
            f"Copy characters {self.start} to {self.end} of: {self.prompt}",
            prompt_to_repeat=self.prompt,
            n_start=self.start,
            n_end=self.end,
        )

    def check_following(self, value):
        return value.strip().lower() == self.prompt[self.start : self.end].strip().lower()


class SentenceHyphenChecker(Checker):
    """Sentences joined by bare hyphens: every piece between hyphens is non-empty, has no surrounding
    whitespace and is one sentence."""

    def build_description(self):
        return self._built("Join your sentences with hyphens and no spaces.")

    def check_following(self, value):
        if "-" not in value:
            return False
        return all(
            piece and piece == piece.strip() and len(self.text.sentences(piece)) == 1
            for piece in value.split("-")
        )


class AdjacentLetterChecker(Checker):
    """No word starts with the character that follows, in code points, the first character of the word
    before it (after lowercasing; a first character that lowercases to two characters fails)."""

    def build_description(self):
        return self._built("No two adjacent words may start with consecutive letters.")

    def check_following(self, value):
        initials = [word[0].lower() for word in value.split()]
        for first, second in pairwise(initials):
            if len(first) != 1 or len(second) != 1 or ord(second) - ord(first) == 1:
                return False
        return True


class SquareBracketChecker(Checker):
    """Every whitespace-separated token starts with `[` and ends with `]`."""

    def build_description(self):
        return self._built("Wrap every word in square brackets.")

    def check_following(self, value):
        return all(token.startswith("[") and token.endswith("]") for token in value.split())


class KeywordFrequencyOnceChecker(Checker):
    """The keyword (a regular expression, case-insensitive) matches exactly once."""

    keys = ("keyword",)

    def build_description(self, *, keyword=None):
        self.keyword = keyword.strip() if keyword else draw_keywords(1)[0]
        return self._built(f"Use {self.keyword!r} exactly once.", keyword=self.keyword)

    def check_following(self, value):
        return len(re.findall(self.keyword, value, flags=re.IGNORECASE)) == 1


class KeywordFrequencyCheckerDifferent(Checker):
    """As IFEval's KeywordFrequencyChecker: the keyword (a regular expression, case-insensitive) matches
    fewer than / at least `frequency` times."""

    keys = ("keyword", "frequency", "relation")

    def build_description(self, *, keyword=None, frequency=None, relation=None):
        self.keyword = keyword.strip() if keyword else draw_keywords(1)[0]
        if frequency is None or frequency < 0:
            frequency = random.randint(1, 3)
        self.frequency = frequency
        self.relation = checked_relation(relation)
        return self._built(
            f"Use {self.keyword!r} {self.relation} {self.frequency} times.",
            keyword=self.keyword,
            frequency=self.frequency,
            relation=self.relation,
        )

    def check_following(self, value):
        found = len(re.findall(self.keyword, value, flags=re.IGNORECASE))
        return compare(self.relation, found, self.frequency)


class ExcludeWordHarderChecker(Checker):
    """The keyword never appears as a whole word (escaped, case-insensitive); when missing, one word of
    `instruction` is drawn (its only key is "keyword")."""

    keys = ("keyword",)

    def build_description(self, keyword=None, instruction=None):
        self.keyword = keyword.strip() if keyword else random.choice(instruction.split())
        return self._built(f"Do not use the word {self.keyword!r}.", keyword=self.keyword)

    def check_following(self, value):
        return not re.search(r"\b" + re.escape(self.keyword) + r"\b", value, flags=re.IGNORECASE)


class ParagraphBasicChecker(Checker):
    """Exactly two paragraphs divided by `***` (IFEval's ParagraphChecker with 2)."""

    def build_description(self):
        return self._built("Write two paragraphs separated by ***.")

    def check_following(self, value):
        return _blocks(_STARS.split(value)) == 2


class ParagraphBasicChecker2(Checker):
    """Exactly two paragraphs divided by a blank line (`\\n\\n`)."""

    def build_description(self):
        return self._built("Write two paragraphs separated by a blank line.")

    def check_following(self, value):
        return _blocks(value.split("\n\n")) == 2


class FirstWordSentChecker(Checker):
    """Every sentence's first whitespace-separated word is the word, case-insensitively."""

    keys = ("first_word",)

    def build_description(self, first_word=None):
        self.word = _word_argument(first_word)
        return self._built(f"Start every sentence with {self.word!r}.", first_word=self.word)

    def check_following(self, value):
        for sentence in self.text.sentences(value):
            if not sentence.strip() or sentence.split()[0].strip().lower() != self.word.lower():
                return False
        return True


class FirstWordAnswerChecker(Checker):
    """The answer's first whitespace-separated word is the word, case-insensitively."""

    keys = ("first_word",)

    def build_description(self, first_word=None):
        self.word = first_word.strip() if first_word else draw_keywords(1)[0]
        return self._built(f"Start your answer with {self.word!r}.", first_word=self.word)

    def check_following(self, value):
        words = value.split()
        return bool(words) and words[0].strip().lower() == self.word.lower()


class LastWordSentChecker(Checker):
    """Every sentence's last whitespace-separated word, punctuation removed, is the word
    (case-insensitively)."""

    keys = ("last_word",)

    def build_description(self, last_word=None):
        self.word = _word_argument(last_word)
        return self._built(f"End every sentence with {self.word!r}.", last_word=self.word)

    def check_following(self, value):
        for sentence in self.text.sentences(value):
            if not sentence.strip():
                return False
            if _strip_punctuation(sentence.split()[-1].strip()).lower() != self.word.lower():
                return False
        return True


class LastWordAnswerChecker(Checker):
    """The answer's last whitespace-separated word, punctuation removed, is the word (case-insensitively)."""

    keys = ("last_word",)

    def build_description(self, last_word=None):
        self.word = last_word.strip() if last_word else draw_keywords(1)[0]
        return self._built(f"End your answer with {self.word!r}.", last_word=self.word)

    def check_following(self, value):
        return _strip_punctuation(value.split()[-1].strip()).lower() == self.word.lower()


class BiGramWrappingChecker(Checker):
    """An even number of tokens, paired in order: each pair's first token opens with `<<` (and does not
    close), its second closes with `>>` (and does not open)."""

    def build_description(self):
        return self._built("Wrap every pair of words in << >>.")

    def check_following(self, value):
        tokens = value.split()
        if not tokens or len(tokens) % 2:
            return False
        return all(
            first.startswith("<<")
            and not first.endswith(">>")
            and second.endswith(">>")
            and not second.startswith("<<")
            for first, second in zip(tokens[::2], tokens[1::2], strict=True)
        )


class CopyingMultipleChecker(Checker):
    """The answer is `N` copies of the text divided by `******` (each compared case-insensitively,
    whitespace aside; nothing before the first or after the last)."""

    keys = ("prompt_to_repeat", "N")

    def build_description(self, prompt_to_repeat=None, N=None):
        self.prompt = _required_text(prompt_to_repeat, "prompt_to_repeat")
        self.times = N if N else random.randint(2, 3)
        return self._built(
            f"Repeat the request {self.times} times separated by ******.",
            prompt_to_repeat=self.prompt,
            N=self.times,
        )

    def check_following(self, value):
        copies = value.split("******")
        if len(copies) != self.times:
            return False
        wanted = self.prompt.strip().lower()
        return all(copy.strip().lower() == wanted for copy in copies)


class PunctuationDotChecker(Checker):
    """No `.` anywhere."""

    def build_description(self):
        return self._built("Use no dots.")

    def check_following(self, value):
        return "." not in value


class PunctuationExclamationChecker(Checker):
    """No `!` anywhere."""

    def build_description(self):
        return self._built("Use no exclamation marks.")

    def check_following(self, value):
        return "!" not in value


class LowercaseCountingChecker(Checker):
    """At most `N` words of ASCII lowercase letters only (`\\b[a-z]+\\b`)."""

    keys = ("N",)

    def build_description(self, N=None):
        self.limit = N if N else random.randint(2, 3)
        return self._built(f"Use at most {self.limit} lowercase words.", N=self.limit)

    def check_following(self, value):
        return len(re.findall(r"\b[a-z]+\b", value)) <= self.limit


class LetterCountingChecker(Checker):
    """Fewer than / at least `N` ASCII letters; a relation outside IFEval's two is kept and never met."""

    keys = ("N", "relation")

    def build_description(self, N=None, relation=None):
        self.count = N if N else random.randint(2, 3)
        self.relation = relation if relation else random.choice(RELATIONS)
        return self._built(f"Use {self.relation} {self.count} letters.", N=self.count, relation=self.relation)

    def check_following(self, value):
        return compare(self.relation, len(re.findall(r"[a-zA-Z]", value)), self.count)


class CountingCompositionChecker(Checker):
    """Three `***`-divided paragraphs of `n_sent` sentences of `n_words` words each (nltk's words:
    punctuation counts); an empty paragraph anywhere fails."""

    keys = ("n_sent", "n_words")

    def build_description(self, n_sent=None, n_words=None):
        self.sentences = n_sent if n_sent else random.randint(2, 3)
        self.words = n_words if n_words else random.randint(2, 3)
        return self._built(
            f"Write 3 paragraphs of {self.sentences} sentences of {self.words} words.",
            n_sent=self.sentences,
            n_words=self.words,
        )

    def check_following(self, value):
        pieces = _STARS.split(value)
        count = len(pieces)
        for i, piece in enumerate(pieces):
            if not piece.strip():
                if i not in (0, len(pieces) - 1):
                    return False
                count -= 1
            sentences = self.text.sentences(piece)  # an empty piece has none: never n_sent (≥ 1)
            if len(sentences) != self.sentences:
                return False
            if any(len(self.text.words(s)) != self.words for s in sentences):
                return False
        return count == 3


class CountUniqueChecker(Checker):
    """No token (nltk's words, punctuation included, case-sensitive) appears twice."""

    def build_description(self):
        return self._built("Use every word only once.")

    def check_following(self, value):
        words = self.text.words(value)
        return len(words) == len(set(words))


class CountIncrementWordChecker(Checker):
    """`keyword1` matches exactly once and `keyword2` exactly twice (regular expressions,
    case-insensitive)."""

    keys = ("keyword1", "keyword2")

    def build_description(self, keyword1=None, keyword2=None):
        self.once = keyword1.strip() if keyword1 else draw_keywords(1)[0]
        self.twice = keyword2.strip() if keyword2 else draw_keywords(1)[0]
        return self._built(
            f"Use {self.once!r} once and {self.twice!r} twice.", keyword1=self.once, keyword2=self.twice
        )

    def check_following(self, value):
        once = len(re.findall(self.once, value, flags=re.IGNORECASE))
        twice = len(re.findall(self.twice, value, flags=re.IGNORECASE))
        return once == 1 and twice == 2


class PalindromeBasicChecker(Checker):
    """Some whitespace-separated token reads the same backwards (one character is enough)."""

    def build_description(self):
        return self._built("Include a palindrome.")

    def check_following(self, value):
        return any(token == token[::-1] for token in value.split())


class KeywordSpecificPositionChecker(Checker):
    """The `m`-th word (nltk's words) of the `n`-th sentence is the keyword, case-sensitively (1-based;
    Python indexing as the release does it, so a negative position counts from the end)."""

    keys = ("keyword", "n", "m")

    def build_description(self, keyword=None, n=None, m=None):
        self.keyword = _word_argument(keyword)
        self.sentence = n if n else random.randint(1, 20)
        self.position = m if m else random.randint(1, 30)
        return self._built(
            f"Make {self.keyword!r} word {self.position} of sentence {self.sentence}.",
            keyword=self.keyword,
            n=self.sentence,
            m=self.position,
        )

    def check_following(self, value):
        sentences = self.text.sentences(value)
        if len(sentences) < self.sentence:
            return False
        words = self.text.words(sentences[self.sentence - 1])
        if len(words) < self.position:
            return False
        return words[self.position - 1] == self.keyword


class StartEndChecker(Checker):
    """The first and last tokens (nltk's words, so final punctuation is a token) are the same word,
    case-insensitively; one token is not enough."""

    def build_description(self):
        return self._built("Start and end with the same word.")

    def check_following(self, value):
        words = self.text.words(value)
        return len(words) >= 2 and words[0].lower() == words[-1].lower()


# --- MM-IFEval ---------------------------------------------------------------------------------------


def _lines_stripped(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines()).strip()


def _none_missing(**values: object) -> None:
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ValueError(f"{', '.join(missing)} must be given")


class _Bounds(Checker):
    keys = ("lower_bound", "upper_bound")

    def build_description(self, *, lower_bound=None, upper_bound=None):
        _none_missing(lower_bound=lower_bound, upper_bound=upper_bound)
        self.low, self.high = lower_bound, upper_bound
        return self._built(
            f"Stay between {self.low} and {self.high}.", lower_bound=self.low, upper_bound=self.high
        )

    def within(self, count: int) -> bool:
        return self.low <= count <= self.high


class CheckWhetherResponseParagraphNumberInRange(_Bounds):
    """Blank-line separated paragraphs (lines stripped) number within [lower_bound, upper_bound]."""

    def check_following(self, value):
        return MMIF_CHECKS["check_whether_response_paragraph_number_in_range"](value, self.low, self.high)


class CheckWhetherResponseSentenceNumberInRange(_Bounds):
    """Sentences (of the text with its lines stripped) number within the bounds."""

    def check_following(self, value):
        return self.within(len(self.text.sentences(_lines_stripped(value))))


class CheckWhetherEachParagraphSentenceNumberInRange(_Bounds):
    """Every paragraph has a sentence count within the bounds."""

    def check_following(self, value):
        for paragraph in paragraphs(value):
            count = len(self.text.sentences(paragraph))
            if count < self.low or count > self.high:  # (not `within`: the release's test, NaN bounds alike)
                return False
        return True


class CheckWhetherEachParagraphSentenceNumberInRangeList(Checker):
    """As many paragraphs as `ranges`, the i-th with a sentence count within `ranges[i]` = [low, high]."""

    keys = ("ranges",)

    def build_description(self, *, ranges=None):
        self.ranges = _required_text(ranges, "ranges")
        return self._built(f"Paragraph sentence counts within {self.ranges}.", ranges=self.ranges)

    def check_following(self, value):
        found = paragraphs(value)
        if len(found) != len(self.ranges):
            return False
        for paragraph, (low, high) in zip(found, self.ranges, strict=False):
            if not low <= len(self.text.sentences(paragraph)) <= high:
                return False
        return True


class CheckWhetherResponseWordCountInRange(_Bounds):
    """Words (whitespace-separated, characters other than letters, digits, `_`, `.`, `-` dropped)
    number within the bounds."""

    def check_following(self, value):
        return MMIF_CHECKS["check_whether_response_word_count_in_range"](value, self.low, self.high)


class CheckWhetherEachParagraphWordCountInRange(_Bounds):
    """Every paragraph's word count (as above) is within the bounds."""

    def check_following(self, value):
        return MMIF_CHECKS["check_whether_each_paragraph_word_count_in_range"](value, self.low, self.high)


class CheckWhetherWholeResponseNotContainCertainSubstrings(Checker):
    """None of the substrings occurs (case-sensitive); no substrings given: always followed."""

    keys = ("substrings",)

    def build_description(self, *, substrings=None):
        self.substrings = substrings or []
        return self._built(f"Avoid {self.substrings}.", substrings=self.substrings)

    def check_following(self, value):
        return MMIF_CHECKS["check_whether_whole_response_not_contain_certain_substrings"](
            value, self.substrings
        )


class _Substring(Checker):
    keys = ("substring",)
    check: str = ""  # the MMIFEval check, for the ones that need no sentences

    def build_description(self, *, substring=None):
        _none_missing(substring=substring)
        self.substring = substring
        return self._built(f"Mind the substring {self.substring!r}.", substring=self.substring)

    def check_following(self, value):
        return MMIF_CHECKS[self.check](value, self.substring)


class CheckWhetherWholeResponseNotContainCertainSubstring(_Substring):
    """The substring does not occur (case-sensitive)."""

    check = "check_whether_whole_response_not_contain_certain_substring"


class CheckWhetherEachSentenceBeginWithCertainSubstring(_Substring):
    """Every sentence (of the text with its lines stripped) starts with the substring."""

    def check_following(self, value):
        return all(s.startswith(self.substring) for s in self.text.sentences(_lines_stripped(value)))


class CheckWhetherEachParagraphBeginWithCertainSubstring(_Substring):
    """Every paragraph starts with the substring."""

    check = "check_whether_each_paragraph_begin_with_certain_substring"


class CheckWhetherEachParagraphEndWithCertainSubstring(_Substring):
    """Every paragraph ends with the substring."""

    check = "check_whether_each_paragraph_end_with_certain_substring"


class CheckWhetherEachSentenceEndWithCertainSubstring(_Substring):
    """Every sentence (of the text with its lines stripped) ends with the substring."""

    def check_following(self, value):
        return all(s.endswith(self.substring) for s in self.text.sentences(_lines_stripped(value)))


class CheckWhetherWholeResponseBeginWithCertainSubstring(_Substring):
    """The stripped answer starts with the substring."""

    check = "check_whether_whole_response_begin_with_certain_substring"


class CheckWhetherWholeResponseEndWithCertainSubstring(_Substring):
    """The stripped answer ends with the substring."""

    check = "check_whether_whole_response_end_with_certain_substring"


class _Keywords(Checker):
    keys = ("keywords", "lower_bound_times", "upper_bound_times")
    check: str = ""

    def build_description(self, *, keywords=None, lower_bound_times=None, upper_bound_times=None):
        self.keywords = _required_text(keywords, "keywords")
        _none_missing(lower_bound_times=lower_bound_times, upper_bound_times=upper_bound_times)
        self.low, self.high = lower_bound_times, upper_bound_times
        return self._built(
            f"Use {self.keywords} between {self.low} and {self.high} times.",
            keywords=self.keywords,
            lower_bound_times=self.low,
            upper_bound_times=self.high,
        )

    def check_following(self, value):
        return MMIF_CHECKS[self.check](value, self.keywords, self.low, self.high)


class CheckWhetherEachKeywordInListMetionedInRange(_Keywords):
    """Each keyword occurs as a whole word (case-insensitive) within the bounds."""

    check = "check_whether_each_keyword_in_list_metioned_in_range"


class CheckWhetherTotalKeywordInListMetionedInRange(_Keywords):
    """The keywords' whole-word occurrences (case-insensitive) add up to a count within the bounds."""

    check = "check_whether_total_keyword_in_list_metioned_in_range"


class _Precision(Checker):
    keys = ("precision",)
    check: str = ""

    def build_description(self, *, precision=None):
        _none_missing(precision=precision)
        self.precision = precision
        return self._built(f"Write numbers with {self.precision} decimals.", precision=self.precision)

    def check_following(self, value):
        return MMIF_CHECKS[self.check](value, self.precision)


class CheckPercentageNumberPrecisionInResponse(_Precision):
    """Every number before a `%` has a decimal point and `precision` digits after it."""

    check = "check_percentage_number_precision_in_response"


class CheckNumberPrecisionInResponse(_Precision):
    """Every number (signs, thousands commas, exponents, `%` allowed) has `precision` decimals (an
    integer only when `precision` is 0)."""

    check = "check_number_precision_in_response"


class CheckWhetherHasNoArabicNumberInResponse(Checker):
    """No digit anywhere (`\\d`: any Unicode decimal digit, as the release's library checks)."""

    def build_description(self):
        return self._built("Write no digits.")

    def check_following(self, value):
        return re.search(r"\d", value) is None


CLASSES: tuple[type[Checker], ...] = (
    RepeatPhraseChecker,
    CopyChecker,
    CopySpanIdxChecker,
    SentenceHyphenChecker,
    AdjacentLetterChecker,
    SquareBracketChecker,
    KeywordFrequencyOnceChecker,
    KeywordFrequencyCheckerDifferent,
    ExcludeWordHarderChecker,
    ParagraphBasicChecker,
    ParagraphBasicChecker2,
    FirstWordSentChecker,
    FirstWordAnswerChecker,
    LastWordSentChecker,
    LastWordAnswerChecker,
    BiGramWrappingChecker,
    CopyingSimpleChecker,
    CopyingMultipleChecker,
    PunctuationDotChecker,
    PunctuationExclamationChecker,
    LowercaseCountingChecker,
    LetterCountingChecker,
    CountingCompositionChecker,
    CountUniqueChecker,
    CountIncrementWordChecker,
    PalindromeBasicChecker,
    KeywordSpecificPositionChecker,
    StartEndChecker,
    CheckWhetherResponseParagraphNumberInRange,
    CheckWhetherResponseSentenceNumberInRange,
    CheckWhetherEachParagraphSentenceNumberInRange,
    CheckWhetherEachParagraphSentenceNumberInRangeList,
    CheckWhetherResponseWordCountInRange,
    CheckWhetherEachParagraphWordCountInRange,
    CheckWhetherWholeResponseNotContainCertainSubstrings,
    CheckWhetherWholeResponseNotContainCertainSubstring,
    CheckWhetherEachSentenceBeginWithCertainSubstring,
    CheckWhetherEachParagraphBeginWithCertainSubstring,
    CheckWhetherEachParagraphEndWithCertainSubstring,
    CheckWhetherEachSentenceEndWithCertainSubstring,
    CheckWhetherWholeResponseBeginWithCertainSubstring,
    CheckWhetherWholeResponseEndWithCertainSubstring,
    CheckWhetherEachKeywordInListMetionedInRange,
    CheckWhetherTotalKeywordInListMetionedInRange,
    CheckPercentageNumberPrecisionInResponse,
    CheckNumberPrecisionInResponse,
    CheckWhetherHasNoArabicNumberInResponse,
)

# open-instruct's IFEvalG instruction ids of these classes (open_instruct/IFEvalG/instructions_registry.py),
# resolved under the `ifeval_instruction_ids` correction; "letters:letter_counting2" is IFEval's
# LetterFrequencyChecker. MM-IFEval's checks have no ids.
IFEVALG_IDS = {
    "copy:repeat_phrase": "RepeatPhraseChecker",
    "copy:copy": "CopyChecker",
    "new:copy_span_idx": "CopySpanIdxChecker",
    "detectable_format:sentence_hyphens": "SentenceHyphenChecker",
    "keywords:no_adjacent_consecutive": "AdjacentLetterChecker",
    "detectable_format:square_brackets": "SquareBracketChecker",
    "keywords:word_once": "KeywordFrequencyOnceChecker",
    "keywords:word_count_different_numbers": "KeywordFrequencyCheckerDifferent",
    "keywords:exclude_word_harder": "ExcludeWordHarderChecker",
    "paragraphs:paragraphs": "ParagraphBasicChecker",
    "paragraphs:paragraphs2": "ParagraphBasicChecker2",
    "first_word:first_word_sent": "FirstWordSentChecker",
    "first_word:first_word_answer": "FirstWordAnswerChecker",
    "last_word:last_word_sent": "LastWordSentChecker",
    "last_word:last_word_answer": "LastWordAnswerChecker",
    "detectable_format:bigram_wrapping": "BiGramWrappingChecker",
    "copy:copying_simple": "CopyingSimpleChecker",
    "copy:copying_multiple": "CopyingMultipleChecker",
    "punctuation:punctuation_dot": "PunctuationDotChecker",
    "punctuation:punctuation_exclamation": "PunctuationExclamationChecker",
    "count:lowercase_counting": "LowercaseCountingChecker",
    "letters:letter_counting": "LetterCountingChecker",
    "letters:letter_counting2": "LetterFrequencyChecker",
    "count:counting_composition": "CountingCompositionChecker",
    "count:count_unique": "CountUniqueChecker",
    "count:count_increment_word": "CountIncrementWordChecker",
    "keywords:palindrome": "PalindromeBasicChecker",
    "keywords:keyword_specific_position": "KeywordSpecificPositionChecker",
    "keywords:start_end": "StartEndChecker",
}


def checker_classes(counting: Counting) -> dict[str, type[Checker]]:
    """The 47 classes by name, bound to one way of splitting sentences and words."""
    return {cls.__name__: type(cls.__name__, (cls,), {"text": counting}) for cls in CLASSES}
