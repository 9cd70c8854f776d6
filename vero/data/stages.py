"""The data stage's steps as functions of the validated config (called by workflow_scripts/data_*.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vero.categories import CATEGORIES
from vero.config import resolve_experiment
from vero.data.filtering import (
    ContaminationIndex,
    FilterSettings,
    aggregate_reports,
    check_drop_limit,
    filter_file,
    report_markdown,
)
from vero.data.ingest import split_by_category
from vero.data.io import write_records
from vero.data.mixing import build_mix
from vero.data.question_filter import QuestionFilterSettings, QuestionJudge
from vero.data.readers import iter_source_records, source_is_curated
from vero.data.veromini import DEFAULT_DIFFICULTY, generate_category
from vero.io import write_json
from vero.prompts import training_system_prompt


def raw_stage(cfg: Mapping[str, Any], out_dir: str | Path, report_path: str | Path) -> dict[str, Any]:
    """Source rows -> data/raw/{category}.parquet (+ an ingestion report)."""
    data = cfg["data"]
    report = split_by_category(
        iter_source_records(data, progress=True),
        out_dir,
        max_per_category=data["source"]["max_per_category"],
        progress=True,
    )
    report["source"] = data["source"]["kind"]
    report["curated"] = source_is_curated(data["source"])
    write_json(report_path, report)
    print(json.dumps({k: report[k] for k in ("rows_read", "written", "dropped", "splits")}))
    return report


def heldout_stage(cfg: Mapping[str, Any], out_dir: str | Path) -> dict[str, int]:
    """VeroMini's held-out split -> data/heldout/{category}.parquet (the mini eval suite)."""
    synth = cfg["data"]["synthetic"]
    counts = {}
    for category in CATEGORIES:
        rows = generate_category(
            category,
            synth["heldout_per_category"],
            synth["seed"],
            "heldout",
            difficulty=synth.get("difficulty", DEFAULT_DIFFICULTY),
            progress=True,
        )
        counts[category] = write_records(Path(out_dir) / f"{category}.parquet", rows)
    print(json.dumps({"heldout": counts}))
    return counts


def filter_stage(
    cfg: Mapping[str, Any],
    category: str,
    in_path: str | Path,
    out_path: str | Path,
    report_path: str | Path,
    reference_paths: Sequence[str | Path],
) -> dict[str, Any]:
    """data/raw/{category}.parquet -> data/filtered/{category}.parquet + its report."""
    fcfg = cfg["data"]["filter"]
    settings = FilterSettings.from_config(fcfg)
    refs = list(dict.fromkeys(str(p) for p in [*reference_paths, *fcfg["eval_sets"]]))  # rules pass both
    contamination = ContaminationIndex.from_files(refs) if settings.contamination else None
    qsettings = QuestionFilterSettings.from_config(fcfg["question_filter"])
    judge = (
        QuestionJudge(qsettings) if qsettings.enabled and category not in qsettings.skip_categories else None
    )
    try:
        report = filter_file(
            in_path,
            out_path,
            settings,
            category=category,
            contamination=contamination,
            question_scorer=judge,
            scorer_batch=max(32, 4 * qsettings.max_concurrency),  # keep every request slot busy
            progress=True,
        )
    finally:
        if judge is not None:
            judge.close()
    report["contamination_references"] = [str(p) for p in refs]
    report["question_filter"] = "on" if judge else "off"
    write_json(report_path, report)
    print(json.dumps({k: report[k] for k in ("category", "input_rows", "kept", "dropped")}))
    return report


def filter_report_stage(
    cfg: Mapping[str, Any],
    report_paths: Sequence[str | Path],
    ingest_report: str | Path | None,
    out_json: str | Path,
    out_md: str | Path,
) -> dict[str, Any]:
    """Per-category reports -> data/filter_report.{json,md}; raises `FilterDropError` (whose message
    is the table) when a category or the total lost more than `data.filter.max_drop_fraction`."""
    reports = {}
    for p in report_paths:
        r = json.loads(Path(p).read_text())
        reports[r["category"]] = r
    ingest = json.loads(Path(ingest_report).read_text()) if ingest_report else None
    agg = aggregate_reports(
        reports, cfg["data"]["filter"]["max_drop_fraction"], ingest, required_categories(cfg)
    )
    md = report_markdown(agg)
    print(md)
    check_drop_limit(agg)  # its message carries the table
    write_json(out_json, agg)
    Path(out_md).write_text(md)
    return agg


def required_categories(cfg: Mapping[str, Any]) -> list[str]:
    """The categories some experiment of the config trains on, in the canonical order."""
    used = {c for name in cfg.get("experiments") or {} for c in resolve_experiment(cfg, name)["categories"]}
    return [c for c in CATEGORIES if c in used]


def mix_stage(
    cfg: Mapping[str, Any], experiment: str, filtered_dir: str | Path, out_path: str | Path
) -> dict:
    """data/filtered/*.parquet -> data/mix/{experiment}.parquet in category-balanced order."""
    exp = resolve_experiment(cfg, experiment)
    mix = exp["mix"]
    training_system_prompt(cfg)  # a prompt file that cannot be read fails here, before training
    summary = build_mix(
        {c: Path(filtered_dir) / f"{c}.parquet" for c in exp["categories"]},
        exp["categories"],
        mix["samples_per_category"],
        mix["batch_size"],
        mix["weights"],
        exp["seed"],
        out_path,
        allow_repeat=mix["allow_repeat"],
        shuffle_buffer=mix["shuffle_buffer"],
        progress=True,
    )
    if summary["repeated_epochs"]:
        print(f"warning: rows repeated to fill the mix: {summary['repeated_epochs']}", file=sys.stderr)
    print(json.dumps({"experiment": experiment, **summary}))
    return summary
