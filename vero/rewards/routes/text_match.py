"""Exact-match routes: string_match / counting / search, multiple_choice, list_string_match."""

from __future__ import annotations

import logging
import string
from functools import lru_cache

from vero.rewards.routes.context import RouteContext
from vero.rewards.text import load_literal, normalize_text

_LETTERS = tuple(string.ascii_uppercase)


def check_text_gold(answer: str) -> None:
    if not isinstance(answer, str) or not normalize_text(answer):
        raise ValueError(f"the ground truth must be non-empty text, got {answer!r}")


def string_match_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """1 when prediction and ground truth are equal after `normalize_text`."""
    gold = normalize_text(answer)
    return 1.0 if gold and normalize_text(pred) == gold else 0.0


@lru_cache(maxsize=4096)
def gold_letter(answer: str) -> str:
    """The option letter of a multiple-choice ground truth (math-verify's A–Z string extraction), or the
    normalized answer itself when no letter can be read."""
    from math_verify import StringExtractionConfig, parse

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its "timeout disabled" notice: regex only here
    try:
        found = parse(
            answer, extraction_config=[StringExtractionConfig(strings=_LETTERS)], parsing_timeout=None
        )
    except Exception:
        found = []
    letters = [x for x in found if isinstance(x, str) and len(x) == 1]
    return normalize_text(letters[0]) if letters else normalize_text(answer)


def multiple_choice_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """The gold letter vs the normalized prediction: "(B)" and "b" match "B", "B. cat" does not."""
    gold = gold_letter(answer)
    return 1.0 if gold and normalize_text(pred) == gold else 0.0


@lru_cache(maxsize=4096)
def gold_items(answer: str) -> tuple[str, ...]:
    """Normalized synonyms: a JSON or Python list literal, or one plain string."""
    s = answer.strip()
    if s.startswith(("[", "(")):
        try:
            value = load_literal(s)
        except ValueError:
            value = None
        if isinstance(value, list | tuple):
            return tuple(n for n in (normalize_text(str(v)) for v in value if v is not None) if n)
    n = normalize_text(s)
    return (n,) if n else ()


def check_list_gold(answer: str) -> None:
    if not isinstance(answer, str) or not gold_items(answer):
        raise ValueError(f"list_string_match ground truth has no usable item: {answer!r}")


def list_string_match_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """1 when the prediction matches any synonym of the gold list."""
    return 1.0 if normalize_text(pred) in gold_items(answer) else 0.0
