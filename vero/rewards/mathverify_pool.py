"""math-verify behind worker processes with a per-call deadline.

math-verify times itself out with `signal.alarm`, which only works on a main thread and in whole
seconds, and some inputs (`(x+1)^{2000}`) take many seconds. Every call therefore goes to a worker
process (mathverify_worker.py) that arms a sub-second deadline on its own main thread; if the worker
still has not answered `grace_s` after the deadline (stuck in C code), it is killed and replaced. The
parent never blocks longer than deadline + grace, from any thread.

Cheap cases never reach a worker: two simple closed forms (numbers, fractions, square roots) are
compared here when the outcome is certain (closed_form.py; the decisions agree with math-verify, see
tests), and predictions that are far too costly to expand are refused up front.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
from collections import OrderedDict
from decimal import Decimal
from fractions import Fraction
from multiprocessing.connection import Connection
from pathlib import Path

from vero.rewards.closed_form import closed_form_decision

WORKER_SCRIPT = Path(__file__).with_name("mathverify_worker.py")
STARTUP_TIMEOUT_S = 120.0
GRACE_S = 0.5

# Expansions math-verify would try and never finish: 3-digit exponents or factorials, power towers.
_COSTLY_RE = re.compile(r"(?:\^|\*\*)\s*\{?\s*[+-]?\(?\s*\d{3,}|\d{3,}\s*\)?\s*!|\\binom\s*\{\s*\d{4,}")
MAX_PRED_CHARS = 1000


# Plain numbers: the release's grading of two of them is known without math-verify, because both sides
# parse to the number itself (tests/test_rewards_mathverify.py checks these decisions against the worker).
# Decimals, `a/b` and `\\frac{a}{b}` with integer a, b: equal values match; values apart by more than
# 6-digit rounding can reach do not; anything closer goes to math-verify. With a tolerance only two
# decimals are decided here (the release's inequality on the two floats).
_DECIMAL = re.compile(r"-?(?:\d+(?:\.\d+)?|\.\d+)")
_SLASH = re.compile(r"(-?\d+)/(\d+)")
_FRAC = re.compile(r"(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}")


def _plain_value(text: str) -> Fraction | None:
    if len(text) > 30:
        return None
    if _DECIMAL.fullmatch(text):
        return Fraction(Decimal(text))
    m = _SLASH.fullmatch(text)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2)))
    m = _FRAC.fullmatch(text)
    if m and int(m.group(3)) != 0:
        value = Fraction(int(m.group(2)), int(m.group(3)))
        return -value if m.group(1) else value
    return None


def release_plain_decision(gold: str, pred: str, tolerance: float | None) -> float | None:
    """1.0 / 0.0 when both sides are plain numbers and the release's outcome is certain, else None."""
    g, p = gold.strip(), pred.strip()
    if tolerance is not None:
        if len(g) > 30 or len(p) > 30 or not _DECIMAL.fullmatch(g) or not _DECIMAL.fullmatch(p):
            return None
        gv, pv = float(g), float(p)
        diff = abs(gv - pv)
        return 1.0 if ((diff <= tolerance) if abs(gv) <= 1e-12 else (diff <= tolerance * abs(gv))) else 0.0
    gv, pv = _plain_value(g), _plain_value(p)
    if gv is None or pv is None:
        return None
    if gv == pv:
        return 1.0
    diff = abs(gv - pv)
    if diff > Fraction(1, 10_000) * max(abs(gv), abs(pv)) and diff > Fraction(1, 100_000):
        return 0.0
    return None


class MathVerifyUnavailable(RuntimeError):
    """The math-verify worker could not be started (a broken environment, not a bad completion)."""


MAX_NESTING = 12


def _nesting_depth(text: str) -> int:
    depth = deepest = 0
    for c in text:
        if c in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "})]":
            depth = max(depth - 1, 0)
    return deepest


def too_costly(pred: str) -> bool:
    """Predictions no grader should expand: very long, huge exponents or factorials, power towers, or
    brackets nested deeper than any real answer (the LaTeX parser recurses on each level)."""
    return (
        len(pred) > MAX_PRED_CHARS
        or pred.count("^") > 2
        or bool(_COSTLY_RE.search(pred))
        or _nesting_depth(pred) > MAX_NESTING
    )


class _Worker:
    def __init__(self) -> None:
        p2c_r, p2c_w = os.pipe()
        c2p_r, c2p_w = os.pipe()
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), str(p2c_r), str(c2p_w)],
                pass_fds=(p2c_r, c2p_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
            )
        finally:
            os.close(p2c_r)
            os.close(c2p_w)
        self.outbox = Connection(p2c_w, readable=False)
        self.inbox = Connection(c2p_r, writable=False)
        self.ready = False

    def wait_ready(self) -> None:
        if self.ready:
            return
        try:
            ok = self.inbox.poll(STARTUP_TIMEOUT_S) and self.inbox.recv() == "ready"
        except (EOFError, OSError):
            ok = False
        if not ok:
            code = self.proc.poll()
            self.kill()
            raise MathVerifyUnavailable(
                f"the math-verify worker ({WORKER_SCRIPT}) did not start within {STARTUP_TIMEOUT_S:.0f} s"
                f" (exit code {code}); is math-verify installed in {sys.executable}?"
            )
        self.ready = True

    def call(self, msg: tuple, wait_s: float) -> tuple[float, str | None] | None:
        """The worker's answer, or None when it did not answer within `wait_s` or died."""
        try:
            self.outbox.send(msg)
            if self.inbox.poll(wait_s):
                return self.inbox.recv()
        except (EOFError, OSError, BrokenPipeError):
            pass
        return None

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for conn in (self.outbox, self.inbox):
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        try:
            self.outbox.send(None)
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired, BrokenPipeError):
            pass
        self.kill()


class MathVerifyPool:
    """A fixed number of math-verify worker processes, safe to share between threads.

    `check(gold, pred, tolerance, timeout_s)` returns (score, reason): score 1.0 or 0.0, reason None on a
    match else why it is 0 (mismatch, unparsed_pred, unparsed_gold, too_costly, timeout, error). Results
    are memoized (RL scores the same short answers many times per group).
    """

    def __init__(self, workers: int = 1, *, cache_size: int = 65536) -> None:
        if workers < 1:
            raise ValueError(f"math-verify workers must be >= 1, got {workers}")
        self.pid = os.getpid()
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple, tuple[float, str | None]] = OrderedDict()
        self.cache_size = cache_size  # 0 disables memoization (the benchmark measures uncached calls)
        self.stats: dict[str, int] = {"calls": 0, "worker_calls": 0, "timeouts": 0, "respawns": 0}
        for _ in range(workers):
            w = _Worker()
            self._all.append(w)
            self._idle.put(w)

    def check(
        self, gold: str, pred: str, tolerance: float | None, timeout_s: float, kind: str = "vero"
    ) -> tuple[float, str | None]:
        """`kind="release"` grades as the release's `grade_numeric`; "vero" as the worker's `equivalent`."""
        self.stats["calls"] += 1
        if kind == "release":
            decided = release_plain_decision(gold, pred, tolerance)
        else:
            decided = closed_form_decision(gold, pred, tolerance)
        if decided is not None:
            return decided, (None if decided else "mismatch")
        if too_costly(pred):
            return 0.0, "too_costly"
        key = (gold, pred, tolerance, kind)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        result = self._ask_worker(gold, pred, tolerance, timeout_s, kind)
        if self.cache_size > 0:
            with self._lock:
                self._cache[key] = result
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return result

    def _ask_worker(
        self, gold: str, pred: str, tolerance: float | None, timeout_s: float, kind: str = "vero"
    ) -> tuple[float, str | None]:
        worker = self._idle.get()
        try:
            worker.wait_ready()
        except MathVerifyUnavailable:
            self._replace(worker)
            raise
        self.stats["worker_calls"] += 1
        answer = worker.call((gold, pred, tolerance, float(timeout_s), kind), float(timeout_s) + GRACE_S)
        if answer is None:  # stuck past the deadline, or died: never reuse it
            self.stats["timeouts"] += 1
            self._replace(worker)
            return 0.0, "timeout"
        self._idle.put(worker)
        score, reason = answer
        if reason == "timeout":
            self.stats["timeouts"] += 1
        return float(score), reason

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        fresh = _Worker()
        self.stats["respawns"] += 1
        with self._lock:
            self._all = [w for w in self._all if w is not worker] + [fresh]
        self._idle.put(fresh)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for w in workers:
            w.close()


_POOL: MathVerifyPool | None = None
_POOL_LOCK = threading.Lock()
_POOL_WORKERS = 1


def configure_pool(workers: int) -> None:
    """Set the number of workers of the shared pool (takes effect when the pool is next created)."""
    global _POOL_WORKERS
    if workers < 1:
        raise ValueError(f"math-verify workers must be >= 1, got {workers}")
    _POOL_WORKERS = workers
    with _POOL_LOCK:
        if _POOL is not None and _POOL.pid == os.getpid() and len(_POOL._all) != workers:
            _reset_locked()


def get_pool() -> MathVerifyPool:
    """The process-wide pool, created on first use (and again in a forked child)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid():
            _POOL = MathVerifyPool(_POOL_WORKERS)
        return _POOL


def _reset_locked() -> None:
    global _POOL
    if _POOL is not None and _POOL.pid == os.getpid():
        _POOL.close()
    _POOL = None


def shutdown_pool() -> None:
    with _POOL_LOCK:
        _reset_locked()


atexit.register(shutdown_pool)
