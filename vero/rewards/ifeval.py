"""instruction_following: the fraction of IFEval constraints a response satisfies.

The constraint checkers are lm-eval's IFEval implementation. A sample's ground truth names them by class
(or by IFEval instruction id, e.g. "length_constraints:number_words") with the keyword arguments of
`build_description`:
`{"instructions": [{"class": "NumberOfWords", "args": {"num_words": 50, "relation": "at least"}}]}`.
Every argument the checker takes must be given (IFEval would otherwise draw a random one).

Offline safety: lm-eval's IFEval utilities try to download nltk's `punkt_tab` at import and call the punkt
sentence tokenizer in two places. When the punkt data is not installed we (1) skip the download attempt
(no network call, no stray output), (2) count sentences with lm-eval's own regex splitter
`split_into_sentences`, and (3) tokenize words with nltk's Treebank tokenizer without the punkt sentence
pass (`preserve_line=True`). With the punkt data installed, lm-eval's original functions are used.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import types
from functools import lru_cache
from typing import TYPE_CHECKING

from vero.rewards.text import load_literal

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


@lru_cache(maxsize=1)
def instruction_classes() -> dict[str, type]:
    """IFEval checker classes by class name (e.g. "NumberOfWords") and by IFEval instruction id
    (e.g. "length_constraints:number_words"): a ground truth may name a checker either way."""
    instructions, registry, _ = _ifeval_modules()
    classes = {cls.__name__: cls for cls in registry.INSTRUCTION_DICT.values()}
    classes.update(registry.INSTRUCTION_DICT)
    for name, obj in vars(instructions).items():
        if (
            inspect.isclass(obj)
            and issubclass(obj, instructions.Instruction)
            and obj is not instructions.Instruction
        ):
            classes.setdefault(name, obj)
    return classes


def parse_instruction_gold(answer: str | dict) -> list[dict]:
    """The list of {"class", "args"} entries of an instruction-following ground truth (validated)."""
    payload = load_literal(answer) if isinstance(answer, str) else answer
    if not isinstance(payload, dict) or not isinstance(payload.get("instructions"), list):
        raise ValueError('expected {"instructions": [{"class": <IFEval class name>, "args": {...}}, ...]}')
    items = payload["instructions"]
    if not items:
        raise ValueError("the instruction list is empty")
    known = instruction_classes()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("class"), str):
            raise ValueError(f"instruction {i} has no 'class' name")
        if item["class"] not in known:
            raise ValueError(f"instruction {i}: unknown IFEval class {item['class']!r}")
        if not isinstance(item.get("args", {}), dict):
            raise ValueError(f"instruction {i}: 'args' must be an object")
    return items


@lru_cache(maxsize=4096)
def build_checkers(answer: str) -> tuple:
    """Instantiate and configure the checkers of a ground truth; raises ValueError naming the problem."""
    checkers = []
    for i, item in enumerate(parse_instruction_gold(answer)):
        cls = instruction_classes()[item["class"]]
        args = {k: v for k, v in (item.get("args") or {}).items() if v is not None}
        checker = cls(item["class"])
        try:
            checker.build_description(**args)
        except TypeError as exc:
            raise ValueError(f"instruction {i} ({item['class']}): bad args {args!r}: {exc}") from None
        # Missing args make IFEval pick random values: a ground truth must spell out every argument.
        missing = [k for k in (checker.get_instruction_args_keys() or []) if k not in args]
        if missing:
            raise ValueError(f"instruction {i} ({item['class']}): missing args {missing}")
        checkers.append(checker)
    return tuple(checkers)


def check_instruction_gold(answer: str) -> None:
    try:
        build_checkers(answer)
    except ValueError as exc:
        raise ValueError(f"instruction_following ground truth {answer[:200]!r}: {exc}") from None


def constraint_rate(response: str, answer: str) -> float:
    """Fraction of the ground truth's constraints the response follows (a checker error counts as not)."""
    try:
        checkers = build_checkers(answer)
    except ValueError:
        return 0.0
    if not checkers or len(response) > _MAX_RESPONSE_CHARS:
        return 0.0
    followed = 0
    for checker in checkers:
        with contextlib.suppress(Exception):
            followed += bool(response.strip()) and bool(checker.check_following(response))
    return followed / len(checkers)


def instruction_following_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """The constraint rate of the graded answer text."""
    return constraint_rate(pred, answer)
