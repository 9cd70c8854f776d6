"""Structured routes: number_list (orderings) and web_action (ACTION / MARK / VALUE)."""

from __future__ import annotations

import math
import re
from functools import lru_cache

from vero.rewards.routes.context import RouteContext
from vero.rewards.text import is_number, load_literal

_INT_RE = re.compile(r"-?\d+")
_MAX_INTS = 10_000


@lru_cache(maxsize=4096)
def gold_numbers(answer: str) -> tuple[int, ...]:
    return tuple(int(x) for x in _INT_RE.findall(answer))


def check_number_list_gold(answer: str) -> None:
    nums = gold_numbers(answer) if isinstance(answer, str) else ()
    if not nums:
        raise ValueError(f"number_list ground truth has no integers: {answer!r}")
    if len(set(nums)) != len(nums):
        raise ValueError(f"number_list ground truth repeats an item: {answer!r}")


def number_list_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """1 for the exact order; the same set in another order: 0.2 × fraction of positions right; else 0
    (any duplicate or a different set of integers)."""
    gold = gold_numbers(answer)
    found = _INT_RE.findall(pred, 0, len(pred)) if len(pred) < 200_000 else []
    if not gold or not found or len(found) > _MAX_INTS:
        return 0.0
    guess = tuple(int(x) for x in found)
    if guess == gold:
        return 1.0
    if len(guess) != len(gold) or len(set(guess)) != len(guess) or set(guess) != set(gold):
        return 0.0
    right = sum(a == b for a, b in zip(guess, gold, strict=True))
    return 0.2 * right / len(gold)


_FIELDS = ("ACTION", "MARK", "VALUE")


def _upper_keys(value: object) -> dict[str, object] | None:
    if not isinstance(value, dict):
        return None
    return {str(k).strip().upper(): v for k, v in value.items()}


def _is_none_value(v: object) -> bool:
    return v is None or (isinstance(v, str) and v.strip() in ("None", "none", "null", ""))


def _is_no_mark(v: object) -> bool:
    try:
        return float(str(v).strip()) == -1.0
    except ValueError:
        return False


@lru_cache(maxsize=4096)
def gold_action_fields(answer: str) -> tuple[tuple[str, object], ...]:
    """The gold fields that count: ACTION/MARK/VALUE present, skipping MARK = −1 and VALUE = None."""
    gold = _upper_keys(load_literal(answer))
    if gold is None:
        raise ValueError("web_action ground truth is not a JSON object")
    fields = []
    for key in _FIELDS:
        if key not in gold:
            continue
        v = gold[key]
        if (key == "MARK" and _is_no_mark(v)) or (key == "VALUE" and _is_none_value(v)) or v is None:
            continue
        fields.append((key, v))
    return tuple(fields)


def check_web_action_gold(answer: str) -> None:
    try:
        fields = gold_action_fields(answer)
    except ValueError as exc:
        raise ValueError(f"web_action ground truth {answer!r}: {exc}") from None
    if not fields:
        raise ValueError(f"web_action ground truth has none of ACTION/MARK/VALUE to grade: {answer!r}")


def _as_number(v: object) -> float | None:
    if is_number(v):
        return float(v)  # type: ignore[arg-type]
    if isinstance(v, str):
        try:
            x = float(v.strip())
        except ValueError:
            return None
        return x if math.isfinite(x) else None
    return None


def _same_value(gold: object, pred: object) -> bool:
    g, p = _as_number(gold), _as_number(pred)
    if g is not None and p is not None:
        return g == p
    return str(gold).strip() == str(pred).strip()


def web_action_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """Equal weight per graded gold field; keys case-insensitive, values as trimmed strings or numbers."""
    try:
        fields = gold_action_fields(answer)
        guess = _upper_keys(load_literal(pred))
    except (ValueError, TypeError):
        return 0.0
    if not fields or guess is None:
        return 0.0
    hits = sum(1 for key, v in fields if key in guess and _same_value(v, guess[key]))
    return hits / len(fields)
