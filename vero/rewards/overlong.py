"""Soft overlong penalty R_overlong (RECIPE.md §3, DAPO-style)."""

from __future__ import annotations

import math


def overlong_penalty(
    completion_tokens: int | None,
    max_completion_tokens: int | None,
    *,
    buffer: int = 2048,
    penalty: float = 1.0,
    enabled: bool = True,
) -> float:
    """min(−(|y| − (L_max − B)) / B · λ, 0): zero until the last B tokens before L_max, then linear down
    to −λ at L_max. Zero when disabled or when either length is unknown. A length past L_max (a counting
    difference such as a trailing EOS token) is taken as L_max, so the penalty stays within [−λ, 0]."""
    if not enabled or completion_tokens is None or max_completion_tokens is None:
        return 0.0
    try:
        length = float(completion_tokens)
        limit = float(max_completion_tokens)
    except (TypeError, ValueError):
        return 0.0
    if not (math.isfinite(length) and math.isfinite(limit)) or buffer <= 0:
        return 0.0
    value = -(min(length, limit) - (limit - buffer)) / buffer * penalty
    return min(value, 0.0)
