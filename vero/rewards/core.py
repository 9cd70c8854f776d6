"""compute_reward: R = (1 − α)·R_acc + α·R_fmt + R_overlong, with R_acc forced to 0 when R_fmt is 0."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from vero.rewards.answer import answer_text, format_score, graded_answer
from vero.rewards.ifeval import (
    check_instruction_gold,
    load_instruction_payload,
    release_constraint_rate,
    warm_up_checkers,
)
from vero.rewards.mathverify_pool import MathVerifyUnavailable, get_pool
from vero.rewards.overlong import overlong_penalty
from vero.rewards.routes import ROUTES, RouteContext
from vero.rewards.routes.numeric import numeric_check
from vero.rewards.semantics import RELEASE, Corrections, corrections_for
from vero.rewards.text import last_boxed, parse_layout
from vero.rewards.types import (
    JUDGE_REWARD_TYPES,
    REWARD_TYPES,
    SPATIAL_REWARD_TYPES,
    RewardBreakdown,
    RewardConfig,
    check_coords,
    check_reward_type,
)

IF_REWARD_TYPES = frozenset({"instruction_following", "instruction_following_llm_judge"})
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


def normalize_reward_type(reward_type: object) -> str:
    """The reward type as the release reads it (trimmed, lower case), checked against REWARD_TYPES."""
    return check_reward_type(reward_type.strip().lower() if isinstance(reward_type, str) else reward_type)


def extract_answer(completion: str, reward_type: str) -> str | None:
    """The text a route grades (vero.rewards.answer.graded_answer): the first answer block (else the whole
    output), narrowed to its last non-empty `\\boxed{}` for boxed types; None when nothing is graded."""
    reward_type = normalize_reward_type(reward_type)
    if not isinstance(completion, str):
        return None
    return graded_answer(completion, reward_type)


def check_ground_truth(
    reward_type: str,
    answer: object,
    *,
    tolerance: object = None,
    image_size: object = None,
    coords: str = "absolute",
) -> None:
    """Validate one sample's reward fields when data is loaded; raises UnknownRewardType or ValueError.

    Accepts the answer forms the release's reward reads: a number_list written "2, 0, 1", an IFEval
    payload JSON-encoded twice, IFEval instructions with an argument missing (IFEval draws it), an
    instruction_following_llm_judge payload without "reference". Refuses what no semantics can grade:
    an empty answer, a gold with nothing to compare against, an unknown IFEval checker."""
    reward_type = normalize_reward_type(reward_type)
    check_coords(coords)
    if not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"{reward_type}: the answer must be non-empty text, got {answer!r}")
    if reward_type in IF_REWARD_TYPES:
        check_instruction_gold(answer, need_instructions=reward_type == "instruction_following")
        return
    if reward_type == "llm_judge":
        return
    ROUTES[reward_type].check_gold(answer.strip())
    if reward_type in SPATIAL_REWARD_TYPES and coords == "qwen1000" and not release_image_size(image_size):
        raise ValueError(
            f"{reward_type} with coords='qwen1000' needs the image size (w, h) to convert the gold boxes,"
            f" got {image_size!r}"
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


def release_image_size(image_size: object) -> tuple[int, int] | None:
    """(w, h) as the release's reward reads a size: two numbers, each truncated to int (0 allowed);
    None when absent or unusable. Arrays and tuples are read like lists, {"width", "height"} too, and a
    list of sizes (the release's `image_sizes`) gives its first."""
    if image_size is None:
        return None
    if type(image_size) in (tuple, list) and len(image_size) == 2:
        w, h = image_size
        if type(w) is int and type(h) is int:  # the common case, without the general checks below
            return w, h
    if not isinstance(image_size, list | tuple):
        if hasattr(image_size, "tolist"):
            image_size = image_size.tolist()
        elif isinstance(image_size, Mapping):
            image_size = (image_size.get("width"), image_size.get("height"))
    if not isinstance(image_size, list | tuple) or not image_size:
        return None
    if isinstance(image_size[0], list | tuple | Mapping):
        return release_image_size(image_size[0])  # the release's `image_sizes` (one per image): the first
    if not isinstance(image_size, list | tuple) or len(image_size) != 2:
        return None
    w, h = image_size
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (w, h)):
        return None
    return int(w), int(h)


def release_tolerance(tolerance: object) -> float | None:
    """The tolerance as the release reads it: anything `float()` takes, negative ones ignored. NaN is a
    missing value (Parquet's null) and is ignored too."""
    if tolerance is None:
        return None
    try:
        t = float(tolerance)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(t) or t < 0 else t


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
    raw_accuracy: bool = True,
) -> RewardBreakdown:
    """The shared scorer behind compute_reward and the TRL batch reward (arguments already checked).
    `raw_accuracy=False` skips the route when the format is 0 (its accuracy is 0 whatever the route says;
    `raw_accuracy` is then 0 too): training needs no more, evaluation reports the ungated value.

    As the release: R = (1 − α)·acc + α·fmt + overlong, acc forced to 0 when fmt is 0 (for judge types
    only the rule-based part, unless `judge_format_gate`)."""
    fix = ctx.fix
    if not isinstance(completion, str):
        completion = str(completion)  # the release scores str(output)
    if not isinstance(answer, str):
        answer = str(answer)
    answer = answer.strip()
    block = answer_text(completion)
    fmt = format_score(completion, reward_type, block)
    extracted = graded_answer(completion, reward_type, block)
    judged, flags, raw = True, [], 0.0
    if reward_type in SPATIAL_REWARD_TYPES and ctx.image_size is None:
        flags.append("no_image_size")
    if mode == "math_verify_only":
        raw = math_verify_only_accuracy(completion, answer, timeout_s=config.math_verify_timeout_s)
    elif extracted is not None and answer and (raw_accuracy or fmt > 0):
        try:
            if reward_type == "numeric":
                raw, reason = numeric_check(extracted, answer, ctx)
                if reason in MATH_VERIFY_FLAGS:
                    flags.append(f"math_verify_{reason}")
            elif reward_type in IF_REWARD_TYPES:
                raw, if_flags = release_constraint_rate(extracted, answer, fix)
                flags.extend(if_flags)
            elif reward_type in ROUTES:
                raw = ROUTES[reward_type].score(extracted, answer, ctx)
        except MathVerifyUnavailable:
            raise  # a broken environment, not a bad completion: stop with its message
        except Exception:  # the release scores any failure inside a route 0; so does this
            raw = 0.0
            flags.append("route_error")
    raw = _finite_unit(raw)
    accuracy = raw if fmt > 0 else 0.0
    if reward_type in JUDGE_REWARD_TYPES and mode != "math_verify_only":
        accuracy, judged, judge_flags = _judge_accuracy(
            reward_type, answer, completion, accuracy, fmt, question, judge_fn, fix
        )
        raw = accuracy
        flags.extend(judge_flags)
    over = overlong_penalty(
        completion_tokens,
        config.overlong_max_length or max_completion_tokens,
        buffer=config.overlong_buffer,
        penalty=config.overlong_penalty,
        enabled=config.overlong_enabled,
        clip=fix.overlong_clip,
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


def judge_reference(reward_type: str, answer: str, fix: Corrections = RELEASE) -> str:
    """What the judge is given as the reference: the whole ground truth (the release), or with
    `judge_reference_only` the payload's "reference" text when it has one."""
    if reward_type == "instruction_following_llm_judge" and fix.judge_reference_only:
        payload = load_instruction_payload(answer)
        if isinstance(payload.get("reference"), str) and payload["reference"].strip():
            return payload["reference"]
    return answer


def _judge_accuracy(reward_type, answer, completion, rule_accuracy, fmt, question, judge_fn, fix):
    """(accuracy, judged, flags) of a judge-type sample, combined as the release's reward manager does:
    llm_judge → s; instruction_following_llm_judge → ½·(constraint rate, format-gated) + ½·s, with s the
    judge's score in [0, 1]. The judge sees the first answer block (else the whole output). Without a
    judge: judged=False and the rule-based part alone, as the release's compute_score returns it (0 for
    llm_judge, the format-gated constraint rate for instruction_following_llm_judge); training skips
    such samples. With `judge_format_gate`, format 0 gives 0 without a judge call."""
    if judge_fn is None:  # the rule-based part alone, as the release's compute_score returns it
        return (rule_accuracy if reward_type == "instruction_following_llm_judge" else 0.0), False, ()
    if fix.judge_format_gate and fmt == 0:
        return 0.0, True, ()
    result = judge_fn(question or "", judge_reference(reward_type, answer, fix), answer_text(completion))
    if result is None:
        return 0.0, False, ()
    score = _finite_unit(getattr(result, "score", 0.0))
    flags = tuple(getattr(result, "flags", ()) or ())
    if reward_type == "instruction_following_llm_judge":
        score = 0.5 * rule_accuracy + 0.5 * score
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
    semantics: str | None = None,
    raw_accuracy: bool = True,
) -> RewardBreakdown:
    """Score one completion with the Vero reward (RECIPE.md §3).

    `semantics` ("release" or "corrected"; default: the config's `reward.semantics`) chooses between the
    release's reward as the paper trained with it and the same with the corrections of
    vero/rewards/semantics.py. `coords` is the coordinate system the model writes boxes and points in
    ("absolute" pixels or "qwen1000"); the gold is stored in absolute pixels and converted with
    `image_size`. Judge types (llm_judge, instruction_following_llm_judge) need `judge` (a JudgeClient)
    and `question`; without a judge their accuracy is 0 and the breakdown says `judged=False`.
    `mode="math_verify_only"` is the reward ablation. `raw_accuracy=False` skips grading an output whose
    format is 0 (its accuracy is 0 anyway), as the TRL reward does. Raises only for invalid arguments (unknown
    reward_type, coords, mode or semantics), never because of the completion's content: a spatial
    sample without an image size scores accuracy 0, as in the release, with the flag `no_image_size`.
    """
    reward_type = normalize_reward_type(reward_type)
    check_coords(coords)
    if mode not in MODES:
        raise ValueError(f"unknown reward mode {mode!r}; expected one of {', '.join(MODES)}")
    if config is None:
        config = _DEFAULT_CONFIG
    elif not isinstance(config, RewardConfig):
        config = RewardConfig.from_config(config)  # the `reward` config section as a dict
    ctx = route_context(
        tolerance, image_size, coords, config, semantics if semantics is not None else config.semantics
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
        raw_accuracy=raw_accuracy,
    )


def route_context(tolerance, image_size, coords: str, config: RewardConfig, semantics: str) -> RouteContext:
    """The per-sample context of the routes, with the sample's fields read as the release reads them."""
    return _route_context(
        release_tolerance(tolerance),
        release_image_size(image_size),
        coords,
        config.math_verify_timeout_s,
        semantics,
    )


@lru_cache(maxsize=4096)
def _route_context(tolerance, image_size, coords, timeout_s, semantics) -> RouteContext:
    return RouteContext(tolerance, image_size, coords, timeout_s, corrections_for(semantics))


_WARM_NUMERIC = (
    (r"\frac{1}{3}", "1/3", None),
    ("17", "x = 17", None),
    (r"17\%", "18%", None),
    ("1024", "2^{10}", None),
    ("17000", "17,000", None),
    (r"5\sqrt{2}", r"\sqrt{50}", None),
    (r"\frac{3\pi}{7}", r"3\pi/7", None),
    (r"\{1,2\}", r"\{2,1\}", None),
    ("[1,2]", "(1,2)", None),
    (r"\begin{pmatrix}1&2\end{pmatrix}", r"\begin{pmatrix}1&3\end{pmatrix}", None),
    ("x^2+1", "(x+1)^2-2x", None),
    ("3.5", "7/2", 0.01),
    ("3.14159", "pi", 0.01),
    ("2.5", "2,5", 0.01),
)


def warm_up(reward_types=None, *, config: RewardConfig | Mapping[str, Any] | None = None) -> dict[str, float]:
    """Pay every route's one-time costs now (at start-up), not inside the first training step: start the
    math-verify worker and parse through it, read math-verify's letter extraction, load the IFEval
    checkers, langdetect's language profiles and nltk's punkt model (~1.5 s; the punkt status is logged),
    import scipy's assignment solver. Returns the
    seconds spent per reward type. `reward_types` defaults to all."""
    import time

    from vero.rewards.routes.spatial import grounding_score
    from vero.rewards.routes.text_match import gold_letter

    config = config if isinstance(config, RewardConfig) else RewardConfig.from_config(config)
    types = [normalize_reward_type(rt) for rt in (reward_types or REWARD_TYPES)]
    spent: dict[str, float] = {}
    for rt in dict.fromkeys(types):
        start = time.perf_counter()
        if rt == "numeric":
            # One of each form whose first parse or comparison loads a part of sympy (seconds, once).
            pool = get_pool()
            for kind in ("release", "vero"):
                for gold, pred, tol in _WARM_NUMERIC:
                    pool.check(gold, pred, tol, config.math_verify_timeout_s, kind=kind)
        elif rt == "multiple_choice":
            gold_letter("(A)")
        elif rt in IF_REWARD_TYPES:
            warm_up_checkers()  # also logs where nltk's punkt model comes from (or that there is none)
        elif rt in SPATIAL_REWARD_TYPES:
            grounding_score([[0, 0, 1, 1], [1, 1, 2, 2]], [[0, 0, 1, 1], [1, 1, 3, 3]])
        spent[rt] = time.perf_counter() - start
    return spent
