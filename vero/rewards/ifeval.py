"""instruction_following: the fraction of IFEval constraints a response satisfies.

The constraint checkers are lm-eval's IFEval implementation, with the release's behaviour where its own
copy differs (see below). A sample's ground truth names them by class (or, under the
`ifeval_instruction_ids` correction, by IFEval instruction id, e.g. "length_constraints:number_words")
with the keyword arguments of `build_description`:
`{"instructions": [{"class": "NumberOfWords", "args": {"num_words": 50, "relation": "at least"}}]}`.
A missing argument is drawn by IFEval at every call, as in the release.

Offline safety: lm-eval's IFEval utilities try to download nltk's `punkt_tab` at import and call the punkt
sentence tokenizer in two places. When the punkt data is not installed we (1) skip the download attempt
(no network call, no stray output), (2) count sentences with lm-eval's own regex splitter
`split_into_sentences`, and (3) tokenize words with nltk's Treebank tokenizer without the punkt sentence
pass (`preserve_line=True`). With the punkt data installed, lm-eval's original functions are used.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import json
import logging
import random
import re
import types
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vero.rewards.routes.context import RouteContext

_MAX_RESPONSE_CHARS = 200_000


def _has_nltk_data(resource: str) -> bool:
    import nltk

    try:
        nltk.data.find(resource)
        return True
    except LookupError:
        return False


@lru_cache(maxsize=1)
def _ifeval_modules():
    """Import lm-eval's IFEval modules once, with the offline fallbacks described above."""
    import nltk

    punkt_tab = _has_nltk_data("tokenizers/punkt_tab/english/")
    real_download = nltk.download
    if not punkt_tab:
        nltk.download = lambda *a, **k: False  # the import-time download attempt: no network here
    try:
        # lm-eval prints "Downloaded punkt_tab" whatever the outcome; keep stdout clean.
        with contextlib.redirect_stdout(io.StringIO()):
            from lm_eval.tasks.ifeval import instructions, instructions_registry, instructions_util
    finally:
        nltk.download = real_download

    try:
        instructions_util._get_sentence_tokenizer()
    except Exception:
        instructions_util.count_sentences = regex_count_sentences
    if not punkt_tab:
        proxy = types.SimpleNamespace(**{k: getattr(nltk, k) for k in ("tokenize", "data")})
        proxy.word_tokenize = lambda text, language="english", preserve_line=False: nltk.word_tokenize(
            text, language=language, preserve_line=True
        )
        instructions_util.nltk = proxy
    try:
        from langdetect import DetectorFactory
        from langdetect.detector_factory import init_factory

        DetectorFactory.seed = 0  # langdetect is random by default; rewards must be reproducible
        init_factory()  # load its language profiles now (~1 s) rather than inside the first reward call
    except ImportError:
        pass
    logging.getLogger(instructions.__name__).setLevel(logging.CRITICAL)  # "unable to detect language" spam
    return instructions, instructions_registry, instructions_util


def regex_count_sentences(text: str) -> int:
    """Sentence count with lm-eval's regex splitter (used when nltk's punkt data is not installed)."""
    _, _, util = _ifeval_modules()
    return len([s for s in util.split_into_sentences(text) if s.strip()])


# --- the release's instruction-following reward (vero_reward: `_instruction_following_reward`) ------------
# The release grades with its own copy of the IFEval checkers (vero_reward/instructions.py @ 8c81e37).
# For the 25 checkers IFEval defines, it agrees with lm-eval's, except where the subclasses below say so:
# ConstrainedResponseChecker wants the whole answer equal to an option, ConstrainedStartChecker the answer
# (left-stripped) to start with the starter, RephraseChecker marks changes as *one line without asterisks*
# (and says "not followed" instead of raising), and the release counts sentences and words with nltk's
# punkt tokenizer (`sent_tokenize`, `word_tokenize`), as do KeySentenceChecker and
# CapitalWordFrequencyChecker. Without nltk's punkt data those four raise inside the checker and count as
# not followed, as the release's do; the `ifeval_regex_sentences` correction counts with regexes then.
# Its language checker knows only ten language codes.

RELEASE_LANGUAGES = ("en", "zh", "fr", "es", "de", "it", "pt", "ru", "ja", "ko")
_CHANGE = r"\*[^*\n]+\*"


@lru_cache(maxsize=1)
def punkt_available() -> bool:
    return _has_nltk_data("tokenizers/punkt_tab/english/")


class _Counting:
    """Sentence and word tokenization for one semantics (see above)."""

    def __init__(self, regex_fallback: bool) -> None:
        self.punkt = punkt_available()
        self.regex = regex_fallback and not self.punkt

    def _need_punkt(self) -> None:
        if not self.punkt and not self.regex:  # what nltk raises, without its search of every data path
            raise LookupError("nltk's punkt_tab data is not installed")

    def sentences(self, text: str) -> list[str]:
        import nltk

        if self.regex:
            _, _, util = _ifeval_modules()
            return [s for s in util.split_into_sentences(text) if s.strip()]
        self._need_punkt()
        return nltk.sent_tokenize(text)  # LookupError without punkt data: "not followed"

    def words(self, text: str) -> list[str]:
        import nltk

        self._need_punkt()
        return nltk.word_tokenize(text, preserve_line=self.regex)


@lru_cache(maxsize=4)
def release_classes(instruction_ids: bool, regex_sentences: bool) -> dict[str, type]:
    """Checker classes by class name, with the release's behaviour where it differs from lm-eval's; with
    `instruction_ids` also by IFEval instruction id ("length_constraints:number_words", VeroMini's form),
    which the release does not resolve (such an instruction is never followed there)."""
    instructions, registry, _ = _ifeval_modules()
    counting = _Counting(regex_sentences)

    def compare(relation: str, count: int, threshold: int) -> bool:
        if relation == "less than":
            return count < threshold
        return count >= threshold

    class ConstrainedResponseChecker(instructions.ConstrainedResponseChecker):
        def check_following(self, value):
            return any(value == option for option in self._constrained_responses)

    class ConstrainedStartChecker(instructions.ConstrainedStartChecker):
        def check_following(self, value):
            return value.lstrip().startswith(self._starter)

    class RephraseChecker(instructions.RephraseChecker):
        def check_following(self, value):
            if not re.search(_CHANGE, value):
                return False
            return re.sub(_CHANGE, "", value) == re.sub(_CHANGE, "", self._reference_without_change)

    class NumberOfSentences(instructions.NumberOfSentences):
        def check_following(self, value):
            n = len(counting.sentences(value))
            return compare(self._comparison_relation, n, self._num_sentences_threshold)

    class NumberOfWords(instructions.NumberOfWords):
        def check_following(self, value):
            return compare(self._comparison_relation, len(counting.words(value)), self._num_words)

    class KeySentenceChecker(instructions.KeySentenceChecker):
        def check_following(self, value):
            found = counting.sentences(value)
            return sum(s in found for s in self._key_sentences) == self._num_sentences

    class CapitalWordFrequencyChecker(instructions.CapitalWordFrequencyChecker):
        def check_following(self, value):
            n = len([w for w in counting.words(value) if w.isupper()])
            return compare(self._comparison_relation, n, self._frequency)

    class ResponseLanguageChecker(instructions.ResponseLanguageChecker):
        def build_description(self, *, language=None):
            self._language = random.choice(RELEASE_LANGUAGES) if language is None else language
            if self._language not in RELEASE_LANGUAGES:
                raise KeyError(language)  # the release's language table has no such entry
            return f"Answer in the language with code {self._language}."

    overrides = {
        cls.__name__: cls
        for cls in (
            ConstrainedResponseChecker,
            ConstrainedStartChecker,
            RephraseChecker,
            NumberOfSentences,
            NumberOfWords,
            KeySentenceChecker,
            CapitalWordFrequencyChecker,
            ResponseLanguageChecker,
        )
    }
    classes = {
        name: overrides.get(name, obj)
        for name, obj in vars(instructions).items()
        if inspect.isclass(obj) and issubclass(obj, instructions.Instruction)
    }
    if instruction_ids:
        for iid, cls in registry.INSTRUCTION_DICT.items():
            classes.setdefault(iid, classes.get(cls.__name__, cls))
    return classes


def load_instruction_payload(answer: object) -> dict:
    """An instruction payload as the release reads it: JSON, else a Python literal; a string inside is
    parsed once more (a payload JSON-encoded twice); {} when no dict comes out."""
    if isinstance(answer, dict):
        return answer
    if not isinstance(answer, str):
        return {}
    s = answer.strip()
    for parser in (json.loads, ast.literal_eval):
        try:
            value = parser(s) if len(s) <= 200_000 else None
        except Exception:  # both parsers raise many kinds on arbitrary text
            continue
        if isinstance(value, str):
            inner = value.strip()
            if inner and inner != s:
                for inner_parser in (json.loads, ast.literal_eval):
                    try:
                        value = inner_parser(inner)
                        break
                    except Exception:
                        continue
        if isinstance(value, dict):
            return value
    return {}


def _build_one(cls: type, name: str, args: dict):
    """A configured checker, or None when the release could not build it. Unknown arguments are dropped
    and the build retried, as the release does; a missing argument is drawn by IFEval."""
    try:
        checker = cls(name)
    except Exception:
        try:
            checker = cls()
        except Exception:
            return None
    try:
        checker.build_description(**args)
        return checker
    except TypeError:
        try:
            allowed = set(checker.get_instruction_args_keys() or ())
        except Exception:
            allowed = set()
        try:
            checker.build_description(**{k: v for k, v in args.items() if k in allowed})
            return checker
        except Exception:
            return None
    except Exception:
        return None


@lru_cache(maxsize=4096)
def _release_plan(answer: str, instruction_ids: bool, regex_sentences: bool):
    """(number of instructions, checkers (None: unbuildable; a tuple: rebuild per call), unknown names)."""
    payload = load_instruction_payload(answer)
    items = payload.get("instructions") if isinstance(payload, dict) else None
    if not isinstance(items, list | tuple) or not items:
        return 0, (), 0
    classes = release_classes(instruction_ids, regex_sentences)
    built, unknown = [], 0
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("class"), str) or not item["class"]:
            built.append(None)
            continue
        cls = classes.get(item["class"])
        if cls is None:
            unknown += 1
            built.append(None)
            continue
        args = item.get("args") if isinstance(item.get("args"), dict) else {}
        args = {k: v for k, v in args.items() if v is not None}
        checker = _build_one(cls, item["class"], args)
        try:
            keys = checker.get_instruction_args_keys() if checker is not None else []
        except Exception:
            keys = []
        # IFEval drew a missing value: the release draws anew at every call, so rebuild it each time.
        drawn = checker is not None and any(k not in args for k in keys or ())
        built.append((cls, item["class"], args) if drawn else checker)
    return len(items), tuple(built), unknown


def release_constraint_rate(response: str, answer: str, fix) -> tuple[float, tuple[str, ...]]:
    """(fraction of the payload's instructions followed, flags), as the release scores it."""
    total, built, unknown = _release_plan(
        answer if isinstance(answer, str) else str(answer),
        fix.ifeval_instruction_ids,
        fix.ifeval_regex_sentences,
    )
    if total == 0:
        return 0.0, ()
    flags = []
    if unknown:
        flags.append("ifeval_unknown_class")
    if not response.strip() or len(response) > _MAX_RESPONSE_CHARS:
        return 0.0, tuple(flags)
    followed = 0
    for entry in built:
        checker = _build_one(*entry) if isinstance(entry, tuple) else entry
        if checker is None:
            continue
        try:
            followed += bool(checker.check_following(response))
        except LookupError:
            if "ifeval_no_punkt" not in flags:
                flags.append("ifeval_no_punkt")
        except Exception:
            pass
    return followed / total, tuple(flags)


def check_instruction_gold(answer: str, *, need_instructions: bool = True) -> None:
    """Validate an instruction payload at load time: a JSON object (possibly encoded twice) whose
    "instructions" list names known checkers (by class or IFEval id). Missing arguments are allowed
    (IFEval draws them, as in the release); `need_instructions=False` allows a payload without the list
    (an instruction_following_llm_judge gold then grades by the judge only)."""
    payload = load_instruction_payload(answer)
    if not payload:
        raise ValueError(
            f"instruction ground truth {answer[:200]!r}: not a JSON object (nor one encoded twice)"
        )
    items = payload.get("instructions")
    if items is None and not need_instructions:
        return
    if not isinstance(items, list) or not items:
        raise ValueError(
            f"instruction ground truth {answer[:200]!r}: expected a non-empty 'instructions' list"
        )
    classes = release_classes(True, False)
    for i, item in enumerate(items):
        name = item.get("class") if isinstance(item, dict) else None
        if not isinstance(name, str) or name not in classes:
            raise ValueError(
                f"instruction ground truth {answer[:200]!r}: instruction {i}: no known checker {name!r}"
            )


def instruction_following_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """The fraction of the payload's instructions the graded answer follows."""
    return release_constraint_rate(pred, answer, ctx.fix)[0]
