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
    clip: bool = False,
) -> float:
    """min(−(|y| − (L_max − B)) / B · λ, 0): zero until the last B tokens before L_max, then linear, −λ
    at L_max and on past it: the release (verl's vero_vllm_judge reward manager) applies the same line
    to every length, so with its L_max = 16,384 below the generation limit of 18,432 the penalty reaches
    −2.0. With `clip` (the `overlong_clip` correction) a length past L_max counts as L_max, so the
    penalty stays within [−λ, 0]. Zero when disabled or when either length is unknown."""
    if not enabled or completion_tokens is None or max_completion_tokens is None:
        return 0.0
    try:
        length = float(completion_tokens)
        limit = float(max_completion_tokens)
    except (TypeError, ValueError):
        return 0.0
    if not (math.isfinite(length) and math.isfinite(limit)) or buffer <= 0:
        return 0.0
    value = -((min(length, limit) if clip else length) - (limit - buffer)) / buffer * penalty
    return min(value, 0.0)
