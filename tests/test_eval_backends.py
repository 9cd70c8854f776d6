"""Generation backends: openai against a stub server on 127.0.0.1, hf on the tiny VLM, vllm's guard."""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from vero.eval.backends import BackendError, get_backend
from vero.eval.samples import EvalSample
from vero.prompts import SYSTEM_PROMPT


def png(w=64, h=48, color=(10, 200, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def make_sample(i: int, n_images: int = 1) -> EvalSample:
    return EvalSample(
        id=str(i),
        benchmark="mini_stem",
        category="stem",
        question=f"What is {i} + 1?",
        images=[png(64 + 8 * k) for k in range(n_images)],
        image_size=(64, 48),
        scorer="reward",
        answer=str(i + 1),
        reward_type="numeric",
    )


class _StubChat(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/chat/completions that answers with what it received."""

    requests: ClassVar[list] = []
    fail_first: ClassVar[int] = 0
    fixed_reply: ClassVar[str | None] = None  # set: answer every request with this (a judge)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        cls.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if cls.fail_first > 0:
            cls.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"busy")
            return
        user = body["messages"][-1]["content"]
        if isinstance(user, str):  # text-only request (the judge)
            user = [{"type": "text", "text": user}]
        text = next(p["text"] for p in user if p["type"] == "text")
        n_img = sum(p["type"] == "image_url" for p in user)
        reply = cls.fixed_reply or f"<think>saw {n_img} image(s)</think>\n<answer>\\boxed{{{text}}}</answer>"
        data = json.dumps(
            {
                "choices": [{"message": {"role": "assistant", "content": reply}}],
                "usage": {"completion_tokens": 7},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_server():
    handler = type("Handler", (_StubChat,), {"requests": [], "fail_first": 0, "fixed_reply": None})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    server.shutdown()
    server.server_close()


def test_openai_backend_sends_images_and_sampling_settings(stub_server, monkeypatch):
    url, handler = stub_server
    monkeypatch.setenv("TEST_EVAL_KEY", "sk-test")
    backend = get_backend(
        "openai",
        "runs/x/final",
        base_url=url,
        model="served",
        api_key_env="TEST_EVAL_KEY",
        max_concurrency=3,
        retries=0,
        system_prompt=SYSTEM_PROMPT,
    )
    samples = [make_sample(i, n_images=1 + i % 2) for i in range(5)]
    gen = backend.generate(samples, temperature=0.7, max_new_tokens=64, batch_size=2)
    backend.close()
    assert gen.texts == [
        f"<think>saw {1 + i % 2} image(s)</think>\n<answer>\\boxed{{What is {i} + 1?}}</answer>"
        for i in range(5)
    ]  # order kept although requests run concurrently
    assert gen.completion_tokens == [7] * 5
    req = handler.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    body = req["body"]
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("served", 0.7, 64)
    assert body["messages"][0] == {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]}
    img = next(p for p in body["messages"][1]["content"] if p["type"] == "image_url")["image_url"]["url"]
    assert img.startswith("data:image/png;base64,")
    assert base64.b64decode(img.split(",", 1)[1]) == samples[0].images[0]


def test_openai_backend_retries_server_errors_then_gives_up(stub_server):
    url, handler = stub_server
    handler.fail_first = 1
    backend = get_backend("openai", "m", base_url=url, retries=2, backoff_s=0.01, max_concurrency=1)
    assert backend.generate([make_sample(1)], max_new_tokens=8).texts[0].endswith("</answer>")
    handler.fail_first = 10
    with pytest.raises(BackendError, match=r"mini_stem/1: no completion .* after 3 attempts: HTTP 503"):
        backend.generate([make_sample(1)], max_new_tokens=8)


def test_openai_backend_unreachable_server_names_url():
    backend = get_backend("openai", "m", base_url="http://127.0.0.1:9/v1", retries=0, timeout_s=2)
    with pytest.raises(BackendError, match=r"127\.0\.0\.1:9/v1/chat/completions"):
        backend.generate([make_sample(0)], max_new_tokens=4)


def test_vllm_backend_without_vllm_says_what_to_do():
    pytest.importorskip("PIL")
    try:
        import vllm  # noqa: F401

        pytest.skip("vllm is installed here; the guard is for environments without it")
    except ImportError:
        pass
    with pytest.raises(BackendError, match="needs the vllm package"):
        get_backend("vllm", "some/model")


def test_unknown_backend():
    with pytest.raises(BackendError, match="unknown eval backend 'tgi'"):
        get_backend("tgi", "m")


@pytest.mark.slow
@pytest.mark.parametrize("model_fixture", ["tiny_vlm_dir", "tiny_qwen3_vlm_dir"])
def test_hf_backend_batched_generation_on_tiny_vlm(model_fixture, request):
    backend = get_backend("hf", str(request.getfixturevalue(model_fixture)), dtype="float32")
    samples = [make_sample(i, n_images=1 + (i == 2)) for i in range(3)]  # one two-image prompt
    greedy_batched = backend.generate(samples, temperature=0.0, max_new_tokens=12, batch_size=3)
    greedy_single = backend.generate(samples, temperature=0.0, max_new_tokens=12, batch_size=1)
    assert len(greedy_batched.texts) == 3 and all(isinstance(t, str) for t in greedy_batched.texts)
    assert all(1 <= n <= 12 for n in greedy_batched.completion_tokens)
    # left padding: batching must not change greedy outputs
    assert greedy_batched.texts == greedy_single.texts
    sampled = backend.generate(samples[:2], temperature=0.7, max_new_tokens=12, batch_size=2, seed=1)
    again = backend.generate(samples[:2], temperature=0.7, max_new_tokens=12, batch_size=2, seed=1)
    assert sampled.texts == again.texts  # seeded sampling is reproducible


def test_judge_scored_samples_go_through_the_judge_client(stub_server):
    """llm_judge samples are scored by the configured judge (in a thread pool), an outage fails."""
    from vero.eval.evaluate import score_all
    from vero.rewards import JudgeClient, JudgeUnavailable

    url, handler = stub_server
    handler.fixed_reply = '{"REASONING": "matches the reference", "SCORE": 10}'
    judge = JudgeClient.from_config({"enabled": True, "base_url": url, "model": "judge", "retries": 0})
    judged = make_sample(0)
    judged.reward_type, judged.answer = "llm_judge", "A green rectangle."
    plain = make_sample(1)  # numeric: scored locally, never sent to the judge
    outputs = [
        "<think>look</think>\n<answer>A green rectangle.</answer>",
        "<think>x</think><answer>\\boxed{2}</answer>",
    ]
    scores = score_all([judged, plain], outputs, [10, 10], judge=judge, judge_concurrency=4)
    assert scores[0]["score"] == pytest.approx(1.0) and scores[1]["score"] == 1.0
    assert len(handler.requests) == 1 and "A green rectangle." in json.dumps(handler.requests[0]["body"])

    down = JudgeClient.from_config(
        {"enabled": True, "base_url": "http://127.0.0.1:9/v1", "retries": 0, "timeout_s": 2}
    )
    with pytest.raises(JudgeUnavailable):
        score_all([judged], outputs[:1], [10], judge=down)


STUB_VLLM_SERVER = """
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = json.dumps({"choices": [{"message": {"content": "served " + body["model"] + " "
                            + str(body.get("skip_special_tokens"))}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *a):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def test_vllm_server_backend_starts_queries_and_stops_the_server(tmp_path):
    """The server lifecycle with a stand-in for vLLM's api_server (same command-line contract)."""
    import sys

    script = tmp_path / "fake_api_server.py"
    script.write_text(STUB_VLLM_SERVER)
    backend = get_backend(
        "vllm_server",
        "runs/mixed/final",
        command=[sys.executable, str(script), "{port}"],
        health_timeout_s=60,
    )
    gen = backend.generate([make_sample(0), make_sample(1)], max_new_tokens=8)
    assert gen.texts == ["served runs/mixed/final False"] * 2  # special tokens kept for <think> tags
    url = backend.client.url
    backend.close()
    import httpx

    with pytest.raises(httpx.ConnectError):  # the server is gone
        httpx.post(url, json={}, timeout=2)


def test_vllm_server_backend_reports_a_server_that_dies(tmp_path):
    import sys

    with pytest.raises(BackendError, match="did not come up"):
        get_backend(
            "vllm_server", "m", command=[sys.executable, "-c", "raise SystemExit(3)"], health_timeout_s=30
        )


def test_vllm_server_command_from_config():
    from pathlib import Path

    from vero.config import load_config
    from vero.eval.evaluate import backend_kwargs
    from vero.serving import vllm_server_command

    repo = Path(__file__).resolve().parent.parent
    cfg = load_config(
        repo / "config" / "config.yaml",
        overrides={"eval": {"backend": "vllm_server", "tensor_parallel_size": 2}},
    )
    kw = backend_kwargs(cfg)
    cmd = vllm_server_command(
        "ckpt", 8123, {"gpus": kw["tensor_parallel_size"], "extra_args": kw["extra_args"]}
    )
    joined = " ".join(cmd)
    assert "-m vllm.entrypoints.openai.api_server --model ckpt" in joined
    assert "--tensor-parallel-size 2" in joined and "--max-model-len 40960" in joined
    assert '--mm-processor-kwargs {"max_pixels": 16777216}' in joined


def test_generation_is_reused_after_a_scoring_failure(stub_server, tmp_path):
    """A judge outage fails the job after generation; the rerun scores the kept outputs."""
    from vero.config import load_config
    from vero.data.io import write_records
    from vero.data.veromini.generator import generate_category
    from vero.eval.evaluate import evaluate_benchmark
    from vero.rewards import JudgeClient, JudgeUnavailable

    url, handler = stub_server
    results = tmp_path / "results"
    heldout = results / "data" / "heldout" / "captioning_if.parquet"
    heldout.parent.mkdir(parents=True)
    write_records(heldout, generate_category("captioning_if", 6, seed=4, split="heldout"))
    demo = Path(__file__).resolve().parent.parent / "config" / "demo.yaml"
    cfg = load_config(demo, {"results_dir": str(results), "eval": {"benchmarks": ["mini_captioning_if"]}})
    out = tmp_path / "eval" / "mini_captioning_if.jsonl"
    kwargs = dict(experiment="base", checkpoint="final", benchmark="mini_captioning_if", out_jsonl=out)
    kwargs["out_summary"] = out.with_suffix(".json")
    down = JudgeClient.from_config({"enabled": True, "base_url": "http://127.0.0.1:9/v1", "retries": 0})
    with pytest.raises(JudgeUnavailable):
        evaluate_benchmark(
            cfg, backend=get_backend("openai", "m", base_url=url, retries=0), judge=down, **kwargs
        )
    assert not out.exists() and Path(f"{out}.generated.json").exists()
    n_requests = len(handler.requests)

    handler.fixed_reply = '{"REASONING": "fine", "SCORE": 4}'
    judge = JudgeClient.from_config({"enabled": True, "base_url": url, "retries": 0})
    dead_backend = get_backend("openai", "m", base_url="http://127.0.0.1:9/v1", retries=0)
    summary = evaluate_benchmark(cfg, backend=dead_backend, judge=judge, **kwargs)
    assert summary["n"] == 6 and not Path(f"{out}.generated.json").exists()
    judge_requests = len(handler.requests) - n_requests
    assert judge_requests >= 1  # only judge calls this time, no generation
    assert all("REFERENCE" in json.dumps(r["body"]) for r in handler.requests[n_requests:])
