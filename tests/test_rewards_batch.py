"""The TRL-callable batch reward: columns, conversational completions, token lengths, per-category
metrics, judge batching, unjudged samples and the math-verify-only ablation."""

from __future__ import annotations

import json

import pytest

from vero.rewards import UnknownRewardType, completion_text, make_trl_reward
from vero.rewards.judge import JudgeClient

from .test_rewards_judge import StubJudge

REWARD_CFG = {"alpha": 0.2, "overlong": {"enabled": True, "buffer": 4, "penalty": 1.0}}


def out(answer: str) -> str:
    return f"<think>t</think><answer>{answer}</answer>"


BOX = json.dumps([{"bbox_2d": [0, 0, 100, 100]}])


def columns(n_rows):
    rows = [
        ("numeric", "0.5", None, [200, 100], "stem"),
        ("multiple_choice", "B", None, [200, 100], "spatial_action"),
        ("grounding", BOX, float("nan"), [200, 100], "grounding_counting_search"),
        ("llm_judge", "A red circle.", None, [200, 100], "captioning_if"),
    ][:n_rows]
    return {
        "reward_type": [r[0] for r in rows],
        "answer": [r[1] for r in rows],
        "tolerance": [r[2] for r in rows],
        "image_size": [r[3] for r in rows],
        "category": [r[4] for r in rows],
        "question": ["q"] * len(rows),
    }


def test_batch_scores_plain_and_conversational_completions():
    reward = make_trl_reward(REWARD_CFG, coords="absolute", max_completion_tokens=10)
    completions = [
        out(r"\boxed{\frac{1}{2}}"),
        [{"role": "assistant", "content": out(r"\boxed{(B)}")}],
        [{"role": "assistant", "content": [{"type": "text", "text": out(BOX)}]}],
        out("A red circle."),
    ]
    metrics = {}
    rewards = reward(
        prompts=["p"] * 4,
        completions=completions,
        completion_ids=[[1] * 3, [1] * 8, [1] * 10, [1] * 3],
        log_metric=lambda k, v: metrics.__setitem__(k, v),
        trainer_state=None,
        **columns(4),
    )
    assert rewards[0] == 1.0
    assert rewards[1] == pytest.approx(1.0 - 0.5)  # 8 tokens of 10 with buffer 4: −(8 − 6)/4
    assert rewards[2] == pytest.approx(1.0 - 1.0)  # at the limit: −λ
    assert rewards[3] is None  # judge type with no judge: TRL skips it
    assert metrics["reward/category/stem/accuracy"] == 1.0
    assert metrics["reward/category/spatial_action/overlong"] == pytest.approx(-0.5)
    assert metrics["reward/format"] == 1.0
    assert "reward/category/captioning_if/accuracy" not in metrics  # unjudged samples are not averaged in
    assert metrics["reward_monitor/unjudged"] == 1.0
    assert reward.last_metrics == metrics and len(reward.last_breakdowns) == 4
    assert reward.__name__ == "vero_reward"


def test_batch_with_judge_sends_requests_concurrently():
    stub = StubJudge()
    try:
        judge = JudgeClient(stub.url, "m", retries=0, max_concurrency=4)
        reward = make_trl_reward(REWARD_CFG, coords="absolute", max_completion_tokens=None, judge=judge)
        cols = columns(4)
        cols = {k: v * 3 for k, v in cols.items()}
        completions = [out(r"\boxed{0.5}"), out("B"), out(BOX), out("A red circle.")] * 3
        rewards = reward(prompts=["p"] * 12, completions=completions, **cols)
        judge_rewards = rewards[3::4]
        assert judge_rewards == [pytest.approx(0.8 * 7 / 9 + 0.2)] * 3
        assert len(stub.requests) == 3
        assert reward.last_metrics["reward_monitor/self_eval_rate_judge"] == 0.0
    finally:
        stub.close()


def test_self_evaluation_rate_is_logged():
    reward = make_trl_reward(REWARD_CFG, coords="absolute", max_completion_tokens=None)
    cols = {"reward_type": ["string_match"] * 2, "answer": ["cat"] * 2}
    completions = [out("cat"), out("cat. This answer fully satisfies every requirement.")]
    reward(completions=completions, **cols)
    assert reward.last_metrics["reward_monitor/self_eval_rate"] == 0.5


def test_unscorable_numeric_answers_are_flagged_and_counted():
    reward = make_trl_reward(REWARD_CFG, coords="absolute", max_completion_tokens=None)
    cols = {"reward_type": ["numeric"] * 2, "answer": ["5"] * 2}
    rewards = reward(completions=[out(r"\boxed{(x+1)^{2000}}"), out(r"\boxed{5}")], **cols)
    assert rewards == [pytest.approx(0.2), 1.0]
    assert reward.last_breakdowns[0].flags == ("math_verify_too_costly",)
    assert reward.last_metrics["reward_monitor/math_verify_too_costly"] == 1.0
    assert reward.last_metrics["reward_monitor/math_verify_timeout"] == 0.0


def test_math_verify_only_mode():
    reward = make_trl_reward(
        REWARD_CFG, coords="absolute", max_completion_tokens=None, mode="math_verify_only"
    )
    cols = {"reward_type": ["multiple_choice", "numeric", "string_match"], "answer": ["B", "0.5", "red car"]}
    completions = [out(r"\boxed{(B)}"), out(r"\boxed{1/2}"), out(r"\boxed{a red car}")]
    rewards = reward(completions=completions, **cols)
    assert rewards[1] == 1.0  # math-verify agrees on numbers
    assert reward.__name__ == "math_verify_reward"
    routed = make_trl_reward(REWARD_CFG, coords="absolute", max_completion_tokens=None)
    assert routed(completions=completions, **cols) == [1.0, 1.0, 1.0]
    assert rewards[2] == pytest.approx(0.2)  # the article defeats plain math-verify, not the routed reward


def test_batch_rejects_unknown_reward_type_and_bad_columns():
    reward = make_trl_reward(REWARD_CFG, coords="absolute", max_completion_tokens=None)
    with pytest.raises(UnknownRewardType):
        reward(completions=[out("x")], reward_type=["mystery"], answer=["x"])
    with pytest.raises(ValueError, match="'answer' has 2 values for 1"):
        reward(completions=[out("x")], reward_type=["string_match"], answer=["x", "y"])
    with pytest.raises(ValueError, match="mode"):
        make_trl_reward(REWARD_CFG, coords="absolute", max_completion_tokens=None, mode="other")


def test_qwen1000_batch_without_image_size_scores_as_the_release_with_a_flag():
    reward = make_trl_reward(REWARD_CFG, coords="qwen1000", max_completion_tokens=None)
    cols = {"reward_type": ["clicking"], "answer": [BOX], "image_size": [[200, 100]]}
    assert reward(completions=[out('[{"point_2d": [250, 500]}]')], **cols) == [1.0]
    missing = reward(
        completions=[out('[{"point_2d": [250, 500]}]')],
        reward_type=["clicking"],
        answer=[BOX],
        image_size=[None],
    )
    assert missing == [pytest.approx(0.2)]  # accuracy 0, format 1
    assert reward.last_breakdowns[0].flags == ("no_image_size",)
    assert reward.last_metrics["reward_monitor/no_image_size"] == 1.0


@pytest.mark.parametrize(
    ("completion", "text"),
    [
        ("plain", "plain"),
        ([{"role": "assistant", "content": "a"}], "a"),
        ([{"role": "user", "content": "u"}, {"role": "assistant", "content": "b"}], "b"),
        (
            [
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}],
                }
            ],
            "xy",
        ),
        ({"role": "assistant", "content": "d"}, "d"),
        (None, ""),
        ([], ""),
    ],
)
def test_completion_text(completion, text):
    assert completion_text(completion) == text


def test_warm_up_pays_each_routes_start_up_costs():
    from vero.rewards import warm_up

    spent = warm_up(["numeric", " Instruction_Following ", "grounding"])
    assert set(spent) == {"numeric", "instruction_following", "grounding"}
    assert all(s >= 0.0 for s in spent.values())
    with pytest.raises(ValueError, match="reward_type"):
        warm_up(["bogus"])
