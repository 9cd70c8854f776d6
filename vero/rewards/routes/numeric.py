"""numeric: the release's numeric grading (math-verify, optional relative tolerance), in a worker pool.

Source: `grade_numeric` in the release's vero_reward/math_verify_reward_type_boxed.py @ 8c81e37; the
worker side is `release_equivalent` in mathverify_worker.py.
"""

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
    pool = get_pool()
    try:
        result = pool.check(answer, pred, ctx.tolerance, ctx.math_verify_timeout_s, kind="release")
        if result[0] == 0.0 and ctx.fix.numeric_latex:
            latex = pool.check(answer, pred, ctx.tolerance, ctx.math_verify_timeout_s, kind="vero")
            if latex[0] == 1.0:
                return latex
        return result
    except (ValueError, TypeError):
        return 0.0, "error"


def numeric_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """1 when math-verify finds the prediction equal to the ground truth (6-digit precision), or, with a
    per-sample tolerance, when some value read from the prediction is within |p − g| ≤ tol·|g| of some
    value read from the gold (≤ tol when the gold is 0). With the `numeric_latex` correction, a prediction
    the release rejects is also compared with both sides read as LaTeX first (mathverify_worker.equivalent),
    so \\sqrt{4} = 2, 2^{3}+2 = 10 and identical matrices, sets and intervals match."""
    return numeric_check(pred, answer, ctx)[0]
