"""The data rules through Snakemake (the real Snakefile) with the paper config on the published
layout, and the drop-limit failure of the filter report script showing its table. (The demo's data
rules run in tests/test_demo_workflow.py, with the whole demo DAG.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.published_vero600k import build_published_sample, expected_outcome
from vero.categories import CATEGORIES
from vero.config import load_config
from vero.data.io import read_parquet_records

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}


def snakemake(*args: str, dry: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--directory", str(REPO), "--cores", "2", "--nolock"]
    cmd += [*(["-n"] if dry else []), *args]  # targets first: --config takes every argument after it
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=560)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_paper_config_data_stage_on_the_published_layout(tmp_path):
    """The paper config's data stage on a local copy of Vero-600K in the hub layout, with nothing
    but results_dir and the data location changed, keeps rows in all six categories and accounts
    for every row read (the mixes need 100K rows per category: the target is the filter report)."""
    source = build_published_sample(tmp_path / "vero600k", "hub")
    manifest = json.loads((tmp_path / "vero600k" / "manifest.json").read_text())["rows"]
    results = tmp_path / "results"
    args = [str(results / "data/filter_report.json")]  # the paper config file itself (the default)
    args += [
        "--config",
        f"results_dir={results}",
        "data=" + json.dumps({"source": {"hub_id": source["hub_id"]}}),
    ]
    run = snakemake(*args)
    logs = (
        "".join(p.read_text() for p in sorted((results / "logs").rglob("*.log"))) if results.exists() else ""
    )
    assert run.returncode == 0, run.stderr[-3000:] + logs[-3000:]

    report = json.loads((results / "data/filter_report.json").read_text())
    train = [m for m in manifest if m["split"] == "train"]  # the paper config reads split train
    assert report["passed"] and report["total"]["read"] == len(train) == 47
    assert report["total"]["kept"] + report["total"]["dropped_total"] == len(train)
    for cat in CATEGORIES:
        line = report["categories"][cat]
        expected = [m for m in train if m["category"] == cat]
        assert line["read"] == len(expected) and line["unaccounted"] == 0
        assert line["kept"] == sum(expected_outcome(m) == "kept" for m in expected) > 0, cat
        assert json.loads((results / f"data/filtered/{cat}.report.json").read_text())["kept"] == line["kept"]
    assert report["sources"]["mmk12"]["kept"] == 3 and report["sources"]["mmk12"]["curated"]
    # the VeroMini held-out split is the contamination reference; it shares nothing with the sample
    assert "contaminated" not in report["total"]["dropped"]
    md = (results / "data/filter_report.md").read_text()
    assert "## Per source" in md and "Status: passed" in md
    kept = [r for cat in CATEGORIES for r in read_parquet_records(results / f"data/filtered/{cat}.parquet")]
    assert {r["split"] for r in kept} == {"train"} and all(r["curated"] for r in kept)


def test_filter_report_script_fails_with_the_table_over_the_limit(tmp_path):
    cfg = load_config(REPO / "config" / "demo.yaml")
    cfg["experiments"] = {"mixed": {"categories": ["stem", "chart_ocr"], "ablation": "main"}}
    cfg["analysis"]["skills"]["experiments"] = ["mixed"]  # the config names only experiments it has
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    reports = []
    for cat, dropped in (("stem", {"low_resolution": 3}), ("chart_ocr", {})):
        r = {"category": cat, "input_rows": 4, "kept": 4 - sum(dropped.values()), "dropped": dropped}
        r.update(dropped_total=sum(dropped.values()), drop_fraction=sum(dropped.values()) / 4, examples={})
        reports.append(tmp_path / f"{cat}.report.json")
        reports[-1].write_text(json.dumps(r))
    out = tmp_path / "filter_report.json"
    cmd = [
        sys.executable,
        str(REPO / "workflow_scripts/data_filter_report.py"),
        "--config-json",
        str(tmp_path / "cfg.json"),
    ]
    cmd += ["--reports", *map(str, reports), "--out-json", str(out), "--out-md", str(tmp_path / "r.md")]
    run = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)
    assert run.returncode != 0
    assert "max_drop_fraction" in run.stderr and "| stem **over limit** | 4 | 3 | 1 | 75.0 |" in run.stderr
    assert not out.exists()
    # a category an experiment trains on with no row left fails, naming it and why
    cfg["experiments"]["mixed"]["categories"].append("spatial_action")
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    run = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)
    assert run.returncode != 0 and "data_filter_report: no rows left" in run.stderr
    assert "spatial_action: no row read maps to spatial_action" in run.stderr
