"""Exact-match routes: string_match / counting / search, multiple_choice, list_string_match.

Source of the rules: the release's `_string_match_reward`, `_multiple_choice_reward` and
`_list_string_match_reward` (vero_reward/math_verify_reward_type_boxed.py @ 8c81e37).
"""

from __future__ import annotations

import ast
import json
import logging
import string
from functools import lru_cache

from vero.rewards.routes.context import RouteContext
from vero.rewards.text import normalize_release

_LETTERS = tuple(string.ascii_uppercase)


def check_text_gold(answer: str) -> None:
    if not isinstance(answer, str) or not normalize_release(answer):
        raise ValueError(f"the ground truth must be non-empty text, got {answer!r}")


def _equal(pred: str, gold: str, ctx: RouteContext) -> float:
    g = normalize_release(gold, casefold=ctx.fix.casefold)
    p = normalize_release(pred, casefold=ctx.fix.casefold)
    return 1.0 if g and p and g == p else 0.0


def string_match_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """1 when prediction and ground truth are equal after the release's normalization (both non-empty)."""
    return _equal(pred, answer, ctx)


@lru_cache(maxsize=4096)
def gold_letter(answer: str) -> str:
    """What a multiple-choice ground truth is compared as: the first value math-verify's A–Z string
    extraction reads from it, or the ground truth itself when it reads none."""
    from math_verify import StringExtractionConfig, parse

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its "timeout disabled" notice: regex only here
    try:
        found = parse(
            answer, extraction_config=[StringExtractionConfig(strings=_LETTERS)], parsing_timeout=None
        )
    except Exception:
        found = []
    return str(found[0]) if found else answer


def multiple_choice_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """The gold letter vs the prediction, both normalized: "(B)" and "b" match "B", "B. cat" does not."""
    return _equal(pred, gold_letter(answer), ctx)


@lru_cache(maxsize=4096)
def gold_items(answer: str, json_lists: bool = False) -> tuple[str, ...]:
    """The synonyms of a list_string_match gold: the items of a Python list, tuple or set literal (as
    text), else the stripped gold as one item. With `json_lists` (the `list_gold_json` correction) a
    JSON array is read first, its nulls dropped."""
    s = answer.strip()
    if not s:
        return ()
    if json_lists:
        try:
            value = json.loads(s)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, list):
            return tuple(str(v) for v in value if v is not None)
    try:
        value = ast.literal_eval(s) if len(s) <= 20_000 else None
    except Exception:  # literal_eval raises many kinds on arbitrary text
        value = None
    if isinstance(value, list | tuple | set):
        return tuple(str(v) for v in value)
    return (s,)


def check_list_gold(answer: str) -> None:
    if not isinstance(answer, str) or not any(normalize_release(i) for i in gold_items(answer)):
        raise ValueError(f"list_string_match ground truth has no usable item: {answer!r}")


def list_string_match_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """1 when the normalized prediction equals any normalized synonym of the gold list."""
    p = normalize_release(pred, casefold=ctx.fix.casefold)
    if not p:
        return 0.0
    items = gold_items(answer, ctx.fix.list_gold_json)
    return 1.0 if any(p == normalize_release(i, casefold=ctx.fix.casefold) for i in items) else 0.0
