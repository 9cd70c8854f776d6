"""compute_reward: R = (1 − α)·R_acc + α·R_fmt + R_overlong, with R_acc forced to 0 when R_fmt is 0."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from vero.rewards.format import format_from_layout
from vero.rewards.ifeval import build_checkers, constraint_rate
from vero.rewards.mathverify_pool import MathVerifyUnavailable, get_pool
from vero.rewards.overlong import overlong_penalty
from vero.rewards.routes import ROUTES, RouteContext
from vero.rewards.routes.numeric import numeric_check
from vero.rewards.text import graded_text, last_boxed, load_literal, parse_layout
from vero.rewards.types import (
    BOXED_REWARD_TYPES,
    JUDGE_REWARD_TYPES,
    SPATIAL_REWARD_TYPES,
    RewardBreakdown,
    RewardConfig,
    check_coords,
    check_reward_type,
)

MODES = ("vero", "math_verify_only")
# Why a numeric 0 may not be the model's fault; reported in RewardBreakdown.flags and counted per batch.
MATH_VERIFY_FLAGS = ("timeout", "too_costly", "error")
_DEFAULT_CONFIG = RewardConfig()

# judge_fn(question, reference, response) → JudgeResult-like (with .score, .flags) or None (not scored).
JudgeFn = Callable[[str, str, str], object]


def _finite_unit(x: object) -> float:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return min(max(v, 0.0), 1.0) if math.isfinite(v) else 0.0


def clean_tolerance(tolerance: object) -> float | None:
    """A usable relative tolerance, or None (missing, NaN, negative or not a number)."""
    if tolerance is None or isinstance(tolerance, bool):
        return None
    try:
        t = float(tolerance)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return t if math.isfinite(t) and t >= 0 else None


def clean_image_size(image_size: object) -> tuple[int, int] | None:
    """(w, h) with both positive, from a tuple, list or array; None when absent or unusable."""
    if image_size is None:
        return None
    try:
        w, h = (int(v) for v in image_size)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return (w, h) if w > 0 and h > 0 else None


def extract_answer(completion: str, reward_type: str) -> str | None:
    """The text a route grades: for boxed types the last non-empty `\\boxed{}` of the answer block (else the
    answer text); for the others the answer text. Malformed outputs use their last <answer> block."""
    check_reward_type(reward_type)
    if not isinstance(completion, str):
        return None
    return graded_text(parse_layout(completion).answer, boxed=reward_type in BOXED_REWARD_TYPES)


def split_judge_answer(reward_type: str, answer: str) -> tuple[str, str | None]:
    """(reference for the judge, IFEval payload or None) of a judge-type ground truth."""
    if reward_type == "llm_judge":
        return answer, None
    payload = load_literal(answer)
    if not isinstance(payload, dict) or not isinstance(payload.get("reference"), str):
        raise ValueError('expected {"instructions": [...], "reference": "<reference answer>"}')
    return payload["reference"], json.dumps({"instructions": payload.get("instructions")})


def check_ground_truth(
    reward_type: str,
    answer: object,
    *,
    tolerance: object = None,
    image_size: object = None,
    coords: str = "absolute",
) -> None:
    """Validate one sample's reward fields when data is loaded; raises UnknownRewardType or ValueError."""
    check_reward_type(reward_type)
    check_coords(coords)
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"{reward_type}: the answer must be non-empty text, got {answer!r}")
    if reward_type in JUDGE_REWARD_TYPES:
        if reward_type == "instruction_following_llm_judge":
            try:
                reference, instructions = split_judge_answer(reward_type, answer)
                build_checkers(instructions)
            except ValueError as exc:
                raise ValueError(f"{reward_type} ground truth {answer[:200]!r}: {exc}") from None
            if not reference.strip():
                raise ValueError(f"{reward_type}: empty reference in {answer[:200]!r}")
        return
    ROUTES[reward_type].check_gold(answer)
    nan = isinstance(tolerance, float) and math.isnan(tolerance)  # Parquet's missing value
    if tolerance is not None and reward_type == "numeric" and clean_tolerance(tolerance) is None and not nan:
        raise ValueError(f"numeric: tolerance must be a number >= 0, got {tolerance!r}")
    if reward_type in SPATIAL_REWARD_TYPES and coords == "qwen1000" and clean_image_size(image_size) is None:
        raise ValueError(
            f"{reward_type} with coords='qwen1000' needs a positive image_size (w, h), got {image_size!r}"
        )


def math_verify_only_accuracy(completion: str, answer: str, *, timeout_s: float = 5.0) -> float:
    """The reward ablation: math-verify on the last boxed answer (else the answer text) for every sample."""
    if not isinstance(completion, str) or not isinstance(answer, str) or not answer.strip():
        return 0.0
    layout = parse_layout(completion)
    if layout.answer is None:
        return 0.0
    pred = last_boxed(layout.answer) or layout.answer.strip()
    if not pred:
        return 0.0
    return get_pool().check(answer, pred, None, timeout_s)[0]


def score_completion(
    completion: str,
    *,
    reward_type: str,
    answer: str,
    ctx: RouteContext,
    config: RewardConfig,
    completion_tokens: int | None,
    max_completion_tokens: int | None,
    question: str | None,
    judge_fn: JudgeFn | None,
    mode: str = "vero",
) -> RewardBreakdown:
    """The shared scorer behind compute_reward and the TRL batch reward (arguments already checked)."""
    if not isinstance(completion, str):
        completion = ""
    layout = parse_layout(completion)
    fmt = format_from_layout(layout, reward_type)
    extracted = graded_text(layout.answer, boxed=reward_type in BOXED_REWARD_TYPES)
    judged, flags, raw = True, (), 0.0
    if not isinstance(answer, str) or not answer.strip():
        raw = 0.0
    elif mode == "math_verify_only":
        raw = math_verify_only_accuracy(completion, answer, timeout_s=config.math_verify_timeout_s)
    elif reward_type in JUDGE_REWARD_TYPES:
        raw, judged, flags = _judge_accuracy(reward_type, answer, extracted, fmt, question, judge_fn)
    elif extracted is not None:
        try:
            if reward_type == "numeric":
                raw, reason = numeric_check(extracted, answer, ctx)
                if reason in MATH_VERIFY_FLAGS:
                    flags = (f"math_verify_{reason}",)
            else:
                raw = ROUTES[reward_type].score(extracted, answer, ctx)
        except MathVerifyUnavailable:
            raise  # a broken environment, not a bad completion: stop with its message
        except Exception:  # a route bug must not stop training; the sample scores 0
            raw = 0.0
            flags = ("route_error",)
    raw = _finite_unit(raw)
    accuracy = raw if fmt > 0 else 0.0
    over = overlong_penalty(
        completion_tokens,
        max_completion_tokens,
        buffer=config.overlong_buffer,
        penalty=config.overlong_penalty,
        enabled=config.overlong_enabled,
    )
    total = (1.0 - config.alpha) * accuracy + config.alpha * fmt + over
    return RewardBreakdown(
        total=float(total),
        accuracy=float(accuracy),
        format=float(fmt),
        overlong=float(over),
        raw_accuracy=float(raw),
        extracted=extracted,
        judged=judged,
        flags=tuple(flags),
    )


def _judge_accuracy(reward_type, answer, extracted, fmt, question, judge_fn):
    """(accuracy, judged, flags) of a judge-type sample. Without a judge: (0, False). The judge is not
    called for an output with format 0 (its accuracy is forced to 0 anyway) or an empty answer."""
    try:
        reference, instructions = split_judge_answer(reward_type, answer)
    except ValueError:
        return 0.0, True, ("bad_ground_truth",)
    if judge_fn is None:
        return 0.0, False, ()
    if fmt == 0 or not extracted:
        return 0.0, True, ()
    rate = constraint_rate(extracted, instructions) if instructions is not None else None
    result = judge_fn(question or "", reference, extracted)
    if result is None:
        return 0.0, False, ()
    score = _finite_unit(getattr(result, "score", 0.0))
    flags = tuple(getattr(result, "flags", ()) or ())
    if rate is not None:
        score = 0.5 * rate + 0.5 * score
    return score, True, flags


def compute_reward(
    completion: str,
    *,
    reward_type: str,
    answer: str,
    tolerance: float | None = None,
    image_size: tuple[int, int] | None = None,
    coords: str = "absolute",
    completion_tokens: int | None = None,
    max_completion_tokens: int | None = None,
    judge=None,
    question: str | None = None,
    config: RewardConfig | Mapping[str, Any] | None = None,
    mode: str = "vero",
) -> RewardBreakdown:
    """Score one completion with the Vero reward (RECIPE.md §3).

    `coords` is the coordinate system the model writes boxes and points in ("absolute" pixels or
    "qwen1000"); the gold is stored in absolute pixels and converted with `image_size`. Judge types
    (llm_judge, instruction_following_llm_judge) need `judge` (a JudgeClient) and `question`; without a
    judge their accuracy is 0 and the breakdown says `judged=False`. `mode="math_verify_only"` is the
    reward ablation. Raises only for invalid arguments (unknown reward_type, coords or mode, missing
    image size for qwen1000 boxes), never because of the completion's content.
    """
    check_reward_type(reward_type)
    check_coords(coords)
    if mode not in MODES:
        raise ValueError(f"unknown reward mode {mode!r}; expected one of {', '.join(MODES)}")
    size = clean_image_size(image_size)
    if reward_type in SPATIAL_REWARD_TYPES and coords == "qwen1000" and size is None:
        raise ValueError(
            f"{reward_type} with coords='qwen1000' needs a positive image_size (w, h), got {image_size!r}"
        )
    if config is None:
        config = _DEFAULT_CONFIG
    elif not isinstance(config, RewardConfig):
        config = RewardConfig.from_config(config)  # the `reward` config section as a dict
    ctx = RouteContext(
        tolerance=clean_tolerance(tolerance),
        image_size=size,
        coords=coords,
        math_verify_timeout_s=config.math_verify_timeout_s,
    )
    judge_fn = judge.score if judge is not None else None
    return score_completion(
        completion,
        reward_type=reward_type,
        answer=answer,
        ctx=ctx,
        config=config,
        completion_tokens=completion_tokens,
        max_completion_tokens=max_completion_tokens,
        question=question,
        judge_fn=judge_fn,
        mode=mode,
    )
