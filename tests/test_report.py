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
