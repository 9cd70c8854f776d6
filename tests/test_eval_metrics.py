"""Benchmark metrics, aggregation, the comparison table and checkpoint sweep selection."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vero.categories import CATEGORIES
from vero.config import ConfigError, load_config
from vero.eval import metrics
from vero.eval.aggregate import benchmark_summary, checkpoint_summary
from vero.eval.comparison import build_comparison, comparison_rows
from vero.eval.registry import paper_reference
from vero.eval.sweep import checkpoint_step, saved_steps, sweep_checkpoints, sweep_curve

REPO = Path(__file__).resolve().parent.parent


# ---- metrics -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pred, golds, expected",
    [
        ("42", ["42"], 1.0),
        ("43.9", ["42"], 1.0),  # 4.5 % off: within 5 %
        ("44.5", ["42"], 0.0),  # 6 % off
        ("1,000", ["1000"], 1.0),
        ("12%", ["0.12"], 1.0),
        ("Yes", ["yes"], 1.0),
        ("blue", ["red"], 0.0),
        ("", ["0"], 0.0),
    ],
)
def test_relaxed_accuracy(pred, golds, expected):
    assert metrics.relaxed_accuracy(pred, golds) == expected


def test_anls_thresholds_and_max_over_golds():
    assert metrics.anls("United States", ["united states"]) == 1.0
    assert metrics.anls("united state", ["united states"]) == pytest.approx(1 - 1 / 13)
    assert metrics.anls("canada", ["united states"]) == 0.0  # NL ≥ 0.5 → 0
    assert metrics.anls("usa", ["united states", "USA"]) == 1.0
    assert metrics.anls(None, ["x"]) == 0.0


@given(st.text(max_size=20), st.lists(st.text(max_size=20), min_size=1, max_size=3))
def test_anls_is_a_similarity_in_unit_interval(pred, golds):
    v = metrics.anls(pred, golds)
    assert 0.0 <= v <= 1.0
    assert metrics.anls(golds[0], golds) == 1.0


def test_box_and_point_parsing():
    assert metrics.parse_box('[{"bbox_2d": [1, 2, 3, 4], "label": "cat"}]') == [1, 2, 3, 4]
    assert metrics.parse_box("\\boxed{[10, 20, 30, 40]}") == [10, 20, 30, 40]
    assert metrics.parse_box("no box here") is None
    assert metrics.parse_point('[{"point_2d": [5, 6]}]') == [5, 6]
    assert metrics.parse_point('[{"bbox_2d": [0, 0, 10, 20]}]') == [5, 10]  # a box clicks its centre
    assert metrics.parse_point("[1, 2, 3]") is None


def test_iou_accuracy_in_pixels_and_qwen1000():
    gold = [100, 100, 200, 200]
    assert metrics.iou_accuracy('[{"bbox_2d": [110, 110, 210, 210]}]', gold, (400, 400)) == 1.0  # IoU 0.68
    assert metrics.iou_accuracy('[{"bbox_2d": [150, 150, 250, 250]}]', gold, (400, 400)) == 0.0  # IoU 0.14
    # the same box in Qwen3-VL's [0, 1000] coordinates of a 400x400 image
    assert metrics.iou_accuracy("[250, 250, 500, 500]", gold, (400, 400), "qwen1000") == 1.0
    assert metrics.iou_accuracy("garbage", gold, (400, 400)) == 0.0
    assert metrics.box_iou([0, 0, 1, 1], [2, 2, 3, 3]) == 0.0


def test_point_in_box_edges_and_coordinates():
    gold = [10, 10, 20, 20]
    assert metrics.point_in_box('[{"point_2d": [20, 10]}]', gold, (100, 100)) == 1.0  # on the edge
    assert metrics.point_in_box('[{"point_2d": [21, 15]}]', gold, (100, 100)) == 0.0
    assert metrics.point_in_box('[{"point_2d": [150, 150]}]', gold, (100, 100), "qwen1000") == 1.0
    assert metrics.point_in_box('[{"point_2d": [150, 150]}]', gold, None, "qwen1000") == 0.0  # no size


# ---- aggregation -------------------------------------------------------------------------------------


def _bench(name, cat, scores):
    recs = [{"score": s, "unscored_reason": None if s is not None else "no_judge"} for s in scores]
    return benchmark_summary(recs, meta={"benchmark": name, "name": name, "category": cat, "metric": "m"})


def test_benchmark_summary_excludes_unscored_samples():
    b = _bench("x", "stem", [1.0, 0.0, None, None])
    assert b["score"] == 50.0 and b["n"] == 4 and b["n_scored"] == 2
    assert b["unscored_reasons"] == {"no_judge": 2}
    empty = _bench("j", "captioning_if", [None, None])
    assert empty["score"] is None and "left out" in empty["note"]


def test_checkpoint_summary_category_and_overall_means():
    s = checkpoint_summary(
        [
            _bench("a", "stem", [1.0, 1.0]),  # 100
            _bench("b", "stem", [0.0, 1.0]),  # 50
            _bench("c", "chart_ocr", [0.0]),  # 0
            _bench("j", "captioning_if", [None]),  # unscored
        ],
        experiment="mixed",
        checkpoint="final",
    )
    assert s["categories"]["stem"]["score"] == 75.0
    assert s["categories"]["captioning_if"]["score"] is None
    assert s["overall"]["score"] == pytest.approx(50.0)  # mean of 100, 50, 0 (benchmarks)
    assert s["unscored_benchmarks"] == ["j"] and "not counted as 0" in s["note"]


# ---- comparison ----------------------------------------------------------------------------------------


def _summary(exp, score):
    return checkpoint_summary(
        [_bench(f"mini_{c}", c, [score]) for c in CATEGORIES], experiment=exp, checkpoint="final"
    )


def test_comparison_deltas_paper_rows_and_ablations():
    cfg = load_config(REPO / "config" / "config.yaml")
    summaries = {
        "base": _summary("base", 0.5),
        "mixed": _summary("mixed", 0.75),
        "algo_grpo": _summary("algo_grpo", 0.7),
    }
    paper = paper_reference()
    rows = comparison_rows(summaries, cfg, paper)
    by = {r["experiment"]: r for r in rows}
    assert by["mixed"]["overall_delta"] == pytest.approx(25.0)
    assert by["mixed"]["stem_delta"] == pytest.approx(25.0)
    assert by["base"]["overall_delta"] is None
    vero = by["paper: Vero from Qwen/Qwen3-VL-8B-Instruct"]
    assert vero["overall"] == 66.0 and vero["overall_delta"] == pytest.approx(5.3)
    assert vero["chart_ocr_delta"] == 8.5
    md, csv_text = build_comparison(summaries, cfg, paper)
    assert "| algo_grpo | algorithm:grpo | -5.0 | -0.4 |" in md
    table = list(csv.DictReader(io.StringIO(csv_text)))
    assert [r["experiment"] for r in table][:3] == ["base", "mixed", "algo_grpo"]
    assert float(table[1]["overall_delta"]) == pytest.approx(25.0)


def test_comparison_requires_base_and_known_paper_model():
    with pytest.raises(ConfigError, match=r"eval\.paper_model.*gpt9"):  # refused at load
        load_config(REPO / "config" / "config.yaml", overrides={"eval": {"paper_model": "gpt9"}})
    cfg = load_config(REPO / "config" / "config.yaml")  # and by the table, for an unvalidated one
    cfg["eval"]["paper_model"] = "gpt9"
    with pytest.raises(ValueError, match="base"):
        comparison_rows({"mixed": _summary("mixed", 1.0)}, cfg)
    with pytest.raises(ValueError, match=r"eval\.paper_model"):
        comparison_rows({"base": _summary("base", 1.0)}, cfg, paper_reference())


def test_mini_comparison_says_numbers_are_not_the_papers():
    cfg = load_config(REPO / "config" / "demo.yaml")
    md, _ = build_comparison(
        {"base": _summary("base", 0.0), "mixed": _summary("mixed", 0.0)}, cfg, paper_reference()
    )
    assert "not comparable with the paper" in md
    assert "paper: Vero" not in md  # no paper_model in the demo


# ---- sweeps --------------------------------------------------------------------------------------------


# A fixed schedule for the sweep arithmetic (the demo's own steps change with the demo).
SWEEP = {"train": {"max_steps": 4, "save_steps": 2}, "eval": {"sweep_every_k": 1}}


def test_saved_steps_match_trainer_saves():
    assert saved_steps(4, 2) == [2, 4]
    assert saved_steps(5, 2) == [2, 4, 5]  # the trainer also saves at the last step
    assert saved_steps(4000, 40)[:2] == [40, 80] and len(saved_steps(4000, 40)) == 100


def test_sweep_checkpoints_every_kth_from_config():
    demo = load_config(REPO / "config" / "demo.yaml", overrides=SWEEP)  # max_steps 4, save_steps 2, k = 1
    assert sweep_checkpoints(demo, "mixed") == ["checkpoint-2", "checkpoint-4", "final"]
    paper = load_config(REPO / "config" / "config.yaml")  # k = 5 → every 200 steps
    ckpts = sweep_checkpoints(paper, "mixed")
    assert ckpts[:2] == ["checkpoint-200", "checkpoint-400"] and ckpts[-2:] == ["checkpoint-4000", "final"]
    single = sweep_checkpoints(paper, "single_stem")  # max_steps 1000 override
    assert single[-2:] == ["checkpoint-1000", "final"]
    off = load_config(REPO / "config" / "demo.yaml", overrides={**SWEEP, "eval": {"sweep_every_k": 0}})  # off
    assert sweep_checkpoints(off, "mixed") == ["final"]


def test_sweep_curve_orders_by_step_and_merges_final():
    cfg = load_config(REPO / "config" / "demo.yaml", overrides=SWEEP)
    curve = sweep_curve(
        cfg,
        "mixed",
        {
            "final": _summary("mixed", 0.9),
            "checkpoint-4": _summary("mixed", 0.9),
            "checkpoint-2": _summary("mixed", 0.2),
        },
    )
    assert [(r["checkpoint"], r["step"]) for r in curve] == [("checkpoint-2", 2), ("checkpoint-4", 4)]
    assert curve[0]["overall"] == pytest.approx(20.0)
    with pytest.raises(ValueError, match="checkpoint"):
        checkpoint_step("step-3", 4)


def test_sweep_files_and_wandb_curve(tmp_path, monkeypatch):
    import json

    from vero.eval.evaluate import write_sweep
    from vero.io import write_json

    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb"))
    cfg = load_config(
        REPO / "config" / "demo.yaml", overrides={**SWEEP, "wandb": {"dir": str(tmp_path / "wandb")}}
    )
    paths = {}
    for ckpt, score in (("checkpoint-2", 0.25), ("checkpoint-4", 0.5), ("final", 0.5)):
        paths[ckpt] = tmp_path / f"{ckpt}.json"
        write_json(paths[ckpt], _summary("mixed", score))
    rows = write_sweep(
        cfg, experiment="mixed", summary_paths=paths, out_csv=tmp_path / "s.csv", out_json=tmp_path / "s.json"
    )
    assert [r["step"] for r in rows] == [2, 4]
    assert (tmp_path / "s.csv").read_text().splitlines()[1].startswith("mixed,checkpoint-2,2,25.0")
    assert json.loads((tmp_path / "s.json").read_text())["points"][1]["overall"] == 50.0
    assert len(list((tmp_path / "wandb").rglob("offline-run-*"))) == 1
