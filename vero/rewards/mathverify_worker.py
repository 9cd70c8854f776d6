"""math-verify equivalence, run in a worker process (see mathverify_pool.py).

This file is executed by path (`python mathverify_worker.py READ_FD WRITE_FD`) so the worker imports only
the standard library and math-verify, not the whole `vero.rewards` package. math-verify's own timeouts use
`signal.alarm` in whole seconds and only work on a main thread; here the worker's main thread arms a
sub-second `setitimer` deadline instead, and the parent kills the process if even that does not fire
(a computation stuck inside C code).
"""

from __future__ import annotations

import logging
import math
import re
import signal
import sys
from functools import lru_cache


class Deadline(BaseException):
    """The soft per-call deadline fired."""


def _on_alarm(signum, frame):
    raise Deadline()


def _quiet_math_verify() -> None:
    # parse/verify run with their own timeouts disabled (we keep the deadline); silence that notice.
    for name in ("math_verify", "math_verify.parser", "math_verify.grader", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _parse(text: str) -> list:
    from math_verify import parse

    # LaTeX first (wrapped in $…$ so bare \frac12 or \pi parse), plain expressions only when LaTeX gives
    # nothing symbolic: the plain extractor reads "2\sqrt{3}" as 2, which would be a false match.
    latex = parse(f"${text}$", parsing_timeout=None)
    if any(not isinstance(x, str) for x in latex):
        return latex
    plain = parse(text, parsing_timeout=None)
    return plain or latex


@lru_cache(maxsize=8192)
def _parse_gold(text: str) -> list:
    return _parse(text)


def _as_float(parsed: list) -> float | None:
    for item in parsed:
        if isinstance(item, str):
            continue
        try:
            value = complex(item.evalf())
        except Exception:
            continue
        if value.imag == 0 and math.isfinite(value.real):
            return value.real
    return None


def equivalent(gold: str, pred: str, tolerance: float | None) -> tuple[float, str | None]:
    """(1.0, None) when math-verify finds pred equal to gold (or within the relative tolerance), else
    (0.0, reason) with reason one of unparsed_gold, unparsed_pred, mismatch."""
    from math_verify import verify

    gold_parsed = _parse_gold(gold)
    if not gold_parsed:
        return 0.0, "unparsed_gold"
    pred_parsed = _parse(pred)
    if not pred_parsed:
        return 0.0, "unparsed_pred"
    g, p = _closed_form_value(gold_parsed), _closed_form_value(pred_parsed)
    if g is not None and p is not None:
        if tolerance is not None:
            bound = abs(tolerance * g) if g != 0 else abs(tolerance)
            if abs(p - g) <= bound:
                return 1.0, None
        # Two closed-form numbers far apart: verify would only spend tens of ms in sympy's simplify
        # to say no. Differences within reach of its 6-digit rounding still go to verify.
        if _clearly_different(g, p):
            return 0.0, "mismatch"
    if verify(gold_parsed, pred_parsed, timeout_seconds=None):
        return 1.0, None
    if tolerance is not None and g is None:
        g, p = _as_float(gold_parsed), _as_float(pred_parsed)
        if g is not None and p is not None:
            bound = abs(tolerance * g) if g != 0 else abs(tolerance)
            if abs(p - g) <= bound:
                return 1.0, None
    return 0.0, "mismatch"


def _closed_form_value(parsed: list) -> float | None:
    """The value of the first parsed item when it is a plain real number expression (no symbols, not a
    relation, set or matrix); None otherwise."""
    from sympy import Expr

    for item in parsed:
        if isinstance(item, str):
            continue
        if not isinstance(item, Expr) or not item.is_number:
            return None
        try:
            value = complex(item.evalf(20))
        except Exception:
            return None
        if value.imag != 0 or not math.isfinite(value.real):
            return None
        return value.real
    return None


def _clearly_different(a: float, b: float) -> bool:
    diff = abs(a - b)
    return diff > 1e-4 * max(abs(a), abs(b)) and diff > 1e-5


# --- the release's numeric grading (vero_reward/math_verify_reward_type_boxed.py::grade_numeric) ---------
# Both sides are parsed with LaTeX extraction (boxed first) then plain-expression extraction. Without a
# tolerance, math-verify's verify decides (6-digit float rounding, strict, no set relations). With one,
# every real value readable from either side counts: the text itself as a Python float or a sympy
# expression, and each parsed item the same way; a pair within |p − g| ≤ tol·|g| (≤ tol when |g| ≤ 1e-12)
# matches.

# sympify evaluates Python; text that could reach anything but arithmetic is not handed to it.
_UNSAFE = re.compile(
    r"__|\b(?:import|lambda|eval|exec|open|compile|globals|locals|getattr|setattr|delattr|vars|input|breakpoint|exit|quit|os|sys)\b|[;`@$\n]"
)


@lru_cache(maxsize=1)
def _release_targets() -> list:
    from math_verify.parser import ExprExtractionConfig, LatexExtractionConfig

    return [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]


@lru_cache(maxsize=8192)
def _release_parse(text: str) -> tuple:
    from math_verify import parse

    return tuple(parse(text, _release_targets(), parsing_timeout=None))


def _real(value) -> float | None:
    try:
        return float(value)
    except Exception:
        pass
    try:
        import sympy

        if isinstance(value, str) and (_UNSAFE.search(value) or len(value) > 1000):
            return None
        expr = sympy.sympify(value)
        if expr.is_real or expr.is_number:
            return float(expr.evalf())
    except Exception:
        pass
    return None


def _candidates(text: str) -> list[float]:
    found = [_real(text), *(_real(v) for v in _release_parse(text))]
    out: list[float] = []
    for v in found:
        if v is not None and not any(abs(v - u) <= 1e-12 for u in out):
            out.append(v)
    return out


def release_equivalent(gold: str, pred: str, tolerance: float | None) -> tuple[float, str | None]:
    """(1.0, None) when the release's numeric grading accepts pred for gold, else (0.0, reason)."""
    if tolerance is not None:
        golds, preds = _candidates(gold), _candidates(pred)
        if not golds:
            return 0.0, "unparsed_gold"
        if not preds:
            return 0.0, "unparsed_pred"
        for g in golds:
            for p in preds:
                diff = abs(g - p)
                if (diff <= tolerance) if abs(g) <= 1e-12 else (diff <= tolerance * abs(g)):
                    return 1.0, None
        return 0.0, "mismatch"
    from math_verify import verify

    g, p = _release_parse(gold), _release_parse(pred)
    try:
        ok = verify(
            list(g),
            list(p),
            float_rounding=6,
            strict=True,
            allow_set_relation_comp=False,
            timeout_seconds=None,
        )
    except Exception:
        return 0.0, "error"
    return (1.0, None) if ok else (0.0, "mismatch")


def guarded(
    gold: str, pred: str, tolerance: float | None, deadline_s: float, kind: str = "vero"
) -> tuple[float, str | None]:
    """`equivalent` (or `release_equivalent`) under a wall-clock deadline, on the process's main thread."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, deadline_s)
    try:
        if kind == "release":
            return release_equivalent(gold, pred, tolerance)
        return equivalent(gold, pred, tolerance)
    except Deadline:
        return 0.0, "timeout"
    except RecursionError:
        return 0.0, "error"
    except Exception:
        return 0.0, "error"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def serve(read_fd: int, write_fd: int) -> None:
    from multiprocessing.connection import Connection

    _quiet_math_verify()
    import math_verify  # noqa: F401 - import before saying ready, so the first call is not slowed by it

    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    outbox.send("ready")
    while True:
        try:
            msg = inbox.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        gold, pred, tolerance, deadline_s, kind = msg if len(msg) == 5 else (*msg, "vero")
        try:
            result = guarded(gold, pred, tolerance, deadline_s, kind)
        except Deadline:  # fired between the call's end and disarming the timer
            result = (0.0, "timeout")
        outbox.send(result)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
