"""The evaluation job checks its judge (health + one scored probe) before relying on it, and fails
naming the endpoint: before generation for an external judge."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from vero.config import load_config
from vero.eval.judging import JudgePreflightError, judge_for, preflight_judge
from vero.rewards import JudgeClient

REPO = Path(__file__).resolve().parent.parent


class _Judge(BaseHTTPRequestHandler):
    reply = "The response is correct. SCORE: 10"
    seen: list = []  # noqa: RUF012 (each test's handler class gets its own list)

    def do_GET(self):
        self.seen.append(("GET", self.path))
        body = json.dumps({"data": [{"id": "judge"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append(("POST", self.path))
        body = json.dumps({"choices": [{"message": {"content": self.reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def judge_server():
    handler = type("H", (_Judge,), {"seen": [], "reply": _Judge.reply})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    server.shutdown()
    server.server_close()


def _client(url: str) -> JudgeClient:
    return JudgeClient(base_url=url, model="judge", retries=0, timeout_s=5)


def test_preflight_checks_health_and_a_scored_probe(judge_server):
    url, handler = judge_server
    preflight_judge(_client(url))
    assert handler.seen == [("GET", "/v1/models"), ("POST", "/v1/chat/completions")]
    handler.reply = "I cannot grade this."  # answers, but gives no score
    with pytest.raises(JudgePreflightError, match=r"127\.0\.0\.1.*without a score"):
        preflight_judge(_client(url))


def test_preflight_names_an_unreachable_endpoint():
    with pytest.raises(
        JudgePreflightError, match=r"http://127\.0\.0\.1:9/v1/chat/completions is unreachable"
    ):
        preflight_judge(_client("http://127.0.0.1:9/v1"))


def test_eval_job_fails_before_generating_when_the_judge_is_down(tmp_path):
    from tests.test_eval_cache import CountingBackend
    from tests.test_eval_workflow import write_heldout
    from vero.eval.evaluate import evaluate_benchmark

    results = tmp_path / "results"
    cfg = load_config(
        REPO / "config" / "demo.yaml",
        overrides={
            "results_dir": str(results),
            "reward": {"judge": {"enabled": True, "base_url": "http://127.0.0.1:9/v1", "retries": 0}},
            "eval": {"benchmarks": ["mini_captioning_if"], "max_samples": 4},
        },
    )
    write_heldout(results, ["captioning_if"], n=6)
    backend = CountingBackend()
    out = results / "eval" / "base" / "final"
    with pytest.raises(JudgePreflightError, match=r"127\.0\.0\.1:9"):
        evaluate_benchmark(
            cfg,
            experiment="base",
            checkpoint="final",
            benchmark="mini_captioning_if",
            out_jsonl=out / "x.jsonl",
            out_summary=out / "x.json",
            backend=backend,
        )
    assert backend.calls == 0  # nothing generated for a job that could not have been scored
    with judge_for(cfg, needed=False, preflight=True) as judge:  # no judge-scored sample: no check
        assert judge is None


def test_the_judge_modules_own_preflight_is_used_when_it_exists(monkeypatch):
    import vero.rewards.judge as judge_module

    seen = []

    def own_preflight(client):
        seen.append(client.endpoint)
        raise RuntimeError("wrong model served")

    monkeypatch.setattr(judge_module, "preflight", own_preflight, raising=False)
    with pytest.raises(JudgePreflightError, match=r"127\.0\.0\.1:9.*wrong model served"):
        preflight_judge(_client("http://127.0.0.1:9/v1"))
    assert seen == ["http://127.0.0.1:9/v1/chat/completions"]
