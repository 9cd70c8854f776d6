"""Per-benchmark summaries and the per-checkpoint summary (per benchmark, per category, overall).

Scores are percentages (0-100), like the paper's tables. A benchmark's score aggregates its
*scored* samples as the release does (`scoring.aggregation`); unscored samples (judge-graded ones
without a judge, judge replies that could not be read) are counted and reported, not averaged in
as 0. A category's score is the mean of its benchmarks' scores and the overall score the mean over
all benchmarks that have one; it names how many of the suite's benchmarks it covers (the paper
averages over all 30) and which are missing.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from vero.categories import CATEGORIES


def _sem(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    return statistics.stdev(values) / math.sqrt(len(values))


JUDGE_ERRORS = ("judge_unparsed", "judge_out_of_range")
AUXILIARY = "auxiliary"


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _pct(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def _aggregate(
    records: Sequence[Mapping], scored: list[float], aggregation: str
) -> tuple[float | None, dict]:
    """(benchmark score in %, further figures) by the registry's `scoring.aggregation`."""
    extra: dict[str, Any] = {}
    if aggregation == "subtask_macro":
        groups: dict[str, list[float]] = {}
        for r in records:
            if r.get("score") is not None:
                groups.setdefault(str(r.get("subtask") or "all"), []).append(float(r["score"]))
        per = {k: 100.0 * statistics.fmean(v) for k, v in sorted(groups.items())}
        extra["subtasks"] = {k: {"score": v, "n_scored": len(groups[k])} for k, v in per.items()}
        extra["pooled_score"] = _pct(_mean(scored))
        return (statistics.fmean(per.values()) if per else None), extra
    if aggregation == "mm_mt_bench":
        ratings = [
            float(r["metrics"]["rating"])
            for r in records
            if r.get("score") is not None and "rating" in (r.get("metrics") or {})
        ]
        by_cat: dict[str, list[float]] = {}
        for r in records:
            if r.get("score") is not None and "rating" in (r.get("metrics") or {}):
                cat = (r.get("detail") or {}).get("category")
                if cat is not None:
                    by_cat.setdefault(str(cat), []).append(float(r["metrics"]["rating"]))
        micro = _mean(ratings)
        extra["micro_average"] = micro
        extra["macro_average"] = _mean([statistics.fmean(v) for v in by_cat.values()])
        extra["rating_scale"] = "1-10; score = 10 x micro average"
        return (None if micro is None else 10.0 * micro), extra
    return _pct(_mean(scored)), extra


def benchmark_summary(
    records: Sequence[Mapping],
    *,
    meta: Mapping[str, Any],
    scoring: Mapping | None = None,
    max_unparsed_share: float | None = None,
) -> dict:
    """Summary of one (experiment, checkpoint, benchmark) from its per-sample records.

    The score (in %) follows the registry's `scoring.aggregation` (mean; BLINK's mean of subtask
    accuracies; MM-MT-Bench's 1–10 micro average × 10). Per-sample `metrics` (AerialVG's IoU and
    acc@0.75) are averaged beside it. Judge replies that stayed unparsed or out of range are
    counted; when their share of the judged samples passes `max_unparsed_share` the benchmark is
    not published (score None, `refused` says why)."""
    n_aux = sum(1 for r in records if r.get("unscored_reason") == AUXILIARY)
    records = [r for r in records if r.get("unscored_reason") != AUXILIARY]
    scored = [float(r["score"]) for r in records if r.get("score") is not None]
    unscored = Counter(r.get("unscored_reason") or "unknown" for r in records if r.get("score") is None)
    fmt = [float(r["reward_format"]) for r in records if r.get("reward_format") is not None]
    tokens = [int(r["completion_tokens"]) for r in records if r.get("completion_tokens") is not None]
    aggregation = (scoring or {}).get("aggregation", "mean")
    score, extra = _aggregate(records, scored, aggregation)
    out = {
        **dict(meta),
        "n": len(records),
        "n_scored": len(scored),
        "n_unscored": sum(unscored.values()),
        "unscored_reasons": dict(sorted(unscored.items())),
        "score": score,
        "score_sem": (100.0 * _sem(scored)) if aggregation == "mean" and _sem(scored) is not None else None,
        "aggregation": aggregation,
        "mean_format_reward": statistics.fmean(fmt) if fmt else None,
        "mean_completion_tokens": statistics.fmean(tokens) if tokens else None,
    }
    if n_aux:
        out["n_auxiliary"] = n_aux
    metric_names = sorted(
        {k for r in records if r.get("score") is not None for k in (r.get("metrics") or {})}
    )
    if metric_names:
        out["metrics"] = {
            k: _pct(
                _mean(
                    [
                        float(r["metrics"][k])
                        for r in records
                        if k in (r.get("metrics") or {}) and r.get("score") is not None
                    ]
                )
            )
            for k in metric_names
            if k != "rating"
        }
    out.update(extra)
    formats = Counter(r["format"] for r in records if r.get("format"))
    if formats:
        out["formats"] = dict(sorted(formats.items()))
    guesses = sum(1 for r in records if (r.get("detail") or {}).get("random_guess"))
    if guesses:
        out["random_guesses"] = guesses
    if scoring and scoring.get("method") and _is_judge(scoring["method"]):
        n_judged = sum(
            1 for r in records if r.get("unscored_reason") not in ("no_judge", "missing_aux_answer")
        )
        errors = {e: unscored.get(e, 0) for e in JUDGE_ERRORS}
        share = (sum(errors.values()) / n_judged) if n_judged else 0.0
        out["judge"] = {"n_judged": n_judged, **errors, "error_share": share}
        if max_unparsed_share is not None and n_judged and share > max_unparsed_share:
            out["refused"] = (
                f"{sum(errors.values())} of {n_judged} judge replies unparsed or out of range "
                f"({share:.1%} > eval.judge.max_unparsed_share {max_unparsed_share:.1%})"
            )
            out["score"] = None
    if out["score"] is None:
        reason = out.get("refused") or "no sample could be scored" + (
            f" ({', '.join(f'{k}: {v}' for k, v in out['unscored_reasons'].items())})" if unscored else ""
        )
        out["note"] = f"{reason}; the benchmark is left out of the averages and named among the missing ones"
    return out


def _is_judge(method: str) -> bool:
    from vero.eval.scorers import is_judge_method

    return is_judge_method(method)


def checkpoint_summary(
    benchmarks: Iterable[Mapping],
    *,
    experiment: str,
    checkpoint: str,
    expected: Sequence[str] | None = None,
) -> dict:
    """summary.json of one (experiment, checkpoint): per benchmark, per category, overall.

    `expected` is the suite the overall score stands for (VeroEval: its 30 benchmarks); the
    overall average names how many of them it covers and which are missing (not evaluated, or
    evaluated without a score), and is marked incomplete when any is."""
    per_bench = {}
    for b in benchmarks:
        per_bench[b["benchmark"]] = {
            k: b.get(k)
            for k in (
                "name",
                "category",
                "metric",
                "score",
                "score_sem",
                "n",
                "n_scored",
                "n_unscored",
                "unscored_reasons",
            )
        }
        for k in ("note", "refused", "metrics", "judge", "aggregation", "micro_average", "macro_average"):
            if b.get(k) is not None:
                per_bench[b["benchmark"]][k] = b[k]
    expected = list(expected) if expected is not None else list(per_bench)
    categories = {}
    for cat in CATEGORIES:
        members = {k: v for k, v in per_bench.items() if v["category"] == cat}
        if not members:
            continue
        scores = [v["score"] for v in members.values() if v["score"] is not None]
        categories[cat] = {
            "score": statistics.fmean(scores) if scores else None,
            "n_benchmarks": len(members),
            "n_scored_benchmarks": len(scores),
            "benchmarks": list(members),
        }
    all_scores = [v["score"] for v in per_bench.values() if v["score"] is not None]
    unscored = [k for k, v in per_bench.items() if v["score"] is None]
    not_evaluated = [k for k in expected if k not in per_bench]
    missing = [k for k in expected if k in unscored or k in not_evaluated]
    complete = not missing and not unscored
    summary = {
        "experiment": experiment,
        "checkpoint": checkpoint,
        "benchmarks": per_bench,
        "categories": categories,
        "overall": {
            "score": statistics.fmean(all_scores) if all_scores else None,
            "n_benchmarks": len(per_bench),
            "n_scored_benchmarks": len(all_scores),
            "n_expected_benchmarks": len(expected),
            "covers": f"{len(all_scores)} of {len(expected)} benchmarks",
            "complete": complete,
            "missing": missing,
            "definition": "mean over benchmarks with a score",
        },
        "unscored_benchmarks": unscored,
    }
    if not_evaluated:
        summary["not_evaluated_benchmarks"] = not_evaluated
    if not complete:
        parts = []
        if unscored:
            parts.append(f"{len(unscored)} without a score ({', '.join(unscored)})")
        if not_evaluated:
            parts.append(f"{len(not_evaluated)} not evaluated ({', '.join(not_evaluated)})")
        summary["note"] = (
            f"overall covers {len(all_scores)} of {len(expected)} benchmarks: "
            + "; ".join(parts)
            + ". Missing benchmarks are left out of the averages, not counted as 0; the overall is "
            "not comparable with an average over the full suite"
        )
    return summary


def expected_benchmarks(cfg: Mapping) -> list[str]:
    """The benchmarks an overall score stands for: the whole suite of `eval.suite`, whatever
    `eval.benchmarks` narrows the run to."""
    from vero.eval.registry import load_registry, mini_suite, registry_path

    if (cfg.get("eval") or {}).get("suite", "veroeval") == "mini":
        return list(mini_suite(cfg.get("results_dir", "results")))
    return list(load_registry(registry_path(cfg)))


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically, so an interrupted job never leaves a half file behind as output."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{path}: evaluation output not found") from e
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from e
