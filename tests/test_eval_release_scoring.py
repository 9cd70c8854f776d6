"""VeroEval scoring as the release: aggregation per benchmark, coverage of the 30-benchmark
overall, coordinate conventions from the registry, samples scored without their row."""

from __future__ import annotations

from pathlib import Path

import pytest

from vero.config import load_config
from vero.eval.aggregate import benchmark_summary, checkpoint_summary, expected_benchmarks
from vero.eval.comparison import build_comparison
from vero.eval.registry import load_registry, paper_reference
from vero.eval.samples import EvalSample
from vero.eval.scoring import benchmark_coords, score_output

REPO = Path(__file__).resolve().parent.parent
REG = load_registry()


def _rec(score, **kw):
    return {"score": score, "unscored_reason": None if score is not None else "no_judge", **kw}


def test_blink_is_the_mean_of_its_subtask_accuracies():
    recs = [_rec(1.0, subtask="Counting")] * 3 + [_rec(0.0, subtask="Jigsaw")]
    s = benchmark_summary(recs, meta={"benchmark": "blink"}, scoring=REG["blink"].scoring)
    assert s["score"] == pytest.approx(50.0) and s["pooled_score"] == pytest.approx(75.0)
    assert s["subtasks"]["Counting"] == {"score": 100.0, "n_scored": 3}


def test_mm_mt_bench_micro_and_macro_on_the_1_to_10_scale():
    recs = [
        _rec(0.8, metrics={"rating": 8.0}, detail={"category": "charts"}),
        _rec(0.6, metrics={"rating": 6.0}, detail={"category": "charts"}),
        _rec(0.2, metrics={"rating": 2.0}, detail={"category": "ocr"}),
        {"score": None, "unscored_reason": "judge_unparsed"},
    ]
    s = benchmark_summary(recs, meta={"benchmark": "mm_mt_bench"}, scoring=REG["mm_mt_bench"].scoring)
    assert s["micro_average"] == pytest.approx(16 / 3) and s["macro_average"] == pytest.approx(4.5)
    assert s["score"] == pytest.approx(160 / 3)  # % = 10 x micro
    assert s["judge"]["judge_unparsed"] == 1 and s["n_scored"] == 3


def test_aerialvg_reports_mean_iou_and_acc_075_beside_acc_05():
    recs = [
        _rec(1.0, metrics={"iou": 0.8, "acc@0.75": 1.0}),
        _rec(0.0, metrics={"iou": 0.2, "acc@0.75": 0.0}),
    ]
    s = benchmark_summary(recs, meta={"benchmark": "aerialvg"}, scoring=REG["aerialvg"].scoring)
    assert s["score"] == 50.0 and s["metrics"] == {"acc@0.75": 50.0, "iou": pytest.approx(50.0)}


def test_overall_names_its_coverage_and_the_paper_comparison_is_incomplete():
    cfg = load_config(
        REPO / "config" / "config.yaml", overrides={"eval": {"paper_model": "qwen3_vl_8b_instruct"}}
    )
    expected = expected_benchmarks(cfg)
    assert len(expected) == 30
    benches = [
        {"benchmark": k, "category": REG[k].category, "score": 50.0, "n": 1, "n_scored": 1}
        for k in expected[:-2]
    ] + [
        {
            "benchmark": expected[-2],
            "category": REG[expected[-2]].category,
            "score": None,
            "n": 3,
            "n_scored": 0,
        }
    ]
    summaries = {
        name: checkpoint_summary(benches, experiment=name, checkpoint="final", expected=expected)
        for name in ("base", "mixed")
    }
    o = summaries["base"]["overall"]
    assert o["covers"] == "28 of 30 benchmarks" and not o["complete"]
    assert o["missing"] == expected[-2:]  # one without a score, one not evaluated
    assert expected[-1] in summaries["base"]["note"] and "not comparable" in summaries["base"]["note"]
    md, csv_text = build_comparison(summaries, cfg, paper_reference())
    assert "INCOMPLETE comparison with the paper" in md and "| 28/30 |" in md
    assert csv_text.splitlines()[1].endswith(",28/30")


def test_release_reads_boxes_and_points_as_pixels_for_every_family():
    spatial = {k: s.scoring for k, s in REG.items() if s.scoring.get("coords")}
    assert set(spatial) == {"aerialvg", "screenspot", "screenspot_pro"}
    for family in ("qwen3_vl", "qwen2_5_vl"):
        cfg = load_config(REPO / "config" / "config.yaml", overrides={"model": {"family": family}})
        assert {benchmark_coords(cfg, REG[k]) for k in spatial} == {"absolute"}
    zs = load_config(
        REPO / "config" / "config.yaml",
        overrides={"model": {"family": "qwen3_vl"}, "eval": {"coords_variant": "zero_shot"}},
    )
    assert benchmark_coords(zs, REG["screenspot"]) == "qwen1000"


def _sample(benchmark, **kw):
    base = dict(
        id="1",
        benchmark=benchmark,
        category="stem",
        question="q",
        images=[b"x"],
        image_size=(200, 100),
        scorer="reward",
        answer="C",
        reward_type="multiple_choice",
    )
    base.update(kw)
    return EvalSample(**base)


@pytest.mark.parametrize(
    "benchmark, kw, output, expected",
    [
        (
            "mmmu_pro_standard",
            {"meta": {"options": ["nucleus", "ribosome", "mitochondria"]}},
            "x</think>\\boxed{C. Mitochondria}",
            1.0,
        ),
        ("blink", {"meta": {"options": ["left", "right", "up"]}}, "<answer>(C)</answer>", 1.0),
        ("countbenchqa", {"answer": "7", "reward_type": "counting"}, "I count seven.</think>seven", 1.0),
        ("mathvision", {"answer": "12", "reward_type": "numeric"}, "</think>\\boxed{12.0}", 1.0),
        (
            "screenspot",
            {"answer": "", "reference": [80.0, 20.0, 120.0, 60.0]},
            '</think>[{"point_2d": [100, 40]}]',
            1.0,
        ),
        (
            "aerialvg",
            {"answer": "", "reference": [20.0, 20.0, 60.0, 60.0]},
            '[{"bbox_2d": [22, 20, 60, 62]}]',
            1.0,
        ),
    ],
)
def test_samples_without_their_row_are_scored_from_their_gold_fields(benchmark, kw, output, expected):
    r = score_output(_sample(benchmark, **kw), output, scoring=REG[benchmark].scoring)
    assert r["score"] == expected and r["format"] in ("think_only", "answer_only", "plain")


def test_scoring_never_raises_on_a_broken_row():
    s = _sample("embspatial", meta={"doc": {"answer_options": ["a"], "answer": 9}})
    r = score_output(s, "A", scoring=REG["embspatial"].scoring)
    assert r["score"] is None and r["unscored_reason"].startswith("scoring_error:")


class _CannedBackend:
    """Returns fixed outputs (no model): the scoring end of an evaluation job."""

    name = "canned"

    def __init__(self, texts):
        self.texts = texts

    def generate(self, samples, **_):
        from vero.eval.backends import Generation

        return Generation(texts=self.texts[: len(samples)], completion_tokens=[5] * len(samples), seconds=0.1)


def test_evaluation_job_scores_a_veroeval_benchmark_as_the_release(tmp_path):
    """ChartQA rows in the published layout, outputs without an opening <think> (template-injected):
    scored by the release's relaxed correctness, layouts recorded, nothing gated."""
    import json

    from PIL import Image

    from vero.eval.evaluate import evaluate_benchmark

    Image.new("RGB", (32, 24), "white").save(tmp_path / "chart.png")
    rows = [
        {"image": "chart.png", "question": "Share in 2019?", "answer": "45", "type": "human_test"},
        {"image": "chart.png", "question": "Which party?", "answer": "Republican", "type": "augmented_test"},
        {"image": "chart.png", "question": "Total?", "answer": "1200", "type": "human_test"},
    ]
    (tmp_path / "chartqa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = load_config(
        REPO / "config" / "demo.yaml",
        overrides={
            "results_dir": str(tmp_path / "results"),
            "eval": {
                "suite": "veroeval",
                "benchmarks": ["chartqa"],
                "local_data": {"chartqa": str(tmp_path / "chartqa.jsonl")},
            },
        },
    )
    outputs = [
        "The bar reads 0.45.\n</think>\n<answer>\\boxed{0.45}</answer>",  # 0.45 vs 45: right
        "Red is the Republican color</think>\n\nRepublican",  # no answer block: still scored
        "<think>adding up the segments",  # truncated: wrong
    ]
    summary = evaluate_benchmark(
        cfg,
        experiment="base",
        checkpoint="final",
        benchmark="chartqa",
        out_jsonl=tmp_path / "chartqa.jsonl.out",
        out_summary=tmp_path / "chartqa.json",
        backend=_CannedBackend(outputs),
        judge=None,
    )
    recs = [json.loads(x) for x in (tmp_path / "chartqa.jsonl.out").read_text().splitlines()]
    assert [r["score"] for r in recs] == [1.0, 1.0, 0.0]
    assert [r["format"] for r in recs] == ["think_answer", "think_only", "unclosed_think"]
    assert summary["score"] == pytest.approx(200 / 3) and summary["formats"]["think_only"] == 1


@pytest.mark.parametrize(
    "module",
    ["answers", "chart_metrics", "choices", "mathmatch", "geometry", "scorers", "judges", "mmif_checks"],
)
def test_docstring_examples_hold(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"vero.eval.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_every_benchmark_has_a_valid_scoring_entry_and_bad_ones_name_the_key(tmp_path):
    import yaml

    from vero.eval.registry import RegistryError

    assert all(s.scoring.get("method") and s.scoring.get("source") for s in REG.values())
    doc = yaml.safe_load((REPO / "config" / "veroeval.yaml").read_text())
    for patch, message in (
        ({"chartqa": {"method": "bleu", "source": "x"}}, "scoring.chartqa: method: unknown 'bleu'"),
        ({"chartqa": {"method": "chartqa"}}, "scoring.chartqa: source: missing"),
        ({"nope": {"method": "chartqa", "source": "x"}}, "scoring.nope: not a benchmark"),
        (
            {"aerialvg": {"method": "aerialvg", "source": "x", "coords": {"reasoning": "pixels"}}},
            "coords.reasoning",
        ),
    ):
        broken = {**doc, "scoring": {**doc["scoring"], **patch}}
        path = tmp_path / "reg.yaml"
        path.write_text(yaml.safe_dump(broken))
        with pytest.raises(RegistryError, match=message):
            load_registry(path)


def test_row_fields_the_loader_keeps_reach_the_scorer():
    """`meta["row"]` (the registry's fields.extra) overlays the gold fields: ChartQA-Pro's year flags
    turn a 5 % numeric match into an exact one; MathVista's precision and answer type apply."""
    pro = _sample("chartqa_pro", answer="2015", meta={"row": {"Question Type": "Factoid", "Year": ["YES"]}})
    assert score_output(pro, "</think>2016", scoring=REG["chartqa_pro"].scoring)["score"] == 0.0
    pro_plain = _sample(
        "chartqa_pro", answer="2015", meta={"row": {"Question Type": "Factoid", "Year": ["NO"]}}
    )
    assert score_output(pro_plain, "</think>2016", scoring=REG["chartqa_pro"].scoring)["score"] == 1.0
    row = {"question_type": "free_form", "answer_type": "float", "precision": 1.0}
    vista = _sample("mathvista_testmini", answer="1.5", meta={"row": row})
    assert (
        score_output(vista, "</think>\\boxed{1.46}", scoring=REG["mathvista_testmini"].scoring)["score"]
        == 1.0
    )
    assert (
        score_output(vista, "</think>\\boxed{1.56}", scoring=REG["mathvista_testmini"].scoring)["score"]
        == 0.0
    )


def test_mm_mt_bench_turns_come_from_the_sample_conversation():
    from vero.eval.judges import mm_mt_turns
    from vero.eval.scorers import doc_for

    msgs = [
        {"role": "user", "content": "What is shown?"},
        {"role": "assistant", "content": "A bar chart."},
        {"role": "user", "content": "Which bar is tallest?"},
    ]
    from types import SimpleNamespace

    # a sample as the loader expands MM-MT-Bench: one per turn, the conversation up to it in `messages`
    s = SimpleNamespace(
        id="1",
        answer="The 2019 bar.",
        question=msgs[-1]["content"],
        messages=msgs,
        reference=None,
        image_size=(8, 8),
        meta={"row": {"category": "charts", "turn": 1}},
    )
    questions, refs = mm_mt_turns(doc_for(s, "mm_mt_bench"))
    assert questions == ["What is shown?", "Which bar is tallest?"] and refs == [
        "A bar chart.",
        "The 2019 bar.",
    ]
