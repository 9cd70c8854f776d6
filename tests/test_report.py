"""The one-page report: built from fixed inputs, rendered in headless Chromium."""

from __future__ import annotations

import csv
import json

import pytest

from tests.browser import chromium_path, non_blank_fraction, render
from vero.report import ReportInputs, build_report

HEADINGS = [
    "Evaluation per category vs the base model and the paper",
    "Transfer matrix",
    "Reasoning length per category",
    "Skill probe",
    "Skill UMAP",
    "Training curves",
]


def _png(path, color):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar([0, 1, 2], [1, 3, 2], color=color)
    ax.set_title(path.stem)
    fig.savefig(path)
    plt.close(fig)
    return path


@pytest.fixture
def inputs(tmp_path):
    import plotly.graph_objects as go

    comp = tmp_path / "comparison.csv"
    with open(comp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["experiment", "chart_ocr", "overall", "delta_overall"])
        w.writerow(["base", "0.25", "0.30", "0.0"])
        w.writerow(["mixed", "0.50", "0.40", "0.10"])
        w.writerow(["single_stem", "0.10", "0.20", "-0.10"])
    probe = tmp_path / "probe.json"
    probe.write_text(
        json.dumps({"accuracy_mean": 0.91, "accuracy_std": 0.02, "chance": 0.167, "p_value": 0.001})
    )
    umap_html = tmp_path / "umap.html"
    fig = go.Figure(go.Scatter(x=[0, 1, 2], y=[1, 0, 2], mode="markers", name="stem", text=["a", "b", "c"]))
    fig.write_html(umap_html, include_plotlyjs=True, full_html=True, div_id="umap-plot")
    return ReportInputs(
        comparison_csv=comp,
        transfer_png=_png(tmp_path / "transfer.png", "tab:red"),
        reasoning_length_png=_png(tmp_path / "reasoning_length.png", "tab:blue"),
        probe_json=probe,
        probe_confusion_png=_png(tmp_path / "probe_confusion.png", "tab:green"),
        umap_html=umap_html,
        dynamics_pngs=[_png(tmp_path / "mixed.png", "tab:purple")],
        config={"model": {"base": "tiny", "family": "qwen2_5_vl"}, "experiments": {"mixed": {}}},
    )


def test_report_holds_every_section_and_is_self_contained(inputs, tmp_path):
    out = build_report(inputs, tmp_path / "report" / "report.html")
    text = out.read_text()
    for h in HEADINGS:
        assert h in text
    # tables, the probe figure and inlined images and plot: no external file is referenced
    assert "0.910" in text and "p = 0.0010" in text
    assert text.count("<img alt=") == 4
    assert 'id="umap-plot"' in text
    assert 'class="neg"' in text and 'class="pos"' in text
    assert 'src="http' not in text
    assert "Embedded demo." in text  # the tiny model's zeros are explained on the page


def test_report_for_a_real_model_has_no_demo_note(inputs, tmp_path):
    inputs.config = {"model": {"base": "Qwen/Qwen3-VL-8B-Instruct", "family": "qwen3_vl"}, "experiments": {}}
    text = build_report(inputs, tmp_path / "r.html").read_text()
    assert "Embedded demo." not in text


@pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (make test installs it as root)")
def test_report_renders_in_headless_chromium(inputs, tmp_path):
    out = build_report(inputs, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    dom = render(out, shot)
    assert shot.exists() and shot.stat().st_size > 10_000
    assert non_blank_fraction(shot) > 0.02
    for h in HEADINGS:
        assert h in dom
    # plotly ran in the browser and drew the scatter into the div
    assert "plot-container" in dom


def _tag_balance(text: str, tag: str) -> int:
    """Open minus closed `tag` elements of an HTML text (0 when every one is closed)."""
    from html.parser import HTMLParser

    depth = {"n": 0, "min": 0}

    class P(HTMLParser):
        def handle_starttag(self, t, attrs):
            if t == tag:
                depth["n"] += 1

        def handle_endtag(self, t):
            if t == tag:
                depth["n"] -= 1
                depth["min"] = min(depth["min"], depth["n"])

    P().feed(text)
    assert depth["min"] >= 0, f"a </{tag}> closes nothing"
    return depth["n"]


def test_tables_and_the_page_close_every_div(inputs, tmp_path):
    from vero.report.build import _table_html

    assert _tag_balance(_table_html(["a", "delta"], [["x", "1.0"]]), "div") == 0
    text = build_report(inputs, tmp_path / "r.html").read_text()
    assert _tag_balance(text, "div") == 0
    assert _tag_balance(text, "table") == 0


def _summary(experiment, scores, sem=2.0, n=64):
    from vero.eval.aggregate import checkpoint_summary

    benches = [
        {
            "benchmark": f"mini_{c}",
            "name": c,
            "category": c,
            "metric": "accuracy",
            "score": s,
            "score_sem": sem,
            "n": n,
            "n_scored": n,
        }
        for c, s in scores.items()
    ]
    return checkpoint_summary(benches, experiment=experiment, checkpoint="final")


def _write_run(results, summaries):
    for name, summ in summaries.items():
        d = results / "eval" / name / "final"
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps(summ))


DEMO_CFG = {
    "model": {"base": "tiny", "family": "qwen2_5_vl"},
    "experiments": {
        "mixed": {"categories": "all", "ablation": "main"},
        "single_chart_ocr": {"categories": ["chart_ocr"], "ablation": "transfer"},
        "single_stem": {"categories": ["stem"], "ablation": "transfer"},
        "reward_math_verify": {
            "categories": "all",
            "ablation": "reward",
            "train": {"reward": "math_verify_only"},
        },
    },
}


def test_demo_figures_compare_runs_and_name_the_shortfalls(tmp_path, inputs):
    from vero.categories import CATEGORIES
    from vero.report.demo_figures import demo_figures, figure_lines

    base = dict.fromkeys(CATEGORIES, 20.0)
    mixed = {**base, "chart_ocr": 40.0, "stem": 35.0, "grounding_counting_search": 44.0}
    chart = {**base, "chart_ocr": 50.0, "stem": 22.0}
    stem = {**base, "chart_ocr": 25.0, "stem": 18.0}  # stem-only gains less on stem than chart-only
    mv = {**mixed, "grounding_counting_search": 21.0}
    _write_run(
        tmp_path,
        {
            "base": _summary("base", base),
            "mixed": _summary("mixed", mixed),
            "single_chart_ocr": _summary("single_chart_ocr", chart),
            "single_stem": _summary("single_stem", stem),
            "reward_math_verify": _summary("reward_math_verify", mv),
        },
    )
    fig = demo_figures(tmp_path, DEMO_CFG)
    mb = fig["mixed_vs_base"]
    assert mb["delta"] == pytest.approx((20 + 15 + 24) / 6)
    assert mb["base_sem"] == pytest.approx((6 * 4.0) ** 0.5 / 6)  # sqrt(sum SEM^2) / n
    diag = fig["transfer_diagonal"]
    assert diag["per_category"]["chart_ocr"] == {"own_gain": 30.0, "best_other_gain": 5.0, "wins": True}
    assert diag["per_category"]["stem"]["wins"] is False and diag["wins"] == 1
    assert fig["reward_ablation"]["delta"] == pytest.approx(-23.0)
    met = {name: ok for name, _, _, ok in figure_lines(fig)}
    assert met["mixed vs base, overall (points)"] == "no"  # +9.8 < +10
    assert met["math-verify-only vs task-routed, grounding (points)"] == "yes"
    # the report of a demo shows the same table
    inputs.config = {**DEMO_CFG, "results_dir": str(tmp_path)}
    text = build_report(inputs, tmp_path / "r.html").read_text()
    assert "transfer diagonal" in text and "+9.8" in text and "−23.0" not in text and "-23.0" in text
