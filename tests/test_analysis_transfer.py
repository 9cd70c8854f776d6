"""Transfer matrix: rows from the config, deltas vs the base model, missing cells, heatmap."""

import math

import pytest

from vero.analysis.transfer import MIXED_ROW, plot_transfer, transfer_rows, transfer_table
from vero.categories import CATEGORIES

CFG = {
    "experiments": {
        "mixed": {"categories": "all", "ablation": "main"},
        "single_stem": {"categories": ["stem"], "ablation": "transfer"},
        "single_chart_ocr": {"categories": ["chart_ocr"], "ablation": "transfer"},
        "algo_grpo": {"categories": "all", "ablation": "algorithm"},
        "two_cats": {"categories": ["stem", "chart_ocr"], "ablation": "transfer"},
    }
}


def test_rows_follow_category_order_with_mixed_last():
    assert transfer_rows(CFG) == [
        ("chart_ocr", "single_chart_ocr"),
        ("stem", "single_stem"),
        (MIXED_ROW, "mixed"),
    ]
    assert transfer_rows({"experiments": {"mixed": {}}}) == []


def test_deltas_in_points_and_missing_cells(tmp_path):
    # plain numbers (fractions, scaled by 100) and vero.eval's {"score": ...} objects both work
    base = {
        "categories": {c: {"score": 0.5, "n_benchmarks": 2} for c in CATEGORIES},
        "overall": {"score": 0.5},
    }
    summaries = {
        "single_chart_ocr": {
            "categories": {**dict.fromkeys(CATEGORIES, 0.45), "chart_ocr": 0.7},
            "overall": 0.5,
        },
        "single_stem": {"categories": {"stem": 0.6, "chart_ocr": {"score": None}}},
        "mixed": {"categories": dict.fromkeys(CATEGORIES, 0.55), "overall": 0.55},
    }
    table, missing = transfer_table(transfer_rows(CFG), summaries, base, scale=100)
    assert list(table["trained_on"]) == ["chart_ocr", "stem", MIXED_ROW]
    assert list(table.columns) == ["experiment", "trained_on", *CATEGORIES, "overall"]
    row = table.set_index("trained_on")
    assert row.loc["chart_ocr", "chart_ocr"] == pytest.approx(20.0)
    assert row.loc["chart_ocr", "stem"] == pytest.approx(-5.0)
    assert row.loc[MIXED_ROW, "captioning_if"] == pytest.approx(5.0)
    assert row.loc["stem", "stem"] == pytest.approx(10.0) and math.isnan(row.loc["stem", "chart_ocr"])
    assert math.isnan(row.loc["stem", "overall"])
    assert "single_stem:chart_ocr" in missing and len(missing) == 5
    assert plot_transfer(table, tmp_path / "t.png").stat().st_size > 5000
