"""Reasoning length: think-block parsing, statistics, the CSV table and the plot."""

import math

import pytest

from tests.fixtures.synthetic_analysis import synthetic_traces
from vero.analysis.reasoning_length import (
    bootstrap_ci,
    count_words,
    length_table,
    mean_sem,
    plot_lengths,
    think_block,
    think_words,
)
from vero.categories import CATEGORIES, PAPER_REASONING_LENGTH


@pytest.mark.parametrize(
    ("text", "body", "status"),
    [
        ("<think>a b c</think><answer>x</answer>", "a b c", "closed"),
        ("<think>one two", "one two", "unclosed"),
        ("<think>one two<answer>3</answer>", "one two", "unclosed"),
        ("reasoning here</think><answer>1</answer>", "reasoning here", "close_only"),
        ("<answer>1</answer>", None, "missing"),
        ("", None, "missing"),
        (None, None, "missing"),
        ("<think>first</think> <think>second</think>", "first", "closed"),
    ],
)
def test_think_block(text, body, status):
    assert think_block(text) == (body, status)


def test_words_and_missing_policy():
    assert count_words("  a\nb\t c  ") == 3
    assert think_words("<think>x y z</think><answer>1</answer>") == 3
    assert think_words("<answer>1</answer>", "drop") is None
    assert think_words("<answer>1</answer>", "zero") == 0
    with pytest.raises(ValueError, match="no_think"):
        think_words("<answer>1</answer>", "keep")


def test_mean_sem_and_bootstrap():
    m, s = mean_sem([1, 2, 3, 4])
    assert m == 2.5 and s == pytest.approx(1.2909944 / 2)
    assert all(math.isnan(v) for v in mean_sem([]))
    assert math.isnan(mean_sem([5])[1])
    lo, hi = bootstrap_ci([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], n_resamples=500)
    assert lo < 5.5 < hi
    assert lo > 2 and hi < 9
    assert bootstrap_ci([3, 3, 3]) == (3.0, 3.0)
    assert all(math.isnan(v) for v in bootstrap_ci([1.0]))


def test_length_table_recovers_known_order(tmp_path):
    traces = synthetic_traces(20, seed=3)
    traces.append({"id": "x", "experiment": "mixed", "category": "stem", "output": "<answer>1</answer>"})
    table = length_table(traces, n_resamples=300)
    assert list(table["category"]) == list(CATEGORIES)
    stem = table[table["category"] == "stem"].iloc[0]
    assert stem["n_traces"] == 21 and stem["n_measured"] == 20 and stem["n_no_think"] == 1
    ours = table.set_index("category")["mean_words"]
    # synthetic lengths follow the paper's: spatial_action longest, knowledge_recognition short
    assert ours.idxmax() == "spatial_action"
    assert ours["chart_ocr"] > ours["knowledge_recognition"]
    for _, r in table.iterrows():
        assert r["ci_low"] <= r["mean_words"] <= r["ci_high"]
        assert r["paper_mean_words"] == PAPER_REASONING_LENGTH[r["category"]][0]
    out = plot_lengths(table, tmp_path / "len.png", own_runs={"stem": "mixed"})
    assert out.stat().st_size > 5000


def test_plot_with_no_measured_traces(tmp_path):
    table = length_table([{"id": 1, "experiment": "e", "category": "stem", "output": "no tags"}])
    assert table.iloc[0]["n_measured"] == 0 and math.isnan(table.iloc[0]["mean_words"])
    assert plot_lengths(table, tmp_path / "empty.png").exists()
