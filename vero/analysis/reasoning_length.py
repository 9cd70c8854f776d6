"""Reasoning length: words in the think block, per category and experiment.

Source: docs/recipe.md#8-behavioral-analysis.

The paper reports mean ± SEM of think-block words on the validation set after single-category
RL; `vero.categories.PAPER_REASONING_LENGTH` holds its figures, shown beside ours.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from vero.analysis.plotting import category_color, category_label, ordered_categories, pyplot, save_figure
from vero.categories import PAPER_REASONING_LENGTH

_WORD_RE = re.compile(r"\S+")
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"

# How a think block was found; `missing` means none, so the trace has no reasoning to measure.
THINK_STATUSES = ("closed", "unclosed", "close_only", "missing")

COLUMNS = (
    "experiment",
    "category",
    "n_traces",
    "n_measured",
    "n_no_think",
    "n_unclosed",
    "mean_words",
    "sem_words",
    "ci_low",
    "ci_high",
    "median_words",
    "paper_mean_words",
    "paper_sem_words",
)


def think_block(text: str) -> tuple[str | None, str]:
    """The think-block text of an output and how it was found (one of THINK_STATUSES).

    - `closed`: between the first `<think>` and the next `</think>`;
    - `unclosed`: `<think>` with no close, e.g. a completion truncated at the length limit: the
      reasoning runs to `<answer>` or the end;
    - `close_only`: a `</think>` without an opening tag (chat templates of thinking models put
      `<think>` in the prompt): everything before it;
    - `missing`: no tag at all.
    """
    if not isinstance(text, str):
        return None, "missing"
    start = text.find(THINK_OPEN)
    if start >= 0:
        body_start = start + len(THINK_OPEN)
        end = text.find(THINK_CLOSE, body_start)
        if end >= 0:
            return text[body_start:end], "closed"
        answer = text.find("<answer>", body_start)
        return text[body_start : answer if answer >= 0 else len(text)], "unclosed"
    end = text.find(THINK_CLOSE)
    if end >= 0:
        return text[:end], "close_only"
    return None, "missing"


def count_words(text: str | None) -> int:
    return len(_WORD_RE.findall(text)) if text else 0


def think_words(text: str, no_think: str = "drop") -> float | None:
    """Words in the think block; for an output without one, `drop` gives None and `zero` gives 0."""
    body, status = think_block(text)
    if status == "missing":
        if no_think == "zero":
            return 0.0
        if no_think == "drop":
            return None
        raise ValueError(f"no_think must be 'drop' or 'zero', got {no_think!r}")
    return float(count_words(body))


def mean_sem(values) -> tuple[float, float]:
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    sem = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
    return float(x.mean()), sem


def bootstrap_ci(
    values, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (scipy); NaN when fewer than two values."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return math.nan, math.nan
    if np.all(x == x[0]):  # a constant sample has a degenerate (zero-width) interval
        return float(x[0]), float(x[0])
    from scipy.stats import bootstrap

    res = bootstrap(
        (x,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def length_table(
    traces: list[dict],
    *,
    no_think: str = "drop",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
):
    """One row per (experiment, category) with the COLUMNS statistics, as a pandas DataFrame."""
    import pandas as pd

    groups: dict[tuple[str, str], dict] = {}
    for t in traces:
        key = (t["experiment"], t["category"])
        g = groups.setdefault(key, {"words": [], "n": 0, "no_think": 0, "unclosed": 0})
        g["n"] += 1
        _, status = think_block(t["output"])
        g["no_think"] += status == "missing"
        g["unclosed"] += status == "unclosed"
        w = think_words(t["output"], no_think)
        if w is not None:
            g["words"].append(w)
    experiments = list(dict.fromkeys(t["experiment"] for t in traces))
    rows = []
    for exp in experiments:
        for cat in ordered_categories(c for e, c in groups if e == exp):
            g = groups[(exp, cat)]
            mean, sem = mean_sem(g["words"])
            lo, hi = bootstrap_ci(g["words"], n_resamples, confidence, seed)
            paper = PAPER_REASONING_LENGTH.get(cat, (math.nan, math.nan))
            rows.append(
                {
                    "experiment": exp,
                    "category": cat,
                    "n_traces": g["n"],
                    "n_measured": len(g["words"]),
                    "n_no_think": g["no_think"],
                    "n_unclosed": g["unclosed"],
                    "mean_words": mean,
                    "sem_words": sem,
                    "ci_low": lo,
                    "ci_high": hi,
                    "median_words": float(np.median(g["words"])) if g["words"] else math.nan,
                    "paper_mean_words": paper[0],
                    "paper_sem_words": paper[1],
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def plot_lengths(
    table, path: str | Path, *, confidence: float = 0.95, own_runs: dict[str, str] | None = None
) -> Path:
    """Grouped bars (categories × experiments) with bootstrap-interval error bars, and the
    paper's figures (mean ± SEM) in a panel beside them. `own_runs` (category -> experiment
    trained on it alone) outlines the bars of the paper's setting."""
    own_runs = own_runs or {}
    plt = pyplot()
    cats = ordered_categories(table["category"]) if len(table) else ordered_categories(PAPER_REASONING_LENGTH)
    experiments = list(dict.fromkeys(table["experiment"]))
    fig, (ax, axp) = plt.subplots(
        1, 2, figsize=(max(10, 2.2 * len(cats) + 4), 5.6), gridspec_kw={"width_ratios": [3, 2]}
    )
    width = 0.8 / max(1, len(experiments))
    cmap = plt.get_cmap("tab20")
    x = np.arange(len(cats))
    for i, exp in enumerate(experiments):
        sub = table[table["experiment"] == exp].set_index("category")
        means = np.array([sub["mean_words"].get(c, np.nan) for c in cats], dtype=float)
        lo = np.array([sub["ci_low"].get(c, np.nan) for c in cats], dtype=float)
        hi = np.array([sub["ci_high"].get(c, np.nan) for c in cats], dtype=float)
        yerr = np.vstack([np.nan_to_num(means - lo), np.nan_to_num(hi - means)])
        ax.bar(
            x + (i - (len(experiments) - 1) / 2) * width,
            means,  # NaN (no trace with a think block) draws no bar rather than a 0
            width,
            yerr=np.where(np.isnan(means), np.nan, yerr),
            capsize=2,
            label=exp,
            color=cmap(i % 20),
            edgecolor=["black" if own_runs.get(c) == exp else "none" for c in cats],
            linewidth=1.5,
        )
    ax.set_xticks(x, [category_label(c) for c in cats], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("words in the think block")
    note = "; outlined: trained on that category alone" if own_runs else ""
    ax.set_title(f"This run: mean, {int(confidence * 100)} % bootstrap interval{note}", fontsize=10)
    if experiments:  # below both panels: a dozen runs would hide the bars
        fig.legend(fontsize=7, ncol=min(6, len(experiments)), loc="lower center", frameon=False)
    else:
        ax.text(0.5, 0.5, "no traces with a think block", ha="center", transform=ax.transAxes)
    pcats = [c for c in cats if c in PAPER_REASONING_LENGTH]
    pm = [PAPER_REASONING_LENGTH[c][0] for c in pcats]
    ps = [PAPER_REASONING_LENGTH[c][1] for c in pcats]
    axp.bar(np.arange(len(pcats)), pm, yerr=ps, capsize=3, color=[category_color(c) for c in pcats])
    axp.set_xticks(
        np.arange(len(pcats)), [category_label(c) for c in pcats], rotation=30, ha="right", fontsize=8
    )
    axp.set_title("Paper (Vero, single-category RL): mean ± SEM")
    rows = -(-len(experiments) // 6)
    fig.tight_layout(rect=(0, 0.03 + 0.045 * rows, 1, 1))
    return save_figure(fig, path)
