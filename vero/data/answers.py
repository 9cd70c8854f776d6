"""Which ground truths the data stage keeps: every form the release's reward can grade.

A gold is kept when the Vero release's reward for its `reward_type` can give some prediction a
positive accuracy, read the way that reward reads it (release `zlab-princeton/vero` at 8c81e37,
`vero-rl/vero_reward/math_verify_reward_type_boxed.py` and the `grounding_reward.py`,
`click_reward.py` it calls). Answers are never rewritten here: the verdict is about the text as
stored. Per reward type:

- string_match, counting, search, multiple_choice: the text has a letter or digit left after the
  release's normalization (its matcher compares normalized strings; a multiple-choice gold with no
  option letter in it is matched as text).
- numeric: it reads as a number (or a math-verify expression that verifies against itself).
- list_string_match: one of its items (a Python list/tuple/set literal, else the whole text) has a
  letter or digit.
- number_list: it holds at least one integer (`-?\\d+`, so `"2, 0, 1"` and `"[2, 0, 1]"` alike)
  and none twice.
- web_action: a JSON or Python dict with a gradable ACTION, MARK (not -1) or VALUE (not None).
- grounding: its first JSON array of objects has a `bbox_2d` of 4 numbers with positive area.
- clicking: the first such box is ordered (x1 <= x2, y1 <= y2) and overlaps the image (the
  release only reads a predicted point inside the image), so a click can land inside it.
- instruction_following: a dict (JSON or Python literal, possibly JSON-encoded twice) with a
  non-empty `instructions` list naming checkers; the names are looked up in the reward's own table
  (`vero.rewards.ifeval.release_classes`: the 76 classes of the release's library, and IFEval /
  IFEvalG instruction ids), and when none of them is there the row is `reward_rejects_gold`.
- instruction_following_llm_judge: as instruction_following; `reference` is optional (the
  release's judge is given the whole ground truth).
- llm_judge: any non-empty text.

A gold kept here is then checked by this project's reward (`vero.rewards.check_ground_truth`); one
it cannot grade is dropped as `reward_rejects_gold`, so a disagreement between the two rewards
shows in the report instead of hiding among malformed answers.

Two forms the release grades change a reward's meaning, so they are dropped under their own reason
codes instead of being kept:

- `ifeval_args_missing`: an IFEval instruction without an argument its checker takes, or with one
  its checker replaces by a random draw (the release tests most arguments with `not`, so a 0 is
  drawn too: `vero.rewards.ifeval.instruction_status` says "drawn"). The release (like IFEval) then
  draws the argument at random each time it builds the checker, i.e. on every reward call, so the
  constraint graded is not the one the prompt states.
- `tolerance_invalid`: a numeric gold whose tolerance is NaN or infinite. The release's relative
  comparison `|pred - gold| <= tol * |gold|` is then false for every prediction (NaN) or true for
  every one (inf). A negative tolerance is ignored by the release (exact comparison) and is kept.
"""

from __future__ import annotations

import ast
import json
import math
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

ANSWER_INVALID = "answer_invalid"
REWARD_REJECTS_GOLD = "reward_rejects_gold"
IFEVAL_ARGS_MISSING = "ifeval_args_missing"
TOLERANCE_INVALID = "tolerance_invalid"

TEXT_TYPES = frozenset({"string_match", "counting", "search", "multiple_choice"})
_WORD_CHAR = re.compile(r"[^\W_]")
_INTEGER = re.compile(r"-?\d+")
_BOX_BLOCK = re.compile(r"```(?:json)?\s*(\[.*?\])\s*```", re.DOTALL)
_BOX_ARRAY = re.compile(r"\[\s*\{.*?\}\s*\]", re.DOTALL)
_MAX_ANSWER_CHARS = 200_000

Verdict = tuple[str, str] | None


def effective_tolerance(tolerance: Any) -> float | None:
    """The tolerance the release's numeric reward uses: None when missing, not a number or negative."""
    if tolerance is None:
        return None
    try:
        value = float(tolerance)
    except (TypeError, ValueError):
        return None
    return None if value < 0 else value


def has_word_character(text: str) -> bool:
    """True when a letter or digit survives NFKC, accent stripping and punctuation removal: the
    release's string matcher gives 0 to a gold that normalizes to nothing."""
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text))
    return bool(_WORD_CHAR.search("".join(c for c in folded if unicodedata.category(c) != "Mn")))


def load_dict_payload(text: str, *, decode_twice: bool) -> dict | None:
    """A dict from JSON or a Python literal; with `decode_twice`, a JSON string holding one is read
    once more (an IFEval payload encoded twice). None when nothing reads as a dict."""
    text = text.strip()
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if decode_twice and isinstance(value, str) and value.strip() and value.strip() != text:
            inner = value.strip()
            for parse_inner in (json.loads, ast.literal_eval):
                try:
                    value = parse_inner(inner)
                    break
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    continue
        if isinstance(value, dict):
            return value
    return None


def list_items(text: str) -> list[str]:
    """Synonyms of a list_string_match gold: a Python list/tuple/set literal's items, else the text."""
    text = text.strip()
    if not text:
        return []
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return [text]
    return [str(v) for v in value] if isinstance(value, list | tuple | set) else [text]


def gold_boxes(text: str) -> list[tuple[float, float, float, float]]:
    """Boxes of a grounding/clicking gold: the first fenced or bare JSON array of objects, items with
    a `bbox_2d` of 4 numbers (numeric strings count), in order; others are skipped."""
    parsed = None
    for pattern in (_BOX_BLOCK, _BOX_ARRAY):
        m = pattern.search(text)
        if m:
            try:
                parsed = json.loads(m.group(1) if pattern is _BOX_BLOCK else m.group(0))
                break
            except (ValueError, RecursionError):
                continue
    boxes = []
    for item in parsed if isinstance(parsed, list) else []:
        box = item.get("bbox_2d") if isinstance(item, dict) else None
        if not isinstance(box, list) or len(box) != 4:
            continue
        try:
            x1, y1, x2, y2 = (float(v) for v in box)
        except (TypeError, ValueError):
            continue
        boxes.append((x1, y1, x2, y2))
    return boxes


def _finite(box: tuple[float, ...]) -> bool:
    return all(math.isfinite(v) for v in box)


@lru_cache(maxsize=1)
def _ifeval_classes() -> dict[str, type]:
    """The checkers the reward knows, by class name and by IFEval instruction id (raises ImportError
    only when lm-eval's IFEval modules are absent)."""
    from vero.rewards.ifeval import release_classes

    return release_classes(instruction_ids=True, regex_sentences=False)


@lru_cache(maxsize=1024)
def _checker_arg_keys(name: str) -> tuple[str, ...] | None:
    """The argument names the IFEval checker `name` takes (None when it cannot be built)."""
    try:
        keys = _ifeval_classes()[name](name).get_instruction_args_keys()
    except Exception:
        return None
    return tuple(keys or ())


def instructions_verdict(payload: dict | None) -> Verdict:
    if payload is None:
        return ANSWER_INVALID, 'expected a dict {"instructions": [...]} (JSON or Python literal)'
    items = payload.get("instructions")
    if not isinstance(items, list | tuple) or not items:
        return ANSWER_INVALID, "'instructions' must be a non-empty list"
    try:
        known = _ifeval_classes()
    except ImportError:  # the IFEval checkers are not installed: judge the structure only
        known = None
    named, usable = [], 0
    for i, item in enumerate(items):
        name = item.get("class") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            continue
        named.append(name)
        if known is not None and name not in known:
            continue
        usable += 1
        args = item.get("args")
        given = {k: v for k, v in args.items() if v is not None} if isinstance(args, dict) else {}
        keys = _checker_arg_keys(name) if known is not None else ()
        missing = [k for k in keys or () if k not in given]
        if missing:
            return IFEVAL_ARGS_MISSING, (
                f"instruction {i} ({name}) lacks {missing}: the release's checker would draw them at random"
                " or could not be built"
            )
        if known is not None and _instruction_status(name, given) == "drawn":
            return IFEVAL_ARGS_MISSING, (
                f"instruction {i} ({name}): the release's checker draws a value at random for {given}"
                " (an argument it tests with `not`, such as 0), anew at every call"
            )
    if not named:
        return ANSWER_INVALID, "no instruction names an IFEval checker ('class')"
    if not usable:
        return REWARD_REJECTS_GOLD, f"none of the IFEval checkers {named[:5]} is one of this project's"
    return None


def _instruction_status(name: str, args: dict) -> str:
    from vero.rewards.ifeval import instruction_status

    return instruction_status(name, args)


def web_action_verdict(text: str) -> Verdict:
    payload = load_dict_payload(text, decode_twice=False)
    if payload is None:
        return ANSWER_INVALID, "expected a JSON or Python dict with ACTION / MARK / VALUE"
    fields = {str(k).upper(): v for k, v in payload.items()}
    gradable = "ACTION" in fields
    mark = fields.get("MARK")
    gradable |= "MARK" in fields and not (mark == -1 or (isinstance(mark, str) and mark.strip() == "-1"))
    value = fields.get("VALUE")
    gradable |= "VALUE" in fields and not (
        value is None or (isinstance(value, str) and value.strip().lower() == "none")
    )
    return None if gradable else (ANSWER_INVALID, "none of ACTION, MARK (not -1) or VALUE (not None)")


def answer_verdict(
    reward_type: str, answer: str, tolerance: Any = None, image_size: Sequence[int] | None = None
) -> Verdict:
    """(reason code, detail) when `answer` is not kept for `reward_type`, else None.

    `reward_type` must be one of `vero.rewards.REWARD_TYPES`; `tolerance` is the stored value;
    `image_size` (w, h) of the first image, when known, bounds where a click can land.
    """
    if not isinstance(answer, str) or not answer.strip():
        return ANSWER_INVALID, "empty answer"
    if len(answer) > _MAX_ANSWER_CHARS:
        return ANSWER_INVALID, f"answer of {len(answer)} characters"
    text = answer.strip()
    if reward_type in TEXT_TYPES:
        return None if has_word_character(text) else (ANSWER_INVALID, f"{text[:80]!r} has no letter or digit")
    if reward_type == "llm_judge":
        return None
    if reward_type == "numeric":
        tol = effective_tolerance(tolerance)
        if tol is not None and not math.isfinite(tol):
            return TOLERANCE_INVALID, f"tolerance {tolerance!r} scores every prediction alike"
        from vero.data.schema import numeric_answer_ok

        return (
            None if numeric_answer_ok(text) else (ANSWER_INVALID, f"{text[:80]!r} does not read as a number")
        )
    if reward_type == "list_string_match":
        ok = any(has_word_character(item) for item in list_items(text))
        return None if ok else (ANSWER_INVALID, "no list item has a letter or digit")
    if reward_type == "number_list":
        numbers = [int(v) for v in _INTEGER.findall(text)]
        if not numbers:
            return ANSWER_INVALID, f"{text[:80]!r} holds no integer"
        if len(set(numbers)) != len(numbers):
            return ANSWER_INVALID, f"{numbers[:20]} repeats an item: no ordering of distinct items matches"
        return None
    if reward_type == "web_action":
        return web_action_verdict(text)
    if reward_type == "grounding":
        ok = any(_finite(b) and b[2] > b[0] and b[3] > b[1] for b in gold_boxes(text))
        return None if ok else (ANSWER_INVALID, "no bbox_2d [x1, y1, x2, y2] with positive area")
    if reward_type == "clicking":
        boxes = gold_boxes(text)
        if not boxes or not _finite(boxes[0]) or boxes[0][0] > boxes[0][2] or boxes[0][1] > boxes[0][3]:
            return ANSWER_INVALID, "the first bbox_2d is missing or not x1 <= x2, y1 <= y2"
        x1, y1, x2, y2 = boxes[0]
        if image_size and len(image_size) == 2 and all(v > 0 for v in image_size):
            w, h = image_size
            if max(x1, 0) > min(x2, w) or max(y1, 0) > min(y2, h):
                return ANSWER_INVALID, f"the first bbox_2d {list(boxes[0])} lies outside the {w}x{h} image"
        return None
    if reward_type in ("instruction_following", "instruction_following_llm_judge"):
        return instructions_verdict(load_dict_payload(text, decode_twice=True))
    return ANSWER_INVALID, f"no answer rule for reward_type {reward_type!r}"
