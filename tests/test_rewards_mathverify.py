"""The math-verify worker pool: deadlines, a stuck worker replaced, threads, and the plain-number shortcut
agreeing with math-verify itself."""

from __future__ import annotations

import os
import signal
import threading
import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vero.rewards import compute_reward
from vero.rewards.closed_form import closed_form_decision
from vero.rewards.mathverify_pool import MathVerifyPool, too_costly
from vero.rewards.mathverify_worker import equivalent


@pytest.fixture(scope="module")
def pool():
    p = MathVerifyPool(workers=1)
    yield p
    p.close()


def test_pool_answers_and_explains_zeros(pool):
    assert pool.check(r"\frac{1}{2}", "0.5", None, 5.0) == (1.0, None)
    assert pool.check("7", r"\frac{1}{2}", None, 5.0) == (0.0, "mismatch")
    assert pool.check("7", "(x+1)^{2000}", None, 5.0) == (0.0, "too_costly")  # refused before any work


def test_soft_deadline_interrupts_a_slow_expansion(pool):
    # Bypass the up-front refusal to reach the worker's own deadline with a known slow input.
    start = time.perf_counter()
    score, reason = pool._ask_worker("1", "(x+1)^{2000}", None, 0.5)
    elapsed = time.perf_counter() - start
    assert (score, reason) == (0.0, "timeout")
    assert elapsed < 5.0  # deadline 0.5 s + grace 0.5 s, generous for a loaded machine
    assert pool.check("2", "1+1", None, 5.0) == (1.0, None)  # the worker still serves


def test_a_stuck_worker_is_killed_and_replaced(pool):
    worker = pool._all[0]
    os.kill(worker.proc.pid, signal.SIGSTOP)  # frozen like a call stuck inside C code
    respawns = pool.stats["respawns"]
    start = time.perf_counter()
    assert pool._ask_worker("3", "2+1", None, 0.3) == (0.0, "timeout")
    assert time.perf_counter() - start < 5.0
    assert pool.stats["respawns"] == respawns + 1
    assert worker.proc.poll() is not None  # the old one is gone
    assert pool.check("4", "2+2", None, 5.0) == (1.0, None)  # a fresh worker answers


def test_pool_works_from_threads(pool):
    # math-verify alone raises off the main thread (signal.alarm); through the pool it does not.
    results = []

    def work(i):
        results.append(pool.check(f"\\frac{{{i}}}{{3}}", f"{i}/3", None, 5.0)[0])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [1.0] * 8


def test_compute_reward_numeric_from_a_thread():
    out = {}
    completion = "<think>t</think><answer>\\boxed{2\\sqrt{3}}</answer>"

    def work():
        out["r"] = compute_reward(completion, reward_type="numeric", answer=r"\sqrt{12}")

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert out["r"].total == 1.0


@pytest.mark.parametrize(
    ("pred", "costly"),
    [
        ("12", False),
        ("x^2 + 1", False),
        ("2^{10}", False),
        ("(x+1)^{2000}", True),
        ("2**999", True),
        ("100!", True),
        (r"\frac{\sqrt{2}}{(1+x)}", False),
        ("{" * 40 + "1" + "}" * 40, True),  # nesting the LaTeX parser recurses through
    ],
)
def test_too_costly(pred, costly):
    assert too_costly(pred) is costly
    assert too_costly("1" * 5000)


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        (r"184\sqrt{2}", r"184\sqrt{3}", 0.0),  # far apart: decided without sympy's simplify
        (r"2\sqrt{2}", r"\sqrt{8}", 1.0),
        (r"\frac{1}{3}", "0.333333", 1.0),  # close: math-verify's rounding decides
        (r"\pi", "3.14", 0.0),
        ("x=2", "2", 1.0),  # not a plain number: math-verify decides
    ],
)
def test_worker_equivalence(gold, pred, expected):
    assert equivalent(gold, pred, None)[0] == expected


@pytest.mark.parametrize(
    ("gold", "pred", "tolerance", "expected"),
    [
        ("3", "3.0", None, 1.0),
        ("3", "4", None, 0.0),
        ("100", "104", 0.05, 1.0),
        ("3", "3.15", 0.05, 1.0),  # inclusive bound
        ("0.5", "1/2", None, 1.0),
        ("13", r"\frac{104}{8}", None, 1.0),
        (r"\frac{1}{2}", r"\dfrac{2}{4}", None, 1.0),
        (r"2\sqrt{2}", r"\sqrt{8}", None, 1.0),
        (r"\frac{\sqrt{3}}{2}", r"\frac{\sqrt{12}}{4}", None, 1.0),
        ("-3", "3", None, 0.0),
        ("6", r"\sqrt{36}", None, 1.0),
        (r"184\sqrt{2}", r"184\sqrt{3}", None, 0.0),
        ("0.3333333", "0.333333", None, None),  # within math-verify's rounding: it decides
        ("1/3", "0.333333", None, None),
        ("1,000", "1000", None, None),  # not a simple closed form: math-verify decides
        ("x", "1", None, None),
    ],
)
def test_closed_form_decision(gold, pred, tolerance, expected):
    assert closed_form_decision(gold, pred, tolerance) == expected


_decimal_text = st.decimals(
    min_value=Decimal("-1e7"), max_value=Decimal("1e7"), allow_nan=False, allow_infinity=False, places=None
).map(lambda d: format(d.normalize(), "f"))


def _math_verify(gold: str, pred: str) -> float:
    from math_verify import parse, verify

    g = parse(f"${gold}$", parsing_timeout=None)
    p = parse(f"${pred}$", parsing_timeout=None)
    return float(verify(g, p, timeout_seconds=None))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gold=_decimal_text, delta=st.sampled_from(["0", "1e-7", "1e-6", "1e-5", "1e-3", "0.5", "1", "1000"]))
def test_decimal_shortcut_agrees_with_math_verify(gold, delta):
    pred = format((Decimal(gold) + Decimal(delta)).normalize(), "f")
    decided = closed_form_decision(gold, pred, None)
    if decided is not None:
        assert decided == _math_verify(gold, pred), (gold, pred)


_closed_form = st.builds(
    lambda a, b, kind: {0: f"{a}\\sqrt{{{b}}}", 1: f"\\frac{{{a}}}{{{b}}}", 2: f"{a}^{{{b % 4}}}"}[kind],
    st.integers(1, 60),
    st.integers(2, 30),
    st.integers(0, 2),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gold=_closed_form, pred=_closed_form)
def test_worker_shortcut_agrees_with_plain_verify(gold, pred):
    assert equivalent(gold, pred, None)[0] == _math_verify(gold, pred), (gold, pred)


_SURD_FORMS = (
    "{a}",
    "{a}.{b}",
    "\\frac{{{a}}}{{{c}}}",
    "{a}/{c}",
    "{a}\\sqrt{{{b}}}",
    "\\sqrt{{{b}}}",
    "\\frac{{\\sqrt{{{b}}}}}{{{c}}}",
    "\\dfrac{{{a}\\sqrt{{{b}}}}}{{{c}}}",
)
_surd = st.builds(
    lambda sign, form, a, b, c: sign + form.format(a=a, b=b, c=c),
    st.sampled_from(["", "-"]),
    st.sampled_from(_SURD_FORMS),
    st.integers(0, 40),
    st.integers(0, 50),
    st.integers(1, 12),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gold=_surd, pred=_surd)
def test_closed_form_shortcut_agrees_with_math_verify(gold, pred):
    decided = closed_form_decision(gold, pred, None)
    if decided is not None:
        assert decided == _math_verify(gold, pred), (gold, pred)


def test_closed_form_forms_are_recognised():
    from vero.rewards.closed_form import closed_form_value

    for form in _SURD_FORMS:
        assert closed_form_value(form.format(a=3, b=5, c=7)) is not None, form


def test_release_plain_decisions_agree_with_the_release_grading_in_the_worker():
    """The in-process shortcut for plain numbers decides exactly as the release's grade_numeric does."""
    import random

    from vero.rewards.mathverify_pool import release_plain_decision
    from vero.rewards.mathverify_worker import release_equivalent

    rng = random.Random(7)

    def form() -> str:
        a, b = rng.randint(-50, 50), rng.randint(1, 30)
        return rng.choice(
            [
                str(a),
                f"{a / b:.{rng.randint(1, 7)}f}",
                f"{a}/{b}",
                f"\\frac{{{a}}}{{{b}}}",
                f"-\\frac{{{abs(a)}}}{{{b}}}",
            ]
        )

    decided = 0
    for _ in range(300):
        gold, pred = form(), form()
        if rng.random() < 0.3:
            pred = gold
        tolerance = rng.choice([None, None, 0.01, 0.1])
        fast = release_plain_decision(gold, pred, tolerance)
        if fast is not None:
            decided += 1
            assert fast == release_equivalent(gold, pred, tolerance)[0], (gold, pred, tolerance)
    assert decided > 150
    assert release_plain_decision(r"\sqrt{2}", "1.414", None) is None  # not a plain number: math-verify
    assert release_plain_decision("1/3", "0.333333", None) is None  # within 6-digit rounding: math-verify
