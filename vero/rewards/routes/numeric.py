"""numeric: math-verify equivalence with an optional relative tolerance (through the worker pool)."""

from __future__ import annotations

from vero.rewards.mathverify_pool import get_pool
from vero.rewards.routes.context import RouteContext


def check_numeric_gold(answer: str) -> None:
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"numeric ground truth must be non-empty text, got {answer!r}")


def numeric_check(pred: str, answer: str, ctx: RouteContext) -> tuple[float, str | None]:
    """(score, reason) for a numeric prediction; reason says why a 0 is a 0."""
    if not pred.strip():
        return 0.0, "empty"
    tolerance = ctx.tolerance
    if tolerance is not None and not (tolerance >= 0):  # NaN or negative: treat as no tolerance
        tolerance = None
    try:
        return get_pool().check(answer, pred, tolerance, ctx.math_verify_timeout_s)
    except (ValueError, TypeError):
        return 0.0, "error"


def numeric_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """1 when math-verify finds the prediction equal to the ground truth (6-digit precision), or, with a
    per-sample tolerance, when |pred − gold| ≤ tol·|gold| (tol absolute when gold is 0)."""
    return numeric_check(pred, answer, ctx)[0]
