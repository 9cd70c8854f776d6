"""Scoring of model outputs: reward routes for the mini suite, metric scorers, unscored judge samples."""

from __future__ import annotations

import pytest

from vero.categories import CATEGORIES
from vero.eval.registry import mini_suite
from vero.eval.samples import EvalSample, load_samples
from vero.eval.scoring import score_output


def wrap(answer: str, boxed: bool = True) -> str:
    body = f"\\boxed{{{answer}}}" if boxed else answer
    return f"<think>look at the picture</think>\n<answer>{body}</answer>"


def sample(**kw) -> EvalSample:
    base = dict(
        id="s1",
        benchmark="b",
        category="chart_ocr",
        question="q",
        images=[b"x"],
        image_size=(200, 100),
        scorer="reward",
        answer="42",
        reward_type="numeric",
    )
    base.update(kw)
    return EvalSample(**base)


def test_reward_route_scores_and_records_breakdown():
    good = score_output(sample(), wrap("42"))
    assert good["score"] == 1.0 and good["extracted"] == "42"
    assert good["reward_format"] == 1.0 and good["reward_total"] == pytest.approx(1.0)
    wrong = score_output(sample(), wrap("41"))
    assert wrong["score"] == 0.0 and wrong["unscored_reason"] is None


def test_require_format_uses_the_gated_accuracy():
    bare = "the answer is \\boxed{42}"  # right answer, no think/answer blocks: format 0
    assert score_output(sample(), bare)["score"] == 1.0
    assert score_output(sample(), bare, require_format=True)["score"] == 0.0


def test_judge_samples_without_judge_are_unscored_not_zero():
    s = sample(reward_type="llm_judge", answer="A red square on white.", category="captioning_if")
    r = score_output(s, wrap("A red square.", boxed=False), judge=None)
    assert r["score"] is None and r["unscored_reason"] == "no_judge"


def test_metric_scorers():
    chart = sample(scorer="relaxed_accuracy", reward_type=None, answer="42", reference=["42"])
    assert score_output(chart, wrap("43"))["score"] == 1.0  # 2.4 % off
    info = sample(scorer="anls", reward_type=None, answer='["USA"]', reference=["USA", "united states"])
    assert score_output(info, wrap("United States"))["score"] == 1.0
    click = sample(scorer="point_in_box", reward_type=None, answer="", reference=[20.0, 20.0, 60.0, 60.0])
    assert score_output(click, wrap('[{"point_2d": [30, 40]}]', boxed=False))["score"] == 1.0
    # Qwen3-VL's [0, 1000] coordinates on a 200x100 image: (150, 400) → (30, 40) px
    assert (
        score_output(click, wrap('[{"point_2d": [150, 400]}]', boxed=False), coords="qwen1000")["score"]
        == 1.0
    )
    box = sample(scorer="iou_accuracy", reward_type=None, answer="", reference=[20.0, 20.0, 60.0, 60.0])
    assert score_output(box, wrap('[{"bbox_2d": [22, 20, 60, 62]}]', boxed=False))["score"] == 1.0
    assert score_output(box, wrap("no idea", boxed=False))["score"] == 0.0


@pytest.mark.parametrize(
    "output", ["", "<answer>", None, "\\boxed{" * 50, "<think></think><answer></answer>" * 3]
)
def test_scoring_never_raises_on_odd_outputs(output):
    for s in (
        sample(),
        sample(scorer="relaxed_accuracy", reference=["1"]),
        sample(reward_type="grounding", answer='[{"bbox_2d": [1, 2, 3, 4]}]'),
    ):
        r = score_output(s, output)
        assert r["score"] in (0.0, None)


def test_gold_answers_of_every_mini_benchmark_score_full_marks(tmp_path):
    """A completion that states the gold answer scores 1 on every non-judge mini sample: the mini
    suite is wired to the same routes the training reward uses."""
    from vero.data.io import write_records
    from vero.data.veromini.generator import generate_category

    specs = mini_suite(tmp_path)
    seen_types = set()
    for cat in CATEGORIES:
        path = tmp_path / "data" / "heldout" / f"{cat}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_records(path, generate_category(cat, 6, seed=5, split="heldout"))
        for s in load_samples(specs[f"mini_{cat}"]).samples:
            seen_types.add(s.reward_type)
            if s.reward_type in ("llm_judge", "instruction_following_llm_judge"):
                assert score_output(s, wrap("text", boxed=False))["unscored_reason"] == "no_judge"
                continue
            if s.reward_type in ("grounding", "clicking", "instruction_following"):
                continue  # gold is a structure, not an answer text; covered by the reward tests
            answer = s.answer
            if s.reward_type == "list_string_match":
                import json

                answer = json.loads(answer)[0]
            r = score_output(s, wrap(answer))
            assert r["score"] == 1.0, (s.id, s.reward_type, s.answer, r)
    assert {"numeric", "multiple_choice", "llm_judge", "counting"} <= seen_types


def test_multiple_choice_gold_letter_a_is_not_read_as_an_article():
    assert score_output(sample(reward_type="multiple_choice", answer="A"), wrap("A"))["score"] == 1.0
    assert score_output(sample(reward_type="multiple_choice", answer="A"), wrap("(a)"))["score"] == 1.0
