"""Format reward R_fmt ∈ {0, 0.5, 1} (RECIPE.md §3), as the release computes it (see answer.py)."""

from __future__ import annotations

from vero.rewards.answer import format_score


def format_reward(completion: str, reward_type: str) -> float:
    """0 unless the output is exactly `<think>…</think>` whitespace `<answer>…</answer>` whitespace with
    non-empty blocks; then 1, or 0.5 when a boxed type lacks exactly one non-empty `\\boxed{}` (an empty
    `\\text{}` box is empty) or a spatial type writes `\\boxed` more than once."""
    if not isinstance(completion, str):
        return 0.0
    return format_score(completion, reward_type)
