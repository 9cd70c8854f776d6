"""The reproduce_paper target: its dry run on the paper config plans every released checkpoint and
base model × the 30 benchmarks; its whole chain runs on CPU with the tiny VLM standing in for the
checkpoints (through eval.reproduce.models) and the fixtures for the hub data."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vero.eval.registry import load_registry

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "data" / "eval_fixtures"
RELEASED = {
    "vero_qwen3i_8b": "zlab-princeton/Vero-Qwen3I-8B",
    "vero_qwen3t_8b": "zlab-princeton/Vero-Qwen3T-8B",
    "vero_qwen25_7b": "zlab-princeton/Vero-Qwen25-7B",
    "vero_mimo_7b": "zlab-princeton/Vero-MiMo-7B",
    "qwen3_vl_8b_instruct": "Qwen/Qwen3-VL-8B-Instruct",
    "qwen3_vl_8b_thinking": "Qwen/Qwen3-VL-8B-Thinking",
    "qwen2_5_vl_7b_instruct": "Qwen/Qwen2.5-VL-7B-Instruct",
    "mimo_vl_7b_sft": "XiaomiMiMo/MiMo-VL-7B-SFT",
}


def _env() -> dict:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "WANDB_MODE": "disabled",
        "HF_HUB_OFFLINE": "1",
    }


def test_default_models_are_the_released_checkpoints_and_their_bases():
    from vero.config import load_config
    from vero.eval.reproduce import reproduce_models

    models = reproduce_models(load_config(REPO / "config" / "config.yaml"))
    assert {k: v["model"] for k, v in models.items()} == RELEASED
    assert {v["role"] for v in models.values()} == {"base", "vero"}


@pytest.mark.slow
def test_dry_run_plans_released_checkpoints_times_30_benchmarks(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "-n",
            "reproduce_paper",
            "--config",
            f"results_dir={tmp_path / 'results'}",
        ],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    plan = run.stdout + run.stderr
    assert any(line.split()[:2] == ["reproduce_benchmark", "240"] for line in plan.splitlines())
    for name in RELEASED:
        for bench in load_registry():
            assert f"reproduce/{name}/{bench}.json" in plan
    assert "reproduce/paper_deltas.csv" in plan and "reproduce/paper_deltas.png" in plan


TEST_SNAKEFILE = """
include: "{repo}/rules/common.smk"
include: "{repo}/rules/envs.smk"
include: "{repo}/rules/eval.smk"
include: "{repo}/rules/reproduce.smk"
"""


@pytest.mark.slow
def test_chain_runs_with_the_tiny_model_standing_in(tiny_vlm_dir, tmp_path):
    work = tmp_path / "wf"
    work.mkdir()
    (work / "workflow_scripts").symlink_to(REPO / "workflow_scripts")
    (work / "Snakefile").write_text(TEST_SNAKEFILE.format(repo=REPO))
    index = json.loads((FIXTURES / "index.json").read_text())
    benches = ["chartqa"]  # one benchmark × two models keeps the chain to five jobs
    cfg = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    cfg["results_dir"] = str(tmp_path / "results")
    cfg["experiments"] = {"mixed": {"categories": "all", "ablation": "main"}}
    cfg["analysis"]["skills"]["experiments"] = ["mixed"]
    stand_in = {"model": str(tiny_vlm_dir), "family": "qwen2_5_vl", "paper_model": "qwen3_vl_8b_instruct"}
    cfg["eval"].update(
        suite="veroeval",
        benchmarks=benches,
        local_data={b: str(FIXTURES / index[b]) for b in benches},
        max_new_tokens=8,
        reproduce={
            "models": {"tiny_vero": {**stand_in, "role": "vero"}, "tiny_base": {**stand_in, "role": "base"}}
        },
    )
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            "Snakefile",
            "--configfile",
            "config.yaml",
            "-j",
            "2",
            "reproduce_paper",
        ],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    out = tmp_path / "results" / "reproduce"
    for name in ("tiny_vero", "tiny_base"):
        lines = [json.loads(x) for x in (out / name / "chartqa.jsonl").read_text().splitlines()]
        assert len(lines) == 2 and {r["experiment"] for r in lines} == {name}
        summary = json.loads((out / name / "chartqa.json").read_text())
        assert (
            summary["generation"]["system_prompt"] == "model" and summary["generation"]["temperature"] == 0.7
        )
    rows = list(csv.DictReader((out / "paper_deltas.csv").open()))
    by = {(r["model"], r["benchmark"]): r for r in rows}
    cell = by["tiny_vero", "chartqa"]
    assert float(cell["paper"]) == 91.6 and cell["paper_source"] == "authors"
    assert float(cell["delta"]) == pytest.approx(float(cell["ours"]) - 91.6, abs=0.01)
    assert (
        by["tiny_base", "chartqa"]["paper"] == "89.6"
        and by["tiny_base", "chartqa"]["paper_source"] == "official_report"
    )
    assert by["tiny_vero", "aerialvg"]["ours"] == ""  # not evaluated here: no number invented
    md = (out / "paper_deltas.md").read_text()
    assert "Incomplete: overall (1 of 30 benchmarks)" in md and "2604.04917v2" in md
    assert len([r for r in rows if r["model"] == "tiny_vero"]) == 31  # 30 benchmarks + overall
    assert (out / "paper_deltas.png").stat().st_size > 10_000
