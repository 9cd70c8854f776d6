"""The model-based question filter against a local stub of an OpenAI-compatible endpoint."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from PIL import Image

from vero.data import filtering as F
from vero.data.io import write_records
from vero.data.question_filter import QuestionFilterSettings, QuestionJudge, build_messages, parse_scores
from vero.data.schema import make_record


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 48), (0, 128, 0)).save(buf, format="PNG")
    return buf.getvalue()


def sample(i, question, category="stem"):
    return make_record(
        id=f"q{i}",
        data_source="s",
        category=category,
        question=question,
        images=[png()],
        reward_type="numeric",
        answer="4",
    )


class StubJudge(BaseHTTPRequestHandler):
    """Scores by keywords in the question: 'vague' -> ambiguity 2, 'broken' -> a reply without JSON,
    'crash' -> HTTP 500; anything else scores 9 on every scale."""

    requests: ClassVar[list] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StubJudge.requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        text = body["messages"][1]["content"][-1]["text"].lower()
        if "crash" in text:
            self.send_response(500)
            self.end_headers()
            return
        if "broken" in text:
            content = "I think this is fine."
        else:
            amb = 2 if "vague" in text else 9
            content = (
                f'```json\n{{"relevance": 9, "ambiguity": {amb}, "verifiability": 8, "reason": "ok"}}\n```'
            )
        reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    StubJudge.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubJudge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def judge_for(endpoint, **kw):
    return QuestionJudge(QuestionFilterSettings(enabled=True, base_url=endpoint, model="judge-vlm", **kw))


def test_scores_keep_and_reject(endpoint, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    judge = judge_for(endpoint, threshold=6, max_retries=0)
    rows = [sample(0, "What is 2 + 2 in the figure?"), sample(1, "What is the vague thing?")]
    verdicts = judge(rows)
    assert verdicts[0] is None
    assert verdicts[1][0] == "question_filter_rejected" and "'ambiguity': 2" in verdicts[1][1]
    req = StubJudge.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert req["body"]["model"] == "judge-vlm"
    image_part = req["body"]["messages"][1]["content"][0]
    assert image_part["image_url"]["url"].startswith("data:image/png;base64,")
    assert "diagrams" in req["body"]["messages"][0]["content"]  # the stem rubric


def test_unscorable_replies_follow_on_error(endpoint):
    rows = [sample(0, "Is this broken?"), sample(1, "Will this crash?")]
    dropped = judge_for(endpoint, max_retries=1)(rows)
    assert [v[0] for v in dropped] == ["question_filter_error", "question_filter_error"]
    assert len(StubJudge.requests) == 4  # each tried twice
    assert judge_for(endpoint, max_retries=0, on_error="keep")(rows) == [None, None]


def test_captioning_if_is_not_scored(endpoint):
    assert judge_for(endpoint)([sample(0, "Describe the vague picture.", "captioning_if")]) == [None]
    assert StubJudge.requests == []


def test_unreachable_endpoint_is_an_error_not_a_crash():
    judge = QuestionJudge(
        QuestionFilterSettings(base_url="http://127.0.0.1:9/v1", timeout_s=2, max_retries=0)
    )
    assert judge([sample(0, "What is 2 + 2?")])[0][0] == "question_filter_error"


def test_filter_file_counts_judge_verdicts(endpoint, tmp_path):
    rows = [
        sample(i, q) for i, q in enumerate(["Plain one?", "A vague one?", "Broken one?", "Another plain?"])
    ]
    write_records(tmp_path / "raw.parquet", rows)
    report = F.filter_file(
        tmp_path / "raw.parquet",
        tmp_path / "out.parquet",
        F.FilterSettings(min_source_rows=1, min_source_mean_pixels=0, min_image_pixels=1),
        category="stem",
        question_scorer=judge_for(endpoint, max_retries=0, max_concurrency=2),
    )
    assert report["kept"] == 2
    assert report["dropped"] == {"question_filter_rejected": 1, "question_filter_error": 1}


def test_parse_scores_variants():
    assert parse_scores(
        '<think>hmm {"x": 1}</think>{"Relevance": "7", "ambiguity": 8, "verifiability": 9.0}'
    ) == {
        "relevance": 7,
        "ambiguity": 8,
        "verifiability": 9,
    }
    for bad in ("no json", '{"relevance": 11, "ambiguity": 5, "verifiability": 5}', '{"relevance": 5}'):
        with pytest.raises(ValueError):
            parse_scores(bad)


def test_messages_carry_every_image_and_the_answer():
    r = sample(0, "Compare the two panels.")
    r["images"] = [png(), png()]
    msgs = build_messages(r)
    parts = msgs[1]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
    assert "Reference answer (numeric):\n4" in parts[-1]["text"]


def test_settings_reject_unknown_on_error():
    with pytest.raises(ValueError, match="on_error"):
        QuestionFilterSettings.from_config({"on_error": "retry"})
