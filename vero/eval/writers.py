"""Outputs of the evaluation stage other than the per-benchmark job: the per-checkpoint summary
and its W&B eval run (rule eval_summary), the comparison tables (rule eval_comparison), the
checkpoint-sweep curves (rule eval_sweep), and the atomic JSON / JSONL writers they share.

What goes into a summary or a table is computed by vero.eval.aggregate, vero.eval.comparison and
vero.eval.sweep; this module reads inputs, writes files and logs runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from vero.categories import CATEGORIES
from vero.eval.aggregate import checkpoint_summary, expected_benchmarks, read_json, write_json
from vero.eval.registry import paper_reference, registry_path

BASE = "base"
__all__ = [
    "log_eval_run",
    "summarize_checkpoint",
    "write_comparison",
    "write_json",
    "write_jsonl",
    "write_sweep",
]


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_jsonl(path: str | Path, records: Sequence[Mapping]) -> None:
    """One JSON object per line, written atomically."""
    write_text(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records))


def summarize_checkpoint(
    cfg: Mapping,
    *,
    experiment: str,
    checkpoint: str,
    benchmark_jsons: Sequence[str | Path],
    out: str | Path,
    track: bool = True,
) -> dict:
    """Write summary.json for one (experiment, checkpoint) and log it to a W&B eval run."""
    benches = [read_json(p) for p in benchmark_jsons]
    summary = checkpoint_summary(
        benches, experiment=experiment, checkpoint=checkpoint, expected=expected_benchmarks(cfg)
    )
    write_json(out, summary)
    if track:
        log_eval_run(cfg, summary)
    return summary


def log_eval_run(cfg: Mapping, summary: Mapping) -> None:
    """One W&B run (job_type "eval") per evaluated experiment checkpoint: the per-benchmark table
    plus category and overall scores in the run summary. W&B trouble never fails the job."""
    import pandas as pd

    from vero.tracking import init_run

    experiment, checkpoint = summary["experiment"], summary["checkpoint"]
    experiments = cfg.get("experiments") or {}
    ablation = "base" if experiment == BASE else experiments.get(experiment, {}).get("ablation", "main")
    run = init_run(
        experiment=experiment,
        group=ablation,
        job_type="eval",
        config={
            "eval": dict(cfg.get("eval") or {}),
            "model": dict(cfg.get("model") or {}),
            "checkpoint": checkpoint,
        },
        wandb_cfg=cfg.get("wandb"),
        name=f"{experiment}-eval-{checkpoint}",
    )
    try:
        keys = ("category", "metric", "score", "n", "n_scored")
        table = pd.DataFrame(
            [{"benchmark": k, **{c: v[c] for c in keys}} for k, v in summary["benchmarks"].items()]
        )
        run.log_table("eval/benchmarks", table)
        values = {"eval/overall": summary["overall"]["score"]}
        values.update({f"eval/{c}": v["score"] for c, v in summary["categories"].items()})
        run.summary_update({k: v for k, v in values.items() if v is not None})
    finally:
        run.finish()


def write_comparison(
    cfg: Mapping, *, summary_paths: Mapping[str, str | Path], out_md: str | Path, out_csv: str | Path
) -> tuple[str, str]:
    """The comparison of every experiment with the base model and the paper (Markdown + CSV)."""
    from vero.eval.comparison import build_comparison

    summaries = {name: read_json(p) for name, p in summary_paths.items()}
    md, csv_text = build_comparison(summaries, cfg, paper_reference(registry_path(cfg)))
    write_text(out_md, md)
    write_text(out_csv, csv_text)
    return md, csv_text


def write_sweep(
    cfg: Mapping,
    *,
    experiment: str,
    summary_paths: Mapping[str, str | Path],
    out_csv: str | Path,
    out_json: str | Path,
    track: bool = True,
) -> list[dict]:
    """Write the sweep curve (CSV + JSON) and log it to a W&B eval run, one point per step."""
    from vero.eval.sweep import curve_csv, sweep_curve

    rows = sweep_curve(cfg, experiment, {c: read_json(p) for c, p in summary_paths.items()})
    write_json(out_json, {"experiment": experiment, "points": rows})
    write_text(out_csv, curve_csv(rows))
    if track:
        from vero.tracking import init_run

        run = init_run(
            experiment=experiment,
            group=(cfg.get("experiments") or {}).get(experiment, {}).get("ablation", "main"),
            job_type="eval",
            config={"eval": dict(cfg.get("eval") or {}), "sweep": [r["checkpoint"] for r in rows]},
            wandb_cfg=cfg.get("wandb"),
            name=f"{experiment}-eval-sweep",
        )
        try:
            for r in rows:
                point = {"sweep/overall": r["overall"]}
                point.update({f"sweep/{c}": r[c] for c in CATEGORIES if r.get(c) is not None})
                run.log({k: v for k, v in point.items() if v is not None}, step=int(r["step"]))
        finally:
            run.finish()
    return rows
