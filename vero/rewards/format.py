"""Format reward R_fmt ∈ {0, 0.5, 1} (docs/recipe.md#4-reward), as the release computes it (see answer.py)."""

from __future__ import annotations

from vero.rewards.answer import format_score


def format_reward(completion: str, reward_type: str) -> float:
    """R_fmt = 1[layout] · (1 − ½·1[box count wrong]) ∈ {0, 0.5, 1}: 0 unless the output is exactly
    `<think>…</think>` whitespace `<answer>…</answer>` whitespace with non-empty blocks; then 1, or
    0.5 when a boxed type lacks exactly one non-empty `\\boxed{}` (an empty `\\text{}` box is
    empty) or a spatial type writes `\\boxed` more than once.

    Source: `format_reward` in vero-rl/vero_reward/math_verify_reward_type_boxed.py (release 8c81e37).

    >>> format_reward("<think>t</think> <answer>\\\\boxed{4}</answer>", "numeric")
    1.0
    >>> format_reward("<think>t</think><answer>4</answer>", "numeric"), format_reward("4", "numeric")
    (0.5, 0.0)
    """
    if not isinstance(completion, str):
        return 0.0
    return format_score(completion, reward_type)
