"""Structured routes: number_list (orderings) and web_action (ACTION / MARK / VALUE).

Source of the rules: the release's `_number_list_reward` and `_web_action_reward`
(vero_reward/math_verify_reward_type_boxed.py @ 8c81e37).
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from functools import lru_cache

from vero.rewards.routes.context import RouteContext
from vero.rewards.text import is_number

_INT_RE = re.compile(r"-?\d+")
_MAX_CHARS = 200_000


@lru_cache(maxsize=4096)
def gold_numbers(answer: str) -> tuple[int, ...]:
    """Every integer written in the gold, in order ("[3, 1, 2]" and "3, 1, 2" alike)."""
    return tuple(int(x) for x in _INT_RE.findall(answer))


def check_number_list_gold(answer: str) -> None:
    if not isinstance(answer, str) or not gold_numbers(answer):
        raise ValueError(f"number_list ground truth has no integers: {answer!r}")


def number_list_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """1 for the gold's order; the same numbers in another order: 0.2 × fraction of positions right;
    else 0. The release also gives 0 to any prediction with a repeated number, so a gold with repeats
    never scores; the `number_list_repeats` correction compares the numbers as a multiset instead."""
    gold = gold_numbers(answer)
    guess = tuple(int(x) for x in _INT_RE.findall(pred)) if len(pred) <= _MAX_CHARS else ()
    if not gold or not guess or len(guess) != len(gold):
        return 0.0
    if ctx.fix.number_list_repeats:
        if Counter(guess) != Counter(gold):
            return 0.0
    elif len(set(guess)) != len(gold) or sorted(guess) != sorted(gold):
        return 0.0
    if guess == gold:
        return 1.0
    return 0.2 * sum(a == b for a, b in zip(gold, guess, strict=True)) / len(gold)


def load_action(payload: object) -> dict[str, object]:
    """A web_action payload as a dict with upper-cased keys: JSON, else a Python literal; {} when the
    first parser that succeeds gives something other than a dict, or when neither parses."""
    if isinstance(payload, dict):
        return {str(k).upper(): v for k, v in payload.items()}
    if not isinstance(payload, str):
        return {}
    s = payload.strip()
    for parser in (json.loads, ast.literal_eval):
        try:
            value = parser(s) if len(s) <= _MAX_CHARS else None
        except Exception:  # both parsers raise many kinds on arbitrary text
            continue
        return {str(k).upper(): v for k, v in value.items()} if isinstance(value, dict) else {}
    return {}


def _skip_mark(v: object) -> bool:
    return v == -1 or (isinstance(v, str) and v.strip() == "-1")


def _skip_value(v: object) -> bool:
    return v is None or (isinstance(v, str) and v.strip().lower() == "none")


@lru_cache(maxsize=4096)
def gold_action_fields(answer: str) -> tuple[tuple[str, object], ...]:
    """The gold fields that count: ACTION, MARK unless it is −1, VALUE unless it is None/"None"."""
    gold = load_action(answer)
    out = []
    if "ACTION" in gold:
        out.append(("ACTION", gold["ACTION"]))
    if "MARK" in gold and not _skip_mark(gold["MARK"]):
        out.append(("MARK", gold["MARK"]))
    if "VALUE" in gold and not _skip_value(gold["VALUE"]):
        out.append(("VALUE", gold["VALUE"]))
    return tuple(out)


def check_web_action_gold(answer: str) -> None:
    if not isinstance(answer, str) or not gold_action_fields(answer):
        raise ValueError(f"web_action ground truth has none of ACTION/MARK/VALUE to grade: {answer!r}")


def _numeric(v: object) -> bool:
    return isinstance(v, int | float)  # bool included, as in the release


def same_action_value(gold: object, pred: object, numbers: bool = False) -> bool:
    """A number against a numeric string compares as numbers; anything else as trimmed `str()` text
    (so 12 and 12.0 differ, "12" vs "12.0" is text). `numbers` (the `web_action_numbers` correction)
    compares two numbers as numbers."""
    try:
        if _numeric(gold) and isinstance(pred, str):
            return float(gold) == float(pred)
        if isinstance(gold, str) and _numeric(pred):
            return float(gold) == float(pred)
    except (ValueError, OverflowError):
        pass
    if numbers and is_number(gold) and is_number(pred):
        return float(gold) == float(pred)
    return str(gold).strip() == str(pred).strip()


def web_action_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """Equal weight per graded gold field; keys case-insensitive."""
    fields = gold_action_fields(answer)
    guess = load_action(pred)
    if not fields or not guess:
        return 0.0
    numbers = ctx.fix.web_action_numbers
    hits = sum(1 for key, v in fields if key in guess and same_action_value(v, guess[key], numbers))
    return hits / len(fields)
