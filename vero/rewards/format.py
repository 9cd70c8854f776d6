"""Format reward R_fmt ∈ {0, 0.5, 1} (RECIPE.md §3)."""

from __future__ import annotations

from vero.rewards.text import Layout, boxed_contents, count_boxed, parse_layout
from vero.rewards.types import BOXED_REWARD_TYPES, SPATIAL_REWARD_TYPES


def format_from_layout(layout: Layout, reward_type: str) -> float:
    if not layout.ok or layout.answer is None:
        return 0.0
    if reward_type in BOXED_REWARD_TYPES:
        # Exactly one \boxed, and it is non-empty; any other count (0, 2, …) is a half-credit format.
        if count_boxed(layout.answer) != 1:
            return 0.5
        contents = boxed_contents(layout.answer)
        return 1.0 if len(contents) == 1 and contents[0].strip() else 0.5
    if reward_type in SPATIAL_REWARD_TYPES:
        return 0.5 if count_boxed(layout.answer) > 1 else 1.0
    return 1.0


def format_reward(completion: str, reward_type: str) -> float:
    """0 unless the output is exactly `<think>…</think><answer>…</answer>` with non-empty blocks; then 1,
    or 0.5 when a boxed type lacks exactly one non-empty `\\boxed{}` or a spatial type has several boxes."""
    if not isinstance(completion, str):
        return 0.0
    return format_from_layout(parse_layout(completion), reward_type)
