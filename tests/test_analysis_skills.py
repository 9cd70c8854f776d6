"""Skill extraction: reply parsing, the lexicon extractor, the LLM extractor against a stub
OpenAI-compatible server on 127.0.0.1 (caching, retries, timeouts, no category leak)."""

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vero.analysis.skills import (
    Skill,
    extract_skills,
    get_extractor,
    load_skill_records,
    parse_skill_reply,
    sample_per_category,
)
from vero.analysis.skills.lexicon import LexiconError, load_lexicon
from vero.analysis.skills.llm import SYSTEM_PROMPT
from vero.analysis.traces import Drops

# ---- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        '[{"label": "Counting", "description": "counts objects"}]',
        '```json\n[{"label": "Counting", "description": "counts objects"}]\n```',
        'Here you go:\n[{"label": "Counting", "description": "counts objects"}]\nHope this helps! [1]',
        '{"label": "Counting", "description": "counts objects"}',
        '{"skills": [{"Skill": "Counting", "Description": "counts objects"}]}',
        '<think>maybe [x]</think>[{"label": "Counting", "description": "counts objects"}]',
        '[{"label": "Counting", "description": "counts objects"}, {"label": "counting", "description": "d"}]',
    ],
)
def test_parse_skill_reply_variants(reply):
    assert parse_skill_reply(reply) == [Skill("Counting", "counts objects")]


def test_parse_skill_reply_edge_cases():
    assert parse_skill_reply('["Visual search", "Counting"]') == [
        Skill("Visual search", "Visual search"),
        Skill("Counting", "Counting"),
    ]
    assert parse_skill_reply("[]") == []
    for bad in ("", "no json here", "[1, 2, 3]", '{"foo": 1}', None, "[{unterminated"):
        assert parse_skill_reply(bad) is None
    long = parse_skill_reply(json.dumps([{"label": "x" * 500, "description": "y\n\n z"}]))
    assert len(long[0].label) == 80 and long[0].description == "y z"


# ---- lexicon ------------------------------------------------------------------------------------


def test_lexicon_detects_operations_with_evidence():
    ex = get_extractor("lexicon")
    skills = ex.extract("First, scan the image. Wait, I see two. Let me count again: there are 3 dogs.", "x")
    labels = [s.label for s in skills]
    assert {"task decomposition", "visual search", "backtracking", "counting"} <= set(labels)
    count = next(s for s in skills if s.label == "counting")
    assert "Let me count again" in count.description
    assert ex.extract_with_status("", "stem") == ([], "empty_trace")
    assert ex.extract_with_status("zzz qqq", "stem") == ([], "no_skills")
    # word boundaries: "account" must not trigger "count"
    assert "counting" not in [s.label for s in ex.extract("my account balance", "x")]


@pytest.mark.parametrize(
    ("trace", "expected"),
    [
        # the plain descriptions a small model writes: captioning, spatial layout, a chosen option
        (
            "I describe each shape with its color and its place in the picture. "
            "Then I check the 2 rules one by one.",
            {"scene description", "self-verification", "constraint tracking"},
        ),
        (
            "The red circle is at the top left and the blue square is at the bottom right.",
            {"spatial relation reasoning"},
        ),
        (
            "The angles sum to 180, so 180 - 50 - 70 = 60, which is option B.",
            {"formula recall", "option elimination"},
        ),
    ],
)
def test_lexicon_reads_plain_descriptions(trace, expected):
    assert expected <= {s.label for s in get_extractor("lexicon").extract(trace, "x")}


def test_shipped_lexicon_is_documented_and_valid():
    ops = load_lexicon()
    assert len(ops) >= 15 and all(op.description.endswith(".") for op in ops)


def test_lexicon_errors_name_the_file(tmp_path):
    bad = tmp_path / "lex.yaml"
    bad.write_text("operations:\n  - {label: a, description: b, cues: []}\n")
    with pytest.raises(LexiconError, match=r"lex\.yaml.*operations\[0\]"):
        load_lexicon(bad)
    bad.write_text("operations:\n  - {label: a, description: b, cues: ['re:(']}\n")
    with pytest.raises(LexiconError, match="bad cue regex"):
        load_lexicon(bad)
    with pytest.raises(ValueError, match="unknown skill extractor"):
        get_extractor("magic")


# ---- running over traces ------------------------------------------------------------------------


def test_sample_per_category_and_extract_records(tmp_path):
    traces = [
        {"id": i, "category": "stem" if i % 2 else "chart_ocr", "output": "Let me verify."} for i in range(10)
    ]
    picked = sample_per_category(traces, 2, seed=1)
    assert sorted(t["category"] for t in picked) == ["chart_ocr", "chart_ocr", "stem", "stem"]
    assert sample_per_category(traces, 2, seed=1) == picked
    traces[0]["output"] = ""
    drops = Drops()
    recs = extract_skills(traces, get_extractor("lexicon"), drops=drops, progress=False)
    assert len(recs) == 10 and recs[0]["status"] == "empty_trace" and drops.counts["skills_empty_trace"] == 1
    assert recs[1]["skills"][0]["label"] == "self-verification"
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs) + '\n{"category": 1}\nnot json\n')
    drops = Drops()
    loaded = load_skill_records(path, drops)
    assert len(loaded) == 10 and drops.counts == {"malformed_skill_record": 1, "invalid_json": 1}


# ---- LLM extractor against a stub server --------------------------------------------------------


class StubLLM:
    """An OpenAI-compatible /chat/completions on 127.0.0.1 whose behaviour a test sets."""

    def __init__(self):
        self.requests = []
        self.reply = '```json\n[{"label": "Chart reading", "description": "reads the bars"}]\n```'
        self.status = 200
        self.delay = 0.0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                time.sleep(stub.delay)
                payload = json.dumps({"choices": [{"message": {"content": stub.reply}}]}).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client may have timed out
                    self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    s = StubLLM()
    yield s
    s.close()


def test_llm_extractor_parses_caches_and_hides_category(stub, tmp_path, monkeypatch):
    monkeypatch.setenv("VERO_TEST_KEY", "sk-test")
    ex = get_extractor(
        "llm",
        base_url=stub.url,
        model="stub-model",
        cache_dir=tmp_path / "cache",
        api_key_env="VERO_TEST_KEY",
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    trace = "The bars show 10, 20 and 30. Summing gives 60."
    assert ex.extract_with_status(trace, "chart_ocr") == ([Skill("Chart reading", "reads the bars")], "ok")
    req = stub.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["body"]["model"] == "stub-model"
    assert req["auth"] == "Bearer sk-test"
    assert req["body"]["chat_template_kwargs"] == {"enable_thinking": False}
    assert req["body"]["messages"][0]["content"] == SYSTEM_PROMPT
    assert trace in req["body"]["messages"][1]["content"]
    assert "chart_ocr" not in json.dumps(req["body"])  # the probe's label never reaches the model
    # a rerun costs nothing: served from the cache, even by a new extractor with the same settings
    ex2 = get_extractor(
        "llm",
        base_url=stub.url,
        model="stub-model",
        cache_dir=tmp_path / "cache",
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    assert ex2.extract_with_status(trace, "chart_ocr")[1] == "cached"
    assert len(stub.requests) == 1 and ex2.calls == 0
    # another model or another trace is another key (tests/test_caches.py: every other input too)
    m2 = get_extractor("llm", base_url=stub.url, model="m2", cache_dir=tmp_path / "cache")
    assert len({ex2.cache_key(trace), m2.cache_key(trace), ex2.cache_key(trace + " ")}) == 3


def test_llm_extractor_failures_never_raise(stub, tmp_path):
    ex = get_extractor(
        "llm", base_url=stub.url, model="m", cache_dir=tmp_path / "c", max_retries=1, timeout_s=5
    )
    stub.reply = "I cannot help with that."
    assert ex.extract_with_status("some reasoning", "stem") == ([], "unparseable")
    assert not any((tmp_path / "c").rglob("*.json"))  # failures are not cached
    stub.status = 503
    n = len(stub.requests)
    assert ex.extract_with_status("other reasoning", "stem") == ([], "http_503")
    assert len(stub.requests) - n == 2  # one retry
    stub.status = 400
    assert ex.extract_with_status("third", "stem") == ([], "http_400")
    assert ex.extract_with_status("   ", "stem") == ([], "empty_trace")
    stub.status, stub.delay = 200, 1.5
    fast = get_extractor("llm", base_url=stub.url, model="m", timeout_s=0.3, max_retries=0)
    t0 = time.monotonic()
    assert fast.extract_with_status("slow one", "stem") == ([], "timeout")
    assert time.monotonic() - t0 < 1.4
    dead = get_extractor("llm", base_url="http://127.0.0.1:9/v1", model="m", max_retries=0, timeout_s=2)
    assert dead.extract_with_status("x", "stem") == ([], "request_failed")


def test_llm_extractor_concurrent_run(stub, tmp_path):
    ex = get_extractor("llm", base_url=stub.url, model="m", cache_dir=tmp_path / "c")
    traces = [{"id": i, "category": "stem", "output": f"reasoning {i}"} for i in range(12)]
    recs = extract_skills(traces, ex, max_workers=4, progress=False)
    assert [r["id"] for r in recs] == list(range(12))
    assert all(r["status"] == "ok" and r["skills"][0]["label"] == "Chart reading" for r in recs)
    assert len(stub.requests) == 12


def test_llm_extractor_rejects_unknown_backend():
    with pytest.raises(ValueError, match="backend"):
        get_extractor("llm", backend="carrier-pigeon")


@pytest.mark.slow
def test_llm_extractor_local_transformers_backend(tiny_vlm_dir, tmp_path):
    """The local backend loads a (vision-)language model, applies its chat template and generates;
    the tiny random model's reply is noise, so the honest outcome is `unparseable`, not an error."""
    ex = get_extractor(
        "llm", backend="transformers", model=str(tiny_vlm_dir), max_tokens=8, cache_dir=tmp_path
    )
    skills, status = ex.extract_with_status("Let me count the apples: one, two, three.", "stem")
    assert status in ("ok", "unparseable") and ex.calls == 1
    assert (status == "ok") == bool(skills)
