"""Exact values of simple closed-form answers, so most numeric rewards need no symbolic engine.

Covers what numeric answers usually are: integers and decimals, fractions (`\\frac{a}{b}`, `\\dfrac`,
`\\tfrac`, `a/b`), square roots with a coefficient (`3\\sqrt{2}`, `\\frac{\\sqrt{3}}{2}`), with a sign.
`closed_form_decision` answers only when the outcome is certain under math-verify's rules (equal exact
values, or values too far apart for its 6-digit rounding); anything else goes to math-verify. Tests
check its decisions against math-verify itself.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)"
_NUM_RE = re.compile(_NUM)
_SLASH_RE = re.compile(rf"({_NUM})\s*/\s*({_NUM})")
_SQRT_RE = re.compile(rf"({_NUM})?\s*(?:\\cdot|\\times|\*)?\s*\\sqrt\s*\{{\s*({_NUM})\s*\}}")
_FRAC_RE = re.compile(r"\\[dt]?frac\s*\{((?:[^{}]|\{[^{}]*\})*)\}\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_MAX_CHARS = 64
_MAX_DIGITS = 30


class Value:
    """A real value: `exact` is a Fraction when the value is rational, else None (it has a √)."""

    __slots__ = ("approx", "exact")

    def __init__(self, exact: Fraction | None, approx: float) -> None:
        self.exact = exact
        self.approx = approx


def _number(text: str) -> Value | None:
    if len(text) > _MAX_DIGITS:
        return None
    try:
        f = Fraction(Decimal(text))
    except (InvalidOperation, ValueError):
        return None
    return Value(f, float(f))


def _term(s: str, depth: int = 0) -> Value | None:
    if _NUM_RE.fullmatch(s):
        return _number(s)
    m = _SLASH_RE.fullmatch(s)
    if m:
        a, b = _number(m.group(1)), _number(m.group(2))
        if a is None or b is None or b.exact == 0:
            return None
        q = a.exact / b.exact
        return Value(q, float(q))
    m = _SQRT_RE.fullmatch(s)
    if m:
        coef = _number(m.group(1)) if m.group(1) else Value(Fraction(1), 1.0)
        radicand = _number(m.group(2))
        if coef is None or radicand is None:
            return None
        root = math.isqrt(int(radicand.exact)) if radicand.exact.denominator == 1 else None
        if root is not None and root * root == radicand.exact:  # a perfect square: still rational
            q = coef.exact * root
            return Value(q, float(q))
        return Value(None, coef.approx * math.sqrt(radicand.approx))
    m = _FRAC_RE.fullmatch(s)
    if m and depth == 0:
        num, den = _term(m.group(1).strip(), 1), _term(m.group(2).strip(), 1)
        if num is None or den is None or den.approx == 0:
            return None
        if num.exact is not None and den.exact is not None:
            q = num.exact / den.exact
            return Value(q, float(q))
        return Value(None, num.approx / den.approx)
    return None


@lru_cache(maxsize=16384)
def closed_form_value(text: str) -> Value | None:
    """The value of a simple closed-form answer, or None when the text is anything else."""
    s = text.strip()
    if not s or len(s) > _MAX_CHARS:
        return None
    sign = 1
    if s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:].lstrip()
    v = _term(s)
    if v is None or not math.isfinite(v.approx):
        return None
    return Value(None if v.exact is None else sign * v.exact, sign * v.approx)


def _clearly_different(a: float, b: float) -> bool:
    diff = abs(a - b)
    return diff > 1e-4 * max(abs(a), abs(b)) and diff > 1e-5


def closed_form_decision(gold: str, pred: str, tolerance: float | None) -> float | None:
    """1.0 or 0.0 when both sides are simple closed forms and the outcome is certain, else None."""
    g, p = closed_form_value(gold), closed_form_value(pred)
    if g is None or p is None:
        return None
    if g.exact is not None and p.exact is not None and g.exact == p.exact:
        return 1.0
    # Irrational values: equal to double precision means the same surd (a√b = √(a²b)).
    irrational = g.exact is None or p.exact is None
    if irrational and abs(g.approx - p.approx) <= 1e-12 * max(abs(g.approx), abs(p.approx)):
        return 1.0
    if tolerance is not None:
        bound = abs(tolerance * g.approx) if g.approx != 0 else abs(tolerance)
        if abs(p.approx - g.approx) <= bound * (1 + 1e-9):  # inclusive, despite float rounding
            return 1.0
    return 0.0 if _clearly_different(g.approx, p.approx) else None
