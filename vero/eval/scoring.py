"""Score one model output against one `EvalSample`.

Reward-scored benchmarks (the whole mini suite, multiple choice, exact match, numeric, judge)
go through `vero.rewards.compute_reward`, so evaluation grades exactly what training rewards.
The score is the route's accuracy before the format gate (`raw_accuracy`) unless
`require_format` is set, in which case it is the gated accuracy of the reward. The other
metrics (relaxed accuracy, ANLS, IoU, point-in-box, IFEval) live in `vero.eval.metrics`.

A judge-scored sample with no judge configured is *unscored* (score None, reason
"no_judge"), never counted as 0. Scoring never raises: an unexpected error scores the sample
as unscored with the reason "scoring_error:<ExceptionType>"; only a judge outage
(`JudgeUnavailable`) is raised, so the job fails and reruns instead of reporting holes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vero.eval import metrics
from vero.eval.samples import EvalSample

JUDGE_TYPES = ("llm_judge", "instruction_following_llm_judge")


def _extract(output: str, reward_type: str) -> str | None:
    from vero.rewards import extract_answer

    return extract_answer(output, reward_type)


def score_output(
    sample: EvalSample,
    output: str,
    *,
    coords: str = "absolute",
    judge: Any = None,
    completion_tokens: int | None = None,
    max_completion_tokens: int | None = None,
    require_format: bool = False,
    reward_config: Mapping | None = None,
) -> dict:
    """A record of fields to store beside the sample: extracted, score (float in [0, 1] or None),
    unscored_reason, and for reward-scored samples the reward breakdown."""
    try:
        return _score(
            sample,
            output if isinstance(output, str) else "",
            coords=coords,
            judge=judge,
            completion_tokens=completion_tokens,
            max_completion_tokens=max_completion_tokens,
            require_format=require_format,
            reward_config=reward_config,
        )
    except Exception as e:  # one odd output must never stop a benchmark
        from vero.rewards import JudgeUnavailable
        from vero.rewards.judge import JudgeError

        if isinstance(e, (JudgeUnavailable, JudgeError)):
            raise  # a judge outage fails the job (it reruns alone), it must not read as unscored
        return {"extracted": None, "score": None, "unscored_reason": f"scoring_error:{type(e).__name__}"}


def _score(
    sample: EvalSample,
    output: str,
    *,
    coords: str,
    judge: Any,
    completion_tokens: int | None,
    max_completion_tokens: int | None,
    require_format: bool,
    reward_config: Mapping | None,
) -> dict:
    scorer = sample.scorer
    if scorer == "reward":
        return _reward_score(
            sample,
            output,
            coords=coords,
            judge=judge,
            completion_tokens=completion_tokens,
            max_completion_tokens=max_completion_tokens,
            require_format=require_format,
            reward_config=reward_config,
        )
    if scorer in ("relaxed_accuracy", "anls"):
        extracted = _extract(output, "string_match")
        fn = metrics.relaxed_accuracy if scorer == "relaxed_accuracy" else metrics.anls
        score = fn(extracted, sample.reference) if extracted is not None else 0.0
        return {"extracted": extracted, "score": score, "unscored_reason": None}
    if scorer in ("iou_accuracy", "point_in_box"):
        extracted = _extract(output, "grounding" if scorer == "iou_accuracy" else "clicking")
        fn = metrics.iou_accuracy if scorer == "iou_accuracy" else metrics.point_in_box
        score = fn(extracted, sample.reference, sample.image_size, coords) if extracted is not None else 0.0
        return {"extracted": extracted, "score": score, "unscored_reason": None}
    raise ValueError(f"unknown scorer {scorer!r}")


def _reward_score(
    sample: EvalSample,
    output: str,
    *,
    coords: str,
    judge: Any,
    completion_tokens: int | None,
    max_completion_tokens: int | None,
    require_format: bool,
    reward_config: Mapping | None,
) -> dict:
    from vero.rewards import compute_reward

    rt = sample.reward_type
    if rt in JUDGE_TYPES and judge is None:
        return {"extracted": _extract(output, rt), "score": None, "unscored_reason": "no_judge"}
    kwargs: dict[str, Any] = {
        "reward_type": rt,
        "answer": sample.answer,
        "tolerance": sample.tolerance,
        "image_size": list(sample.image_size) if sample.image_size else None,
        "coords": coords,
        "completion_tokens": completion_tokens,
        "max_completion_tokens": max_completion_tokens,
        "judge": judge,
        "question": sample.question,
    }
    if reward_config is not None:
        kwargs["config"] = reward_config
    rb = compute_reward(output, **kwargs)
    if rt in JUDGE_TYPES and not getattr(rb, "judged", True):
        return {"extracted": rb.extracted, "score": None, "unscored_reason": "judge_failed", **_fields(rb)}
    score = rb.accuracy if require_format else rb.raw_accuracy
    return {"extracted": rb.extracted, "score": float(score), "unscored_reason": None, **_fields(rb)}


def _fields(rb: Any) -> dict:
    return {
        "reward_total": float(rb.total),
        "reward_accuracy": float(rb.accuracy),
        "reward_raw_accuracy": float(rb.raw_accuracy),
        "reward_format": float(rb.format),
        "reward_overlong": float(rb.overlong),
    }
