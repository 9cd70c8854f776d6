"""Training dynamics: tolerant log reading, panel detection, summaries, per-run and overlay plots."""

import json
import math

import pytest

from tests.fixtures.synthetic_analysis import synthetic_train_log
from vero.analysis.dynamics import (
    PAPER_ENTROPY,
    algorithm_runs,
    panel_keys,
    plot_algorithm_overlay,
    plot_experiment,
    smooth,
    summarize_run,
)
from vero.analysis.traces import AnalysisInputError, Drops, load_train_log


def _write(path, rows, extra_lines=()):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "".join(extra_lines))
    return path


def test_load_train_log_drops_bad_rows(tmp_path):
    rows = synthetic_train_log(5, entropy=0.5)
    rows[2]["completions"] = "a sample text"  # TRL logs strings too: ignored per key
    p = _write(tmp_path / "log.jsonl", rows[::-1], ["{bad json\n", '{"loss": 1.0}\n', "[1, 2]\n"])
    drops = Drops()
    loaded = load_train_log(p, drops)
    assert [r["step"] for r in loaded] == [1, 2, 3, 4, 5]
    assert "completions" not in loaded[2]
    assert drops.counts == {"invalid_json": 1, "missing_step": 1, "not_an_object": 1}
    with pytest.raises(AnalysisInputError, match=r"nope\.jsonl"):
        load_train_log(tmp_path / "nope.jsonl")


def test_panels_and_summary():
    rows = [dict(r, step=float(r["step"])) for r in synthetic_train_log(10, entropy=0.58)]
    rows[0]["clip_ratio/low_min"] = 0.0
    keys = panel_keys(rows)
    assert keys["reward"] == ["reward"] and keys["policy entropy"] == ["entropy"]
    assert keys["reward components"] == ["reward/accuracy", "reward/format", "reward/overlong"]
    assert keys["reward per category"] == ["reward/category/chart_ocr/total", "reward/category/stem/total"]
    assert keys["accuracy per category"] == [
        "reward/category/chart_ocr/accuracy",
        "reward/category/stem/accuracy",
    ]
    bare = panel_keys([{"step": 1.0, "reward/category/stem": 0.1, "rewards/vero/mean": 0.2}])
    assert bare["reward per category"] == ["reward/category/stem"]
    assert bare["reward components"] == ["rewards/vero/mean"]
    assert keys["response length"] == ["completions/mean_length"]
    assert keys["clip fraction"] == ["clip_ratio/region_mean"]
    s = summarize_run("mixed", rows, ablation="main", algorithm="gspo")
    assert s["n_logged_steps"] == 10 and s["last_step"] == 10
    assert s["entropy_mean"] == pytest.approx(0.58, abs=0.05)
    assert (s["paper_entropy_mean"], s["paper_entropy_std"]) == PAPER_ENTROPY["gspo"]
    assert s["reward_last"] > s["reward_first"] and s["metrics_missing"] == ""
    sparse = summarize_run("sft", [{"step": 1.0, "loss": 2.0}, {"step": 2.0, "loss": 1.5}], ablation="sft")
    assert math.isnan(sparse["entropy_mean"]) and math.isnan(sparse["paper_entropy_mean"])
    assert (sparse["loss_first"], sparse["loss_last"]) == (2.0, 1.5)
    assert "loss" not in sparse["metrics_missing"].split(";")
    assert sparse["metrics_missing"].split(";")[0] == "reward"
    assert list(smooth([1.0, 3.0, 5.0], 2)) == [1.0, 2.0, 4.0]


def test_plots_tolerate_missing_metrics(tmp_path):
    rows = [dict(r, step=float(r["step"])) for r in synthetic_train_log(8, entropy=0.5)]
    assert plot_experiment(rows, tmp_path / "a.png", title="a", window=3).stat().st_size > 10000
    assert plot_experiment([{"step": 1.0, "loss": 1.0}], tmp_path / "b.png", title="b").exists()
    assert plot_experiment([], tmp_path / "c.png", title="c").exists()
    runs = {
        "mixed": ("gspo", rows),
        "algo_grpo": ("grpo", [dict(r, entropy=0.5) for r in rows]),
        "algo_dapo": ("dapo", [{"step": 1.0, "reward": 0.1}]),
    }
    assert plot_algorithm_overlay(runs, tmp_path / "o.png").stat().st_size > 10000
    assert plot_algorithm_overlay({}, tmp_path / "empty.png").exists()


def test_algorithm_runs_from_config():
    cfg = {
        "experiments": {
            "mixed": {},
            "single_stem": {"ablation": "transfer"},
            "algo_dapo": {"ablation": "algorithm"},
        }
    }
    assert algorithm_runs(cfg) == ["mixed", "algo_dapo"]
