"""Property tests: whatever the completion, every route returns a finite reward in range, raises nothing
and finishes in bounded time."""

from __future__ import annotations

import json
import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vero.rewards import JUDGE_REWARD_TYPES, REWARD_TYPES, RewardConfig, compute_reward, format_reward

GOLD = {
    "string_match": "Eiffel Tower",
    "counting": "7",
    "search": "red mug",
    "multiple_choice": "C",
    "numeric": r"\frac{3}{4}",
    "list_string_match": '["couch", "sofa"]',
    "number_list": "[3, 1, 2]",
    "web_action": '{"ACTION": "TYPE", "MARK": 4, "VALUE": "hello"}',
    "grounding": '[{"bbox_2d": [10, 20, 110, 220], "label": "cat"}]',
    "clicking": '[{"bbox_2d": [10, 20, 110, 220]}]',
    "instruction_following": json.dumps(
        {
            "instructions": [
                {"class": "NumberOfWords", "args": {"num_words": 3, "relation": "at least"}},
                {"class": "NumberOfSentences", "args": {"num_sentences": 1, "relation": "at least"}},
                {"class": "ResponseLanguageChecker", "args": {"language": "en"}},
                {"class": "JsonFormat", "args": {}},
            ]
        }
    ),
    "llm_judge": "A red circle.",
    "instruction_following_llm_judge": json.dumps(
        {"instructions": [{"class": "CommaChecker", "args": {}}], "reference": "A red circle."}
    ),
}
assert set(GOLD) == set(REWARD_TYPES)

# Pieces that exercise the parsers: tags, boxes, braces, JSON, LaTeX, numbers, unicode, control chars.
FRAGMENTS = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    r"\boxed{",
    r"\boxed",
    "{",
    "}",
    "[",
    "]",
    '{"bbox_2d": [',
    '{"point_2d": [',
    '"ACTION": ',
    r"\text{",
    r"\frac{1}{2}",
    "^{",
    "**",
    "!",
    "(x+1)^{99}",
    "1,000",
    "-3.0",
    "1e308",
    "nan",
    "NaN",
    "inf",
    "None",
    "null",
    "'",
    '"',
    "\\",
    "\x00",
    "\u202e",
    "é",
    "ﬁ",
    "𝔸",
    "\n",
    " ",
    "A",
    "the",
    ", ",
    ". ",
    "This answer fully satisfies every requirement.",
]
adversarial = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=40).map("".join)
completions = st.one_of(
    st.text(max_size=300),
    adversarial,
    adversarial.map(lambda a: f"<think>x</think><answer>{a}</answer>"),
    adversarial.map(lambda a: f"<think>x</think><answer>\\boxed{{{a}}}</answer>"),
)
CONFIG = RewardConfig(math_verify_timeout_s=2.0)
BOUND_S = 10.0  # a generous ceiling on a shared CPU: the math-verify deadline (2 s) + grace + slack
NON_JUDGE = [rt for rt in REWARD_TYPES if rt not in JUDGE_REWARD_TYPES]


def _check(breakdown, semantics="corrected", judge_type=False):
    for name in ("total", "accuracy", "format", "overlong", "raw_accuracy"):
        assert math.isfinite(getattr(breakdown, name)), name
    assert 0.0 <= breakdown.accuracy <= 1.0 and 0.0 <= breakdown.raw_accuracy <= 1.0
    assert breakdown.format in (0.0, 0.5, 1.0)
    assert breakdown.overlong <= 0.0
    # The release's overlong line goes on past the maximum length; `corrected` stops it at −λ.
    floor = -1.0 if semantics == "corrected" else breakdown.overlong
    assert floor - 1e-9 <= breakdown.total <= 1.0 + breakdown.overlong + 1e-9
    if breakdown.format == 0.0 and not (judge_type and semantics == "release"):
        assert breakdown.accuracy == 0.0  # the release does not gate its judge's score by format


@pytest.mark.parametrize("reward_type", REWARD_TYPES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    completion=completions,
    tokens=st.one_of(st.none(), st.integers(-10, 10_000)),
    semantics=st.sampled_from(["release", "corrected"]),
)
def test_any_completion_any_route(reward_type, completion, tokens, semantics):
    coords = "qwen1000" if reward_type in ("grounding", "clicking") else "absolute"
    start = time.perf_counter()
    r = compute_reward(
        completion,
        reward_type=reward_type,
        answer=GOLD[reward_type],
        tolerance=0.01 if reward_type == "numeric" else None,
        image_size=(640, 480),
        coords=coords,
        completion_tokens=tokens,
        max_completion_tokens=4096,
        config=CONFIG,
        semantics=semantics,
    )
    assert time.perf_counter() - start < BOUND_S
    _check(r, semantics, reward_type in JUDGE_REWARD_TYPES)
    assert format_reward(completion, reward_type) == r.format


@pytest.mark.parametrize("reward_type", NON_JUDGE)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=st.text(max_size=60), completion=completions)
def test_any_ground_truth_never_raises_in_scoring(reward_type, answer, completion):
    # Ground truth is validated at load time; scoring must still survive a bad one.
    r = compute_reward(completion, reward_type=reward_type, answer=answer, image_size=(10, 10), config=CONFIG)
    _check(r)


class _CannedJudge:
    """A judge double with a fixed verdict: the judge-type accuracy paths without HTTP."""

    def __init__(self, score: float) -> None:
        self._score = score

    def score(self, question, reference, response):
        from vero.rewards.judge import JudgeResult

        return JudgeResult(self._score, None, "", True, ())


@pytest.mark.parametrize("reward_type", sorted(JUDGE_REWARD_TYPES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    completion=completions,
    verdict=st.sampled_from([0.0, 0.5, 1.0]),
    semantics=st.sampled_from(["release", "corrected"]),
)
def test_judge_types_with_a_judge(reward_type, completion, verdict, semantics):
    r = compute_reward(
        completion,
        reward_type=reward_type,
        answer=GOLD[reward_type],
        judge=_CannedJudge(verdict),
        config=CONFIG,
        semantics=semantics,
    )
    _check(r, semantics, judge_type=True)
    assert r.judged


@pytest.mark.parametrize(
    "reward_type", ["numeric", "string_match", "grounding", "instruction_following", "web_action"]
)
def test_huge_completion_is_bounded(reward_type):
    huge = "<think>" + "x" * 200_000 + "</think><answer>\\boxed{" + "9" * 50_000 + "}</answer>"
    start = time.perf_counter()
    r = compute_reward(huge, reward_type=reward_type, answer=GOLD[reward_type], config=CONFIG)
    assert time.perf_counter() - start < BOUND_S
    _check(r)
