"""The data rules through Snakemake (the real Snakefile), and the drop-limit failure of the
filter report script showing its table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vero.categories import CATEGORIES
from vero.config import load_config
from vero.data.io import read_parquet_records
from vero.data.mixing import check_batch_balance

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}


def small_demo_config(tmp_path: Path) -> Path:
    cfg = load_config(REPO / "config" / "demo.yaml")
    cfg["results_dir"] = str(tmp_path / "results")
    cfg["data"]["synthetic"].update(train_per_category=4, heldout_per_category=2)
    cfg["mix"].update(samples_per_category=4, batch_size=6)
    cfg["wandb"]["dir"] = str(tmp_path / "wandb")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def snakemake(config: Path, *targets: str, dry: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--directory", str(REPO), "--configfile", str(config)]
    cmd += ["--cores", "2", "--nolock", *(["-n"] if dry else []), *targets]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=560)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_data_rules_build_filtered_data_reports_and_mixes(tmp_path):
    config = small_demo_config(tmp_path)
    dry = snakemake(config, "data", dry=True)
    assert dry.returncode == 0, dry.stderr[-3000:]
    for rule in (
        "data_raw",
        "data_heldout",
        "data_filter",
        "data_filter_report",
        "data_mix",
        "build_tiny_model",
    ):
        assert rule in dry.stdout
    results = tmp_path / "results"
    run = snakemake(
        config, str(results / "data/mix/mixed.parquet"), str(results / "data/mix/single_stem.parquet")
    )
    logs = (
        "".join(p.read_text() for p in sorted((results / "logs").rglob("*.log"))) if results.exists() else ""
    )
    assert run.returncode == 0, run.stderr[-3000:] + logs[-3000:]

    report = json.loads((results / "data/filter_report.json").read_text())
    assert report["passed"] and report["total"]["input_rows"] == 4 * len(CATEGORIES)
    assert "| total | 24 | 24 | 0.0 |" in (results / "data/filter_report.md").read_text()
    for cat in CATEGORIES:
        assert (results / f"data/heldout/{cat}.parquet").exists()
        assert json.loads((results / f"data/filtered/{cat}.report.json").read_text())["kept"] == 4
    mixed = [
        r["category"] for r in read_parquet_records(results / "data/mix/mixed.parquet", columns=["category"])
    ]
    assert len(mixed) == 24 and check_batch_balance(mixed, 6) == []
    single = list(read_parquet_records(results / "data/mix/single_stem.parquet", columns=["category"]))
    assert [r["category"] for r in single] == ["stem"] * 4
    assert (results / "benchmarks/data_filter/stem.tsv").exists()


def test_filter_report_script_fails_with_the_table_over_the_limit(tmp_path):
    cfg = load_config(REPO / "config" / "demo.yaml")
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
    assert "max_drop_fraction" in run.stderr and "| stem **over limit** | 4 | 1 | 75.0 | 3 |" in run.stderr
    assert not out.exists()
