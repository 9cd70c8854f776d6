"""Score model outputs against `EvalSample`s.

VeroEval benchmarks carry a registry `scoring:` block (`spec.scoring`): they are scored as the
Vero release scores them, by rule (`vero.eval.scorers`) or by their own judge grader
(`vero.eval.judges`), whatever the output's layout (the layout is recorded as `format`; there is
no format gate). Unparseable or out-of-range judge replies leave the sample unscored with the
reason `judge_unparsed` / `judge_out_of_range`, counted per benchmark.

Benchmarks without a scoring block (the whole mini suite) go through
`vero.rewards.compute_reward`, so evaluation grades exactly what training rewards.
The score is the route's accuracy before the format gate (`raw_accuracy`) unless
`require_format` is set, in which case it is the gated accuracy of the reward. The other
metrics (relaxed accuracy, ANLS, IoU, point-in-box, IFEval) live in `vero.eval.metrics`.

A judge-scored sample with no judge configured is *unscored* (score None, reason
"no_judge"), never counted as 0. Scoring never raises: an unexpected error scores the sample
as unscored with the reason "scoring_error:<ExceptionType>"; only a judge outage
(`JudgeUnavailable`) is raised, so the job fails and reruns instead of reporting holes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    scoring: Mapping | None = None,
    aux: Mapping | None = None,
    judge_retries: int = 2,
) -> dict:
    """A record of fields to store beside the sample: extracted, score (float in [0, 1] or None),
    unscored_reason, and for reward-scored samples the reward breakdown; with a `scoring` block
    (VeroEval) also `format`, per-sample `metrics` and the scorer's `detail`."""
    try:
        if scoring and scoring.get("method"):
            return _score_release(
                sample, output, scoring, coords=coords, judge=judge, aux=aux, judge_retries=judge_retries
            )
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


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _score_release(
    sample: EvalSample,
    output: Any,
    scoring: Mapping,
    *,
    coords: str,
    judge: Any,
    aux: Mapping | None,
    judge_retries: int,
) -> dict:
    from vero.eval import scorers
    from vero.eval.answers import answer_layout

    method = scoring["method"]
    doc = scorers.doc_for(sample, method)
    ctx = scorers.Context(key=f"{sample.benchmark}:{sample.id}", coords=coords, aux=aux or {})
    text = output if isinstance(output, str) else ""
    if scorers.is_judge_method(method):
        if judge is None:
            return {
                "extracted": None,
                "score": None,
                "unscored_reason": "no_judge",
                "format": answer_layout(text),
                "metrics": {},
            }
        from vero.eval.judges import grade

        scored = grade(method, doc, text, judge, ctx, retries=judge_retries)
    else:
        scored = scorers.score_rule(method, text, doc, ctx)
    detail = dict(scored.detail)
    record = {
        "extracted": _jsonable(scored.extracted),
        "score": None if scored.score is None else float(scored.score),
        "unscored_reason": scored.unscored_reason if scored.score is None else None,
        "format": detail.pop("format", answer_layout(text)),
        "metrics": {k: float(v) for k, v in scored.metrics.items()},
    }
    if scored.score is None and record["unscored_reason"] is None:
        record["unscored_reason"] = "unscored"
    subtask = (sample.meta or {}).get("config") or doc.get("sub_task")
    if subtask:
        record["subtask"] = str(subtask)
    if detail:
        record["detail"] = _jsonable(detail)
    return record


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


# ---- a whole benchmark -----------------------------------------------------------------------------


def benchmark_coords(cfg: Mapping, spec: Any) -> str:
    """How a benchmark reads predicted coordinates: its registry `scoring.coords` for the model
    family and `eval.coords_variant` (the release's reasoning tasks: pixels for every family);
    benchmarks without one (the mini suite) use the family's own convention."""
    from vero.models import coords_for as family_coords

    family = (cfg.get("model") or {}).get("family")
    scoring = getattr(spec, "scoring", None) or {}
    if scoring.get("coords"):
        from vero.eval.scorers import coords_for

        variant = (cfg.get("eval") or {}).get("coords_variant", "reasoning")
        return coords_for(scoring, family, variant)
    return family_coords(family) if family else "absolute"


def auxiliary_answers(samples: Sequence[EvalSample], texts: Sequence[str], scoring: Mapping | None) -> dict:
    """MMIFEval's answers to questions asked without one constraint (rows whose `infer_type` is
    `aux_cmp_gpt`), by (row id, removed constraint): the inputs of its comparison checks."""
    if not scoring or scoring.get("method") != "mmifeval":
        return {}
    from vero.eval.judges import _mmif_prediction, mmif_aux_key
    from vero.eval.scorers import doc_for

    out = {}
    for s, text in zip(samples, texts, strict=True):
        doc = doc_for(s, "mmifeval")
        if doc.get("infer_type") == "aux_cmp_gpt" and doc.get("del_cons") and doc.get("id") is not None:
            out[mmif_aux_key(doc["id"], doc["del_cons"])] = _mmif_prediction(
                text if isinstance(text, str) else ""
            )
    return out


def score_all(
    samples: Sequence[EvalSample],
    texts: Sequence[str],
    counts: Sequence[int | None],
    *,
    judge: Any,
    judge_concurrency: int = 16,
    desc: str = "score",
    scoring: Mapping | None = None,
    **score_kwargs: Any,
) -> list[dict]:
    """Score every output of one benchmark. Judge-graded samples wait on an HTTP endpoint, so
    they run in a thread pool (the judge client bounds its own concurrency); the rest run in this
    thread, where math-verify's signal-based timeout works."""
    import sys
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from tqdm.auto import tqdm

    from vero.eval.scorers import is_judge_method

    method = (scoring or {}).get("method")
    aux = auxiliary_answers(samples, texts, scoring)
    results: list[dict | None] = [None] * len(samples)
    if method:
        remote = [i for i in range(len(samples)) if judge is not None and is_judge_method(method)]
    else:
        remote = [i for i, s in enumerate(samples) if judge is not None and s.reward_type in JUDGE_TYPES]
    remote_set = set(remote)

    def one(i: int) -> dict:
        return score_output(
            samples[i],
            texts[i],
            judge=judge,
            completion_tokens=counts[i],
            scoring=scoring,
            aux=aux,
            **score_kwargs,
        )

    with tqdm(total=len(samples), desc=desc, unit="sample", mininterval=5, file=sys.stderr) as bar:
        for i in range(len(samples)):
            if i not in remote_set:
                results[i] = one(i)
                bar.update(1)
        if remote:
            with ThreadPoolExecutor(max(1, judge_concurrency)) as pool:
                futures = {pool.submit(one, i): i for i in remote}
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar.update(1)
    return results  # type: ignore[return-value]


def score_doc(method: str, output: Any, doc: Mapping, *, coords: str = "absolute", key: str = "") -> dict:
    """Score one output against one benchmark row with a rule scorer (the differential corpus
    calls this): {"score", "extracted", "metrics", "format", "detail"}."""
    from vero.eval import scorers

    s = scorers.score_rule(method, output, doc, scorers.Context(key=key, coords=coords))
    detail = dict(s.detail)
    return {
        "score": s.score,
        "extracted": _jsonable(s.extracted),
        "metrics": dict(s.metrics),
        "format": detail.pop("format", None),
        "detail": detail,
    }


def needs_judge_for(spec: Any, samples: Sequence[EvalSample]) -> bool:
    """Whether scoring a benchmark's samples calls the judge."""
    from vero.eval.scorers import is_judge_method

    method = (getattr(spec, "scoring", None) or {}).get("method")
    if method:
        return is_judge_method(method) and bool(samples)
    return any(s.reward_type in JUDGE_TYPES for s in samples)
