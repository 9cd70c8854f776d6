"""(b) The judge client against a real vLLM OpenAI-compatible server on 127.0.0.1.

The server is vLLM's own (`python -m vllm.entrypoints.openai.api_server`, the command
vero.serving builds) serving a tiny Qwen3 text model, started in its own process group, waited
for on /health and stopped by PID with vero.serving's helpers. The test walks the judge's life in
a training job: a scored batch; the server killed in the middle of a batch and brought back,
which the client rides out through its retries; a batch against a stopped server, which must raise
JudgeUnavailable naming the endpoint instead of hanging or turning into zeros.

A random tiny model cannot write the judge's JSON verdict by itself, so the scored batches ask
vLLM for structured output (a regex for the verdict JSON): that keeps the whole path real
(server, HTTP, reply parsing, score mapping) with a reply the parser is meant to read.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.vllm._support import KV_CACHE_BYTES, free_port

pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(1200)]

HEALTH_TIMEOUT_S = 600.0  # generous: engine start is ~25 s idle, minutes on a loaded 2-core VM
REASONS = ("same as the reference", "differs from the reference")
# The verdict as a regular expression (vLLM structured output): a JSON schema would leave the
# whitespace between tokens free, which a random model fills until max_tokens.
VERDICT_REGEX = r'\{"REASONING": "(' + "|".join(REASONS) + r')", "SCORE": ([1-9]|10)\}'


def _judge_classes():
    from vero.rewards.judge import JudgeClient

    class StructuredJudge(JudgeClient):
        """The project's client, asking vLLM to constrain the reply to the verdict schema; counts
        the replies it received so a test can act in the middle of a batch."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.replies = 0
            self.texts: list[str] = []
            self.reply_event = threading.Event()

        def request_body(self, item):
            body = super().request_body(item)
            body["structured_outputs"] = {"regex": VERDICT_REGEX}
            return body

        async def _post(self, client, body):
            text = await super()._post(client, body)
            self.texts.append(text)
            self.replies += 1
            self.reply_event.set()
            return text

    return StructuredJudge


class VLLMServer:
    """One vLLM OpenAI-compatible server process (and its engine children) in its own session."""

    def __init__(self, model: Path, port: int, log_path: Path):
        from vero.serving import vllm_server_command

        serve_cfg = {
            "gpus": 1,
            "extra_args": [
                "--dtype",
                "float32",
                "--enforce-eager",
                "--max-model-len",
                "1024",
                "--max-num-seqs",
                "8",
                "--kv-cache-memory-bytes",
                str(KV_CACHE_BYTES),
                "--seed",
                "0",
            ],
        }
        self.command = vllm_server_command(str(model), port, serve_cfg, python=sys.executable)
        self.model = str(model)
        self.health_url = f"http://127.0.0.1:{port}/health"
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_healthy(self) -> float:
        from vero.serving import ServingError, wait_until_healthy

        try:
            return wait_until_healthy(self.health_url, self.process, HEALTH_TIMEOUT_S, interval_s=0.5)
        except ServingError as err:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{err}\n--- server log tail ---\n{tail}") from err

    def stop(self, grace_s: float = 30.0) -> int | None:
        """Stop by PID (SIGTERM to the process group, SIGKILL after the grace period)."""
        from vero.serving import stop_process

        return stop_process(self.process, grace_s=grace_s)

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def wait_group_gone(self, timeout_s: float = 60.0) -> bool:
        """True once no process of the server's group is left (the engine children exit a moment
        after the API server that `stop` waited for)."""
        deadline = time.monotonic() + timeout_s
        while self.group_alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True


@pytest.fixture(scope="module")
def server(tiny_text_lm_dir, tmp_path_factory):
    srv = VLLMServer(tiny_text_lm_dir, free_port(), tmp_path_factory.mktemp("judge") / "server.log")
    srv.start()
    print(f"[vllm tier] judge server healthy after {srv.wait_healthy():.1f} s")
    yield srv
    if srv.process.poll() is None:
        srv.stop()


def _items(n: int):
    from vero.rewards.judge import JudgeItem

    return [
        JudgeItem(f"What colour is shape {i}?", "It is red.", f"The shape is {'red' if i % 2 else 'blue'}.")
        for i in range(n)
    ]


def test_health_and_a_scored_batch(server):
    import httpx

    assert httpx.get(server.health_url, timeout=5).status_code == 200
    listed = httpx.get(f"{server.base_url}/models", timeout=5).json()
    assert [m["id"] for m in listed["data"]] == [server.model]

    judge = _judge_classes()(server.base_url, server.model, max_concurrency=4, timeout_s=60, max_tokens=128)
    results = judge.score_many_sync(_items(8))
    assert len(results) == 8 and judge.replies == 8
    for r in results:
        assert r.parsed and 1 <= r.raw_score <= 10, (r, judge.texts)
        assert r.score == pytest.approx((r.raw_score - 1) / 9)
        assert r.reasoning in REASONS


def test_unconstrained_reply_is_parsed_without_raising(server):
    """The plain request body (what production sends): a random model's free text has no score;
    the client reports it as unscored (score None, never 0) and does not raise."""
    from vero.rewards.judge import JudgeClient

    judge = JudgeClient(server.base_url, server.model, max_concurrency=2, timeout_s=60, max_tokens=32)
    for r in judge.score_many_sync(_items(2)):
        assert r.parsed == (r.raw_score is not None)
        if r.status == "scored":
            assert 1 <= r.raw_score <= 10 and 0.0 <= r.score <= 1.0
        else:
            assert r.score is None and r.status in ("unparsed", "out_of_range")


def test_server_stopped_mid_batch_then_restarted_batch_completes(server, caplog):
    """Kill the server after the first replies of a batch, start it again on the same port: the
    requests that hit the dead server are retried with backoff until the new one answers."""
    from vero.serving import is_healthy

    judge = _judge_classes()(
        server.base_url,
        server.model,
        max_concurrency=1,  # one request at a time: the stop lands between replies 2 and 12
        timeout_s=60,
        retries=10,  # backoff 0.5 s doubling: up to ~8.5 min for the restarted engine to come up
        backoff_s=0.5,
        max_tokens=128,
    )
    first_pid = server.process.pid
    restarted = threading.Event()
    events: dict = {}

    def stop_then_restart():
        # Never raise in here: the batch is waiting for this thread to bring the server back.
        while judge.replies < 2:
            judge.reply_event.wait(timeout=1.0)
            judge.reply_event.clear()
        events["replies_before_stop"] = judge.replies
        events["stop_status"] = server.stop(grace_s=10.0)  # in-flight requests may hold it open
        events["old_group_gone"] = server.wait_group_gone()
        server.start()
        restarted.set()

    worker = threading.Thread(target=stop_then_restart, daemon=True)
    worker.start()
    with caplog.at_level(logging.WARNING, logger="vero.rewards.judge"):
        results = judge.score_many_sync(_items(12))
    worker.join(timeout=60)
    print(f"[vllm tier] mid-batch stop after {events.get('replies_before_stop')} replies; batch completed")
    assert restarted.is_set(), f"the server was never stopped and restarted: {events}"
    assert events["old_group_gone"], f"processes of the first server (PID {first_pid}) outlived its stop"
    assert 2 <= events["replies_before_stop"] < 12, events
    assert server.process.pid != first_pid
    assert is_healthy(server.health_url)
    assert len(results) == 12 and all(r.parsed for r in results)
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert retries, "no request was retried although the server was down mid-batch"
    assert all(server.base_url in r.getMessage() for r in retries)


def test_stopped_server_raises_judge_unavailable_and_stop_is_clean(server):
    from vero.rewards.judge import JudgeClient, JudgeUnavailable

    pid = server.process.pid
    status = server.stop()
    assert status is not None
    assert server.process.poll() is not None
    assert server.wait_group_gone(), f"processes of the server's group (PID {pid}) survived the stop"

    judge = JudgeClient(server.base_url, server.model, retries=2, backoff_s=0.1, timeout_s=10)
    with pytest.raises(JudgeUnavailable) as err:
        judge.score_many_sync(_items(3))
    assert f"{server.base_url}/chat/completions" in str(err.value)
    assert "3 attempts" in str(err.value)
