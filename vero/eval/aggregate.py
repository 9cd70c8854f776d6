"""Per-benchmark summaries and the per-checkpoint summary (per benchmark, per category, overall).

Scores are percentages (0-100), like the paper's tables. A benchmark's score is the mean over its
*scored* samples; unscored samples (judge-type with no judge) are counted and reported, not
averaged in as 0. A category's score is the mean of its benchmarks' scores and the overall score
the mean over all benchmarks that have one (the paper averages over the 30 benchmarks).
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


def benchmark_summary(records: Sequence[Mapping], *, meta: Mapping[str, Any]) -> dict:
    """Summary of one (experiment, checkpoint, benchmark) from its per-sample records."""
    scored = [float(r["score"]) for r in records if r.get("score") is not None]
    unscored = Counter(r.get("unscored_reason") or "unknown" for r in records if r.get("score") is None)
    fmt = [float(r["reward_format"]) for r in records if r.get("reward_format") is not None]
    tokens = [int(r["completion_tokens"]) for r in records if r.get("completion_tokens") is not None]
    out = {
        **dict(meta),
        "n": len(records),
        "n_scored": len(scored),
        "n_unscored": sum(unscored.values()),
        "unscored_reasons": dict(sorted(unscored.items())),
        "score": 100.0 * statistics.fmean(scored) if scored else None,
        "score_sem": (100.0 * _sem(scored)) if _sem(scored) is not None else None,
        "mean_format_reward": statistics.fmean(fmt) if fmt else None,
        "mean_completion_tokens": statistics.fmean(tokens) if tokens else None,
    }
    if out["score"] is None:
        out["note"] = (
            "no sample could be scored"
            + (f" ({', '.join(f'{k}: {v}' for k, v in out['unscored_reasons'].items())})" if unscored else "")
            + "; the benchmark is left out of the category and overall averages"
        )
    return out


def checkpoint_summary(benchmarks: Iterable[Mapping], *, experiment: str, checkpoint: str) -> dict:
    """summary.json of one (experiment, checkpoint): per benchmark, per category, overall."""
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
        if b.get("note"):
            per_bench[b["benchmark"]]["note"] = b["note"]
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
    summary = {
        "experiment": experiment,
        "checkpoint": checkpoint,
        "benchmarks": per_bench,
        "categories": categories,
        "overall": {
            "score": statistics.fmean(all_scores) if all_scores else None,
            "n_benchmarks": len(per_bench),
            "n_scored_benchmarks": len(all_scores),
            "definition": "mean over benchmarks with a score",
        },
        "unscored_benchmarks": unscored,
    }
    if unscored:
        summary["note"] = (
            f"{len(unscored)} benchmark(s) have no scored sample ({', '.join(unscored)}), e.g. judge-scored "
            "ones without a judge (reward.judge.enabled: false); they are left out of the averages, "
            "not counted as 0"
        )
    return summary


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
