"""The README's main job end to end: the whole demo DAG on CPU through Snakemake.

One run serves three checks, because the DAG takes minutes:
- every named output exists and the report renders in headless Chromium;
- the W&B runs carry experiment, group, job type, git commit and config hash;
- secrets planted in the environment (the W&B key, the judge key) appear in no output, log or
  W&B file: they reach jobs only through the environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import chromium_path, non_blank_fraction, render
from vero.config import REPO_ROOT, load_config

pytestmark = pytest.mark.slow

FAKE_WANDB_KEY = "vero0fake0wandb0key0" + "7" * 20
FAKE_JUDGE_KEY = "sk-vero-fake-judge-key-1234567890abcdef"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    results = out / "results"
    env = {
        **os.environ,
        "WANDB_API_KEY": FAKE_WANDB_KEY,
        "VERO_JUDGE_API_KEY": FAKE_JUDGE_KEY,
        "WANDB_MODE": "offline",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "all",
        "--profile",
        "profiles/local",
        "--configfile",
        "config/demo.yaml",
        "--cores",
        "2",
        "--config",
        f"results_dir={results}",
    ]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=3000)
    (out / "snakemake.out").write_text(proc.stdout + "\n" + proc.stderr)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    m = re.findall(r"Complete log\(s\): (\S+)", proc.stdout + proc.stderr)
    return results, out, [Path(p) for p in m]


def test_demo_writes_every_stage(demo_run):
    results, _, _ = demo_run
    cfg = load_config(REPO_ROOT / "config" / "demo.yaml")
    for exp in cfg["experiments"]:
        assert (results / "runs" / exp / "final" / "config.json").exists(), exp
        summary = json.loads((results / "eval" / exp / "final" / "summary.json").read_text())
        assert "overall" in summary
    assert (results / "eval" / "base" / "final" / "summary.json").exists()
    for rel in (
        "data/filter_report.md",
        "eval/comparison.md",
        "eval/comparison.csv",
        "analysis/reasoning_length.png",
        "analysis/probe.json",
        "analysis/umap.html",
        "analysis/transfer.png",
        "analysis/dynamics/algorithm_ablation.png",
        "report/report.html",
    ):
        assert (results / rel).stat().st_size > 0, rel


@pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (make test installs it as root)")
def test_demo_report_renders(demo_run, tmp_path):
    results, _, _ = demo_run
    shot = tmp_path / "report.png"
    dom = render(results / "report" / "report.html", shot, height=4000)
    assert non_blank_fraction(shot) > 0.02
    for heading in (
        "Evaluation per category",
        "Transfer matrix",
        "Reasoning length",
        "Skill probe",
        "Skill UMAP",
    ):
        assert heading in dom
    assert "plot-container" in dom  # the UMAP drew itself


def test_wandb_runs_carry_bookkeeping(demo_run):
    """Offline runs keep their config in the .wandb record file: read our `_vero` entry back."""
    results, _, _ = demo_run
    runs = sorted((results / "wandb").rglob("offline-run-*/*.wandb"))
    assert runs, "no offline W&B run written"
    pattern = re.compile(
        rb'\{"experiment":"[^"]+","ablation":"[^"]+","job_type":"[a-z]+","git_commit":"[^"]+",'
        rb'"config_hash":"[0-9a-f]{12}"\}'
    )
    metas = []
    for run in runs:
        found = pattern.findall(run.read_bytes())
        assert found, f"{run}: no experiment/ablation/job_type/git_commit/config_hash record"
        metas.append(json.loads(found[0]))
    assert {m["job_type"] for m in metas} == {"train", "eval", "analysis"}
    cfg = load_config(REPO_ROOT / "config" / "demo.yaml")
    trained = {m["experiment"]: m["ablation"] for m in metas if m["job_type"] == "train"}
    assert trained == {name: exp.get("ablation", "main") for name, exp in cfg["experiments"].items()}
    assert all(re.fullmatch(r"[0-9a-f]{40}", m["git_commit"]) for m in metas)


def test_secrets_leak_nowhere(demo_run):
    results, out, snakemake_logs = demo_run
    places = [p for p in results.rglob("*") if p.is_file()]
    places += [out / "snakemake.out", *snakemake_logs]
    places += [
        p for p in (REPO_ROOT / ".snakemake").rglob("*") if p.is_file() and p.stat().st_size < 50_000_000
    ]
    leaks = []
    for path in places:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for key in (FAKE_WANDB_KEY, FAKE_JUDGE_KEY):
            if key.encode() in data:
                leaks.append(str(path))
    assert not leaks, f"secret found in: {leaks[:10]}"
