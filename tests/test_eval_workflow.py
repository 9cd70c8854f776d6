"""The evaluation stage end to end on the tiny VLM: library calls, then rules/eval.smk via Snakemake.

The trained checkpoints these tests evaluate are copies of the tiny base model (training is
another stage's business and has its own tests); evaluation only needs a model directory there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vero.config import load_config

REPO = Path(__file__).resolve().parent.parent


def write_heldout(results: Path, categories, n=4) -> None:
    from vero.data.io import write_records
    from vero.data.veromini.generator import generate_category

    for cat in categories:
        path = results / "data" / "heldout" / f"{cat}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_records(path, generate_category(cat, n, seed=11, split="heldout"))


@pytest.mark.slow
def test_mini_suite_base_and_experiment_to_comparison(tiny_vlm_dir, tmp_path):
    from vero.eval.evaluate import evaluate_benchmark, summarize_checkpoint, write_comparison

    results = tmp_path / "results"
    cfg = load_config(
        REPO / "config" / "demo.yaml",
        overrides={
            "results_dir": str(results),
            "model": {"base": str(tiny_vlm_dir)},
            "experiments": {"mixed": {"categories": "all", "ablation": "main"}},
            "eval": {
                "benchmarks": ["mini_stem", "mini_captioning_if"],
                "max_samples": 3,
                "max_new_tokens": 16,
            },
            "wandb": {"dir": str(tmp_path / "wandb")},
        },
    )
    write_heldout(results, ["stem", "captioning_if"])
    shutil.copytree(tiny_vlm_dir, results / "runs" / "mixed" / "final")

    summaries = {}
    for exp in ("base", "mixed"):
        paths = []
        for bench in cfg["eval"]["benchmarks"]:
            out = results / "eval" / exp / "final"
            s = evaluate_benchmark(
                cfg,
                experiment=exp,
                checkpoint="final",
                benchmark=bench,
                out_jsonl=out / f"{bench}.jsonl",
                out_summary=out / f"{bench}.json",
            )
            assert s["n"] == 3 and s["generation"]["max_new_tokens"] == 16
            lines = [json.loads(x) for x in (out / f"{bench}.jsonl").read_text().splitlines()]
            assert len(lines) == 3
            assert {"id", "benchmark", "category", "question", "output", "extracted", "score"} <= set(
                lines[0]
            )
            paths.append(out / f"{bench}.json")
        summaries[exp] = summarize_checkpoint(
            cfg,
            experiment=exp,
            checkpoint="final",
            benchmark_jsons=paths,
            out=results / "eval" / exp / "final" / "summary.json",
        )
    base = summaries["base"]
    assert base["benchmarks"]["mini_stem"]["n_scored"] == 3  # numeric / MC rows scored through reward routes
    assert 0.0 <= base["benchmarks"]["mini_stem"]["score"] <= 100.0
    capt = base["benchmarks"]["mini_captioning_if"]
    assert (
        capt["n_unscored"] >= 1 and capt["unscored_reasons"].get("no_judge", 0) >= 1
    )  # judge rows, no judge
    assert set(base["categories"]) == {"stem", "captioning_if"}
    # W&B eval run written offline, one per (experiment, checkpoint)
    assert len(list((tmp_path / "wandb").rglob("offline-run-*"))) == 2

    md, csv_text = write_comparison(
        cfg,
        summary_paths={e: results / "eval" / e / "final" / "summary.json" for e in ("base", "mixed")},
        out_md=results / "eval" / "comparison.md",
        out_csv=results / "eval" / "comparison.csv",
    )
    assert "| base |" in md and "| mixed |" in md and "not comparable with the paper" in md
    assert csv_text.splitlines()[0].startswith("experiment,source,ablation,checkpoint,overall,overall_delta")


TEST_SNAKEFILE = """
include: "{repo}/rules/common.smk"
include: "{repo}/rules/envs.smk"
include: "{repo}/rules/eval.smk"

# Stand-ins for the data and training stages (their own rules are tested elsewhere): the held-out
# VeroMini split from the real generator, the real tiny model, and "trained" runs that are copies
# of it with the checkpoint directories the trainer would leave.
rule stand_in_heldout:
    output: res("data/heldout/{{category}}.parquet")
    log: logf("stand_in_heldout/{{category}}")
    shell:
        "python -c 'import sys; from vero.data.io import write_records; "
        "from vero.data.veromini.generator import generate_category as g; "
        "write_records(sys.argv[1], g(sys.argv[2], 3, seed=2, split=sys.argv[3]))'"
        " {{output}} {{wildcards.category}} heldout > {{log}} 2>&1"

rule stand_in_tiny_model:
    output: directory(tiny_model_dir(RESULTS, CFG["model"]["family"]))
    log: logf("stand_in_tiny_model")
    shell:
        "python {repo}/workflow_scripts/build_tiny_model.py --config-json {{CONFIG_JSON}}"
        " --out {{output}} > {{log}} 2>&1"

rule stand_in_train:
    input: tiny_model_dir(RESULTS, CFG["model"]["family"])
    output: directory(res("runs/{{experiment}}/final"))
    log: logf("stand_in_train/{{experiment}}")
    shell:
        "mkdir -p $(dirname {{output}}) && for c in checkpoint-2 checkpoint-4 final;"
        " do cp -r {{input}} $(dirname {{output}})/$c; done > {{log}} 2>&1"
"""


@pytest.mark.slow
def test_one_job_per_checkpoint_writes_what_the_per_benchmark_jobs_write(tiny_vlm_dir, tmp_path):
    """eval.jobs per_checkpoint (the demo): one loaded model, every benchmark of the suite, and
    each benchmark's JSONL byte for byte what its own job writes (generation seeds per call)."""
    from vero.eval.evaluate import evaluate_benchmark, evaluate_checkpoint

    results = tmp_path / "results"
    benchmarks = ["mini_stem", "mini_grounding_counting_search"]
    cfg = load_config(
        REPO / "config" / "demo.yaml",
        overrides={
            "results_dir": str(results),
            "model": {"base": str(tiny_vlm_dir)},
            "eval": {"benchmarks": benchmarks, "max_samples": 3, "max_new_tokens": 16},
        },
    )
    write_heldout(results, ["stem", "grounding_counting_search"])
    grouped = evaluate_checkpoint(
        cfg, experiment="base", checkpoint="final", benchmarks=benchmarks, out_dir=results / "grouped"
    )
    assert list(grouped) == benchmarks
    for bench in benchmarks:
        alone = evaluate_benchmark(
            cfg,
            experiment="base",
            checkpoint="final",
            benchmark=bench,
            out_jsonl=results / "alone" / f"{bench}.jsonl",
            out_summary=results / "alone" / f"{bench}.json",
        )
        assert grouped[bench]["score"] == alone["score"] and grouped[bench]["n"] == 3
        assert (results / "grouped" / f"{bench}.jsonl").read_bytes() == (
            results / "alone" / f"{bench}.jsonl"
        ).read_bytes()


@pytest.mark.slow
def test_eval_rules_run_through_snakemake(tmp_path):
    """One job per (experiment, checkpoint, benchmark), summaries, the comparison; and the sweep DAG."""
    work = tmp_path / "wf"
    work.mkdir()
    (work / "workflow_scripts").symlink_to(REPO / "workflow_scripts")
    (work / "Snakefile").write_text(TEST_SNAKEFILE.format(repo=REPO))
    demo = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    demo["results_dir"] = str(tmp_path / "results")
    demo["experiments"] = {"mixed": {"categories": "all", "ablation": "main"}}
    demo["analysis"]["skills"]["experiments"] = ["mixed"]  # the config is checked whole at load
    # one benchmark keeps the run to 8 short jobs; the library test above covers several
    demo["eval"].update(benchmarks=["mini_chart_ocr"], max_samples=2, max_new_tokens=8)
    demo["eval"]["jobs"] = "per_benchmark"  # the demo's per_checkpoint is the test above
    demo["wandb"]["dir"] = str(tmp_path / "wandb")
    demo["model"]["tiny"]["warm_start"]["steps"] = 0  # the test stands in the tiny model itself
    # the checkpoints the stand-in run writes (max_steps 4, save_steps 2), every one swept (k = 1)
    demo["train"].update(max_steps=4, save_steps=2)
    demo["eval"]["sweep_every_k"] = 1
    (work / "config.yaml").write_text(yaml.safe_dump(demo))
    # W&B is covered by the test above; here it would only add start-up time to every summary job
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "WANDB_MODE": "disabled",
    }
    base_cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        "Snakefile",
        "--configfile",
        "config.yaml",
        "-j",
        "2",
    ]

    run = subprocess.run(
        [*base_cmd, str(tmp_path / "results/eval/comparison.md")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    results = tmp_path / "results"
    for exp in ("base", "mixed"):
        for bench in demo["eval"]["benchmarks"]:
            assert (results / f"eval/{exp}/final/{bench}.jsonl").exists()
            assert (results / f"benchmarks/eval_benchmark/{exp}/final/{bench}.tsv").exists()
        assert json.loads((results / f"eval/{exp}/final/summary.json").read_text())["experiment"] == exp
    csv_rows = (results / "eval/comparison.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in csv_rows[1:]] == ["base", "mixed"]

    # a failed benchmark reruns alone: with its outputs (and those waiting on it) absent, as a
    # failure leaves them, only that job and its dependents are planned
    for f in ("eval/mixed/final/mini_chart_ocr.json", "eval/mixed/final/summary.json", "eval/comparison.md"):
        (results / f).unlink()
    dry = subprocess.run(
        [*base_cmd, "-n", str(results / "eval/comparison.md")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 0, dry.stderr[-3000:]
    plan = dry.stdout + dry.stderr
    assert (
        "eval/mixed/final/mini_chart_ocr.json" in plan and "eval/base/final/mini_chart_ocr.json" not in plan
    )
    assert "eval_comparison" in plan and "stand_in" not in plan

    # the sweep target: every saved checkpoint (train.max_steps 4, save_steps 2, k = 1) plus final
    dry = subprocess.run([*base_cmd, "-n", "eval_sweeps"], cwd=work, env=env, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr[-3000:]
    plan = dry.stdout + dry.stderr
    for ckpt in ("checkpoint-2", "checkpoint-4"):
        assert f"eval/mixed/{ckpt}/mini_chart_ocr.json" in plan
    assert "eval/mixed/sweep.csv" in plan
