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
from vero.categories import CATEGORIES
from vero.config import REPO_ROOT, experiment_categories, load_config

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


# ---- issue 17: the demo learns what it can, and a broken recipe fails these checks ---------------

RL_TRAINERS = ("rl",)


def _demo_cfg():
    return load_config(REPO_ROOT / "config" / "demo.yaml")


def _rl_experiments(cfg):
    from vero.config import resolve_experiment

    return [e for e in cfg["experiments"] if resolve_experiment(cfg, e)["train"]["trainer"] in RL_TRAINERS]


def test_warm_start_puts_the_base_model_partway_in_every_category(demo_run):
    """Above zero (a broken scorer or warm start gives 0) and below the ceiling (a scorer that
    reads the reference gives 100), in every category, on >= 64 held-out samples each."""
    from vero.report.demo_figures import category_scores

    results, _, _ = demo_run
    base = category_scores(json.loads((results / "eval" / "base" / "final" / "summary.json").read_text()))
    assert set(base) == set(CATEGORIES)
    for cat, (score, sem, n) in base.items():
        if cat != "captioning_if":  # its judge-scored tasks are unscored offline
            assert n >= 64, (cat, n)
        assert 2.0 <= score <= 80.0, (cat, score, sem)


def test_every_rl_run_gets_a_reward_signal_and_moves(demo_run):
    from vero.models import resolve_base_model
    from vero.report.demo_figures import run_signal, signal_problems

    results, _, _ = demo_run
    cfg = _demo_cfg()
    base = resolve_base_model(cfg, results)
    problems = {}
    for exp in _rl_experiments(cfg):
        sig = run_signal(results / "runs" / exp, base)
        if p := signal_problems(sig):
            problems[exp] = p
        cats = set(sig["accuracy_per_category"])
        assert cats == set(experiment_categories(cfg["experiments"][exp])), (exp, cats)
    assert not problems, problems


def test_demo_figures_are_measured_and_on_the_report(demo_run):
    from vero.report.demo_figures import demo_figures

    results, _, _ = demo_run
    cfg = _demo_cfg()
    fig = demo_figures(results, cfg)
    assert fig["mixed_vs_base"]["delta"] is not None
    assert len(fig["transfer_diagonal"]["per_category"]) == 6
    assert fig["reward_ablation"]["delta"] is not None
    words = fig["reasoning_length"]["mean_words"]
    assert set(words) == set(CATEGORIES) and fig["reasoning_length"]["spread"] >= 3, words
    # the probe and the UMAP see >= 60 traces with skills in every category (a scorer or an
    # extractor that loses a category's traces fails here)
    traces = fig["traces"]["per_category"]
    assert set(traces) == set(CATEGORIES), traces
    assert min(traces.values()) >= fig["targets"]["traces_per_category"], traces
    text = (results / "report" / "report.html").read_text()
    assert "transfer diagonal" in text and "Ablations beside the paper" in text


def _constant_reward_run(tmp_path, monkeypatch, reward_fn):
    """Two GSPO steps of the demo recipe on the tiny model with `reward_fn` in place of vero's."""
    import vero.rewards
    from vero.config import deep_merge, validate_config
    from vero.data.io import write_records
    from vero.data.mixing import build_mix
    from vero.data.veromini import generate_veromini
    from vero.models import build_tiny_vlm
    from vero.train import run_experiment

    base = build_tiny_vlm("qwen2_5_vl", tmp_path / "tiny")
    per_category = {}
    for c in CATEGORIES:
        per_category[c] = tmp_path / f"{c}.parquet"
        write_records(per_category[c], generate_veromini(2, seed=5, categories=[c], difficulty="easy"))
    mix = build_mix(per_category, list(CATEGORIES), 2, 6, None, 5, tmp_path / "mix.parquet")
    mix = tmp_path / "mix.parquet"
    cfg = validate_config(
        deep_merge(
            _demo_cfg(),
            {
                "results_dir": str(tmp_path),
                "wandb": {"mode": "disabled", "dir": str(tmp_path / "wandb")},
                "train": {
                    "max_steps": 2,
                    "save_steps": 2,
                    "max_completion_length": 16,
                    "batch_size": 6,
                    "mini_batch_size": 6,
                    "num_generations": 2,
                },
            },
        )
    )
    monkeypatch.setattr(vero.rewards, "make_trl_reward", lambda *a, **k: reward_fn)
    run_experiment(cfg, "mixed", tmp_path / "run", mix, base, resume="never")
    return tmp_path / "run", base


def test_a_constant_reward_fails_the_learning_checks(tmp_path, monkeypatch):
    """The check the demo test applies to every run flags a reward that returns a constant:
    no group has reward spread, every advantage is 0, so GSPO leaves the weights exactly as they
    were. A reward that varies passes the same check on the same two steps."""
    from vero.report.demo_figures import run_signal, signal_problems

    def constant(prompts=None, completions=None, **kwargs):
        return [0.5 for _ in completions]

    constant.__name__ = "constant"
    run_dir, base = _constant_reward_run(tmp_path / "c", monkeypatch, constant)
    problems = signal_problems(run_signal(run_dir, base))
    assert any("reward constant" in p for p in problems), problems
    assert any("policy unchanged" in p for p in problems), problems

    def varies(prompts=None, completions=None, completion_ids=None, **kwargs):
        return [sum(t % 2 for t in ids) / max(len(ids), 1) for ids in completion_ids]

    varies.__name__ = "varies"
    run_dir, base = _constant_reward_run(tmp_path / "v", monkeypatch, varies)
    sig = run_signal(run_dir, base)
    assert sig["reward_varies"] > 0.5 and sig["weight_change"] > 1e-6, sig
