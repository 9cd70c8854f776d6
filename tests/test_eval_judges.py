"""Judge-graded VeroEval benchmarks: per-benchmark prompts and scales, no format gate, judge
replies that cannot be read (or lie outside the scale) counted per benchmark, never a score."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from vero.eval.aggregate import benchmark_summary
from vero.eval.judges import GRADERS, grade
from vero.eval.registry import load_registry
from vero.eval.samples import EvalSample
from vero.eval.scorers import Context
from vero.eval.scoring import score_all

# the released checkpoints' chat template writes the opening <think>: outputs start mid-reasoning
OUTPUT = "The chart's tallest bar is 2019, so the answer follows.\n</think>\n<answer>\\boxed{2019}</answer>"


class ScriptedJudge:
    """Replies from a list (the last one repeats); records every chat it was sent."""

    def __init__(self, *replies: str):
        self.replies = list(replies)
        self.sent: list[list[dict]] = []

    def complete_many_sync(self, conversations, *, max_tokens=None):
        out = []
        for conv in conversations:
            self.sent.append(conv)
            out.append(self.replies.pop(0) if len(self.replies) > 1 else self.replies[0])
        return out


DOCS = {
    "charxiv": (
        {"reasoning_q": "Which year peaks?", "reasoning_a": "2019", "reasoning_q_source": 3},
        '{"extracted_answer": "2019", "score": 1}',
        1.0,
    ),
    "chartmuseum": ({"question": "Which year peaks?", "answer": "2019"}, '{"is_equivalent": "Yes"}', 1.0),
    "simplevqa": (
        {"question": "Who is shown?", "answer": "Ada Lovelace"},
        '{"verdict": "not_attempted"}',
        0.0,
    ),
    "fvqa": (
        {
            "prompt": [{"content": "<image>What is this used for?"}],
            "reward_model": {"ground_truth": "cutting", "candidate_answers": ["slicing"]},
        },
        '{"is_equivalent": "No"}',
        0.0,
    ),
    "mmvet_v2": ({"question": "Solve for x.", "answer": "-1<AND>-5"}, '{"score": 0.5}', 0.5),
    "visualprobe": (
        {"problem": "<image>What color is the sign?", "solution": "red"},
        '{"is_equivalent": true}',
        1.0,
    ),
    "mm_mt_bench": (
        {
            "conversation": json.dumps(
                [
                    {"role": "user", "content": "Describe."},
                    {"role": "assistant", "content": "A chart."},
                    {"role": "user", "content": "Which year?"},
                    {"role": "assistant", "content": "2019"},
                ]
            ),
            "message_index": 2,
            "reference_answer": "2019",
            "category": "charts",
            "turn": 1,
        },
        "Correct. Rating: [[8]]",
        0.8,
    ),
    "mia_bench": (
        {
            "instruction": "Describe in two sentences.",
            "components": ["two sentences", "describe"],
            "component_weight": [5, 5],
        },
        "score of component 1: 5/5, score of component 2: 2/5, total score: 7/10. Reasons follow.",
        0.7,
    ),
}


@pytest.mark.parametrize("method", sorted(DOCS))
def test_each_grader_judges_the_answer_without_a_format_gate(method):
    doc, reply, expected = DOCS[method]
    judge = ScriptedJudge(reply)
    s = grade(method, doc, OUTPUT, judge, Context(key="b:1"))
    assert s.score == pytest.approx(expected) and s.unscored_reason is None
    assert s.detail["format"] == "think_answer"  # reported beside the score, not a gate
    sent = json.dumps(judge.sent)
    assert "2019" in sent and "tallest bar" not in sent  # the answer is graded, not the reasoning


@pytest.mark.parametrize(
    "method, reply, reason",
    [
        ("mm_mt_bench", "Great answer. Rating: [[11]]", "judge_out_of_range"),  # not clamped to 10
        ("mm_mt_bench", "Great answer, a solid eight.", "judge_unparsed"),
        ("mmvet_v2", '{"score": 1.5}', "judge_out_of_range"),
        (
            "mia_bench",
            "score of component 1: 6/5, score of component 2: 5/5, total score: 11/10.",
            "judge_out_of_range",
        ),
        ("charxiv", '{"extracted_answer": "2019", "score": 2}', "judge_out_of_range"),
        ("chartmuseum", "Both answers mention years; hard to say.", "judge_unparsed"),
        ("simplevqa", '{"verdict": "partially correct"}', "judge_unparsed"),
    ],
)
def test_unreadable_or_out_of_range_replies_are_errors_after_retries(method, reply, reason):
    judge = ScriptedJudge(reply)
    s = grade(method, DOCS[method][0], OUTPUT, judge, retries=2)
    assert s.score is None and s.unscored_reason == reason
    assert len(judge.sent) == 3  # the first try and two retries


def test_a_retry_that_reads_is_used():
    judge = ScriptedJudge("no idea", '{"is_equivalent": "Yes"}')
    s = grade("chartmuseum", DOCS["chartmuseum"][0], OUTPUT, judge, retries=1)
    assert s.score == 1.0 and len(judge.sent) == 2


def test_mmifeval_levels_rules_judge_and_comparison_with_the_unconstrained_answer():
    constraints = [
        {
            "key": "para",
            "value": "two paragraphs",
            "judge": {
                "method": "rule_based",
                "verify_funcs": [
                    {"func": "check_whether_response_paragraph_number_in_range", "params": [2, 2]}
                ],
            },
        },
        {"key": "tone", "value": "formal tone", "judge": {"method": "direct_gpt"}},
        {"key": "emoji", "value": "end with an emoji", "judge": {"method": "cmp_gpt"}},
    ]
    doc = {"id": 7, "tag": "C-Level", "infer_type": "main", "constraints": json.dumps(constraints)}
    out = "<think>plan</think><answer>First paragraph.\n\nSecond paragraph 🙂</answer>"
    judge = ScriptedJudge(
        "Judgement: fine.\nSummary: Score of constraint_1: 0/1.", 'Reasoning: differs. Summary: "True"'
    )
    aux = {"7::emoji": "An answer without the emoji constraint."}
    s = grade("mmifeval", doc, out, judge, Context(aux=aux))
    assert s.score == pytest.approx(2 / 3)  # rule 1, judge 0, comparison 1
    assert s.detail["constraints"] == {"tone": 0.0, "para": 1.0, "emoji": 1.0}
    assert "An answer without the emoji constraint." in json.dumps(judge.sent)
    p = grade(
        "mmifeval",
        {"tag": "P-Level", "infer_type": "main", "answer": '["cat", "dog"]', "question": "q"},
        out,
        ScriptedJudge("right"),
    )
    assert p.score == 1.0
    aux_row = grade(
        "mmifeval", {"id": 7, "infer_type": "aux_cmp_gpt", "del_cons": "emoji"}, out, ScriptedJudge("x")
    )
    assert aux_row.score is None and aux_row.unscored_reason == "auxiliary"


def _sample(i, benchmark, doc, config=None):
    meta = {"doc": doc, **({"config": config} if config else {})}
    return EvalSample(
        id=str(i),
        benchmark=benchmark,
        category="knowledge_recognition",
        question="q",
        images=[b"x"],
        image_size=(10, 10),
        scorer="reward",
        answer="a",
        reward_type="llm_judge",
        meta=meta,
    )


def test_judge_errors_are_counted_and_too_many_refuse_the_benchmark():
    scoring = load_registry()["chartmuseum"].scoring
    samples = [_sample(i, "chartmuseum", DOCS["chartmuseum"][0]) for i in range(10)]
    replies = ['{"is_equivalent": "Yes"}'] * 9 + ["?"]
    judge = _PerSampleJudge(replies)
    recs = score_all(samples, [OUTPUT] * 10, [5] * 10, judge=judge, scoring=scoring, judge_retries=0)
    assert sum(r["unscored_reason"] == "judge_unparsed" for r in recs) == 1
    ok = benchmark_summary(recs, meta={"benchmark": "chartmuseum"}, scoring=scoring, max_unparsed_share=0.2)
    assert ok["score"] == 100.0 and ok["judge"]["judge_unparsed"] == 1 and ok["n_scored"] == 9
    refused = benchmark_summary(
        recs, meta={"benchmark": "chartmuseum"}, scoring=scoring, max_unparsed_share=0.05
    )
    assert refused["score"] is None and "10.0% > eval.judge.max_unparsed_share" in refused["refused"]


class _PerSampleJudge:
    """One scripted reply per call, in call order (thread-safe)."""

    def __init__(self, replies):
        self.replies, self.lock = list(replies), threading.Lock()

    def complete_many_sync(self, conversations, *, max_tokens=None):
        with self.lock:
            return [self.replies.pop() for _ in conversations]


def test_without_a_judge_judge_benchmarks_stay_unscored():
    scoring = load_registry()["simplevqa"].scoring
    recs = score_all(
        [_sample(0, "simplevqa", DOCS["simplevqa"][0])], [OUTPUT], [1], judge=None, scoring=scoring
    )
    assert recs[0]["score"] is None and recs[0]["unscored_reason"] == "no_judge"


def test_every_judge_benchmark_of_the_registry_has_a_grader():
    methods = {spec.scoring["method"] for spec in load_registry().values()}
    assert set(GRADERS) <= methods and len(set(GRADERS)) == 9


def test_judge_client_sends_chats_and_returns_reply_texts():
    from vero.rewards.judge import JudgeClient

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            reply = json.dumps(
                {"choices": [{"message": {"content": f"echo {body['messages'][-1]['content']}"}}]}
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(reply.encode())

        def log_message(self, *a):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = JudgeClient(
            f"http://127.0.0.1:{server.server_port}/v1", "Qwen/Qwen3-32B", timeout_s=10, retries=0
        )
        texts = client.complete_many_sync(
            [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]], max_tokens=64
        )
    finally:
        server.shutdown()
    assert texts == ["echo a", "echo b"]
    assert {b["model"] for b in seen} == {"Qwen/Qwen3-32B"} and {b["max_tokens"] for b in seen} == {64}
    assert all(b["chat_template_kwargs"] == {"enable_thinking": False} for b in seen)
