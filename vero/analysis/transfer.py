"""The transfer matrix of the single-category ablation (docs/recipe.md#6-ablations).

Row = the category an experiment was trained on (one `single_*`-style experiment of ablation
`transfer` each), plus the all-category mixed run as the last row; column = evaluated category;
value = the experiment's category score minus the base model's, in points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from vero.analysis.plotting import category_label, pyplot, save_figure
from vero.categories import CATEGORIES
from vero.config import experiment_categories

MIXED_ROW = "mixed (all)"


def transfer_rows(config: Mapping) -> list[tuple[str, str]]:
    """(row label, experiment) pairs: single-category transfer runs in category order, then the
    first experiment of ablation `main` (the mixed run). Empty when there is no transfer run."""
    experiments = config.get("experiments") or {}
    singles = {}
    for name, exp in experiments.items():
        cats = experiment_categories(exp)
        if exp.get("ablation", "main") == "transfer" and len(cats) == 1:
            singles.setdefault(cats[0], name)
    rows = [(c, singles[c]) for c in CATEGORIES if c in singles]
    if not rows:
        return []
    main = next((n for n, e in experiments.items() if e.get("ablation", "main") == "main"), None)
    if main:
        rows.append((MIXED_ROW, main))
    return rows


def score_of(value) -> float | None:
    """A score from a summary entry: a number, or an object with a numeric `score`
    (vero.eval.aggregate writes `{"score": ..., "n_benchmarks": ...}`); None when absent."""
    if isinstance(value, Mapping):
        value = value.get("score")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def transfer_table(
    rows: list[tuple[str, str]], summaries: Mapping[str, dict], base: dict, *, scale: float = 1.0
):
    """Wide table: experiment, trained_on, one delta column per evaluated category, overall.

    Deltas are (score − base score) × `scale`. A category without a score in either summary
    gives NaN for that cell (and is named in the returned `missing` list), not an error.
    """
    import pandas as pd

    base_cats = base.get("categories", {})
    cats = [c for c in CATEGORIES if c in base_cats] + sorted(set(base_cats) - set(CATEGORIES))
    out, missing = [], []
    for label, exp in rows:
        s = summaries[exp].get("categories", {})
        row = {"experiment": exp, "trained_on": label}
        for c in cats:
            a, b = score_of(s.get(c)), score_of(base_cats.get(c))
            if a is not None and b is not None:
                row[c] = (a - b) * scale
            else:
                row[c] = math.nan
                missing.append(f"{exp}:{c}")
        ov, bov = score_of(summaries[exp].get("overall")), score_of(base.get("overall"))
        row["overall"] = (ov - bov) * scale if ov is not None and bov is not None else math.nan
        out.append(row)
    return pd.DataFrame(out, columns=["experiment", "trained_on", *cats, "overall"]), missing


def plot_transfer(table, path: str | Path, *, unit: str = "points") -> Path:
    """Annotated diverging heatmap centred on 0; trained-on-itself cells outlined, mixed row set apart."""
    plt = pyplot()
    cats = [c for c in table.columns if c not in ("experiment", "trained_on", "overall")]
    values = table[cats].to_numpy(dtype=float)
    lim = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    lim = lim or 1.0
    fig, ax = plt.subplots(figsize=(1.3 * len(cats) + 3.5, 0.7 * len(table) + 2.5))
    im = ax.imshow(values, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            ax.text(
                j,
                i,
                "n/a" if math.isnan(v) else f"{v:+.1f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if abs(v) > 0.6 * lim else "black",
            )
    trained = list(table["trained_on"])
    for i, t in enumerate(trained):
        if t in cats:
            j = cats.index(t)
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2))
    if trained and trained[-1] not in cats:
        ax.axhline(len(trained) - 1.5, color="black", linewidth=1.5)
    ax.set_xticks(range(len(cats)), [category_label(c) for c in cats], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(trained)), [category_label(t) if t in cats else t for t in trained], fontsize=8)
    ax.set_xlabel("evaluated category")
    ax.set_ylabel("trained on")
    ax.set_title(f"Transfer: score − base model ({unit})", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, label=f"Δ {unit}")
    fig.tight_layout()
    return save_figure(fig, path)
