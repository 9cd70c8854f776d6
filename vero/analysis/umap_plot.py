"""UMAP of skill embeddings: a static PNG and an interactive plotly HTML.

In the HTML each category is its own trace (click the legend to hide or show it, double-click
to isolate it) and hovering a point shows the skill's label, description, category and the
experiment whose trace it came from.
"""

from __future__ import annotations

import html
import random
import textwrap
from pathlib import Path

import numpy as np

from vero.analysis.plotting import category_color, category_label, ordered_categories, pyplot, save_figure

POINT_COLUMNS = ("experiment", "category", "id", "label", "description")


def skill_points(records: list[dict], max_points: int | None = None, seed: int = 0):
    """One row per (trace, skill); at most `max_points` in all, split evenly over categories."""
    import pandas as pd

    rows = [
        {
            "experiment": r.get("experiment") or "",
            "category": r["category"],
            "id": str(r.get("id")),
            "label": s["label"],
            "description": s["description"],
        }
        for r in records
        for s in r.get("skills") or []
    ]
    df = pd.DataFrame(rows, columns=list(POINT_COLUMNS))
    if max_points and len(df) > max_points:
        cats = ordered_categories(df["category"])
        quota = max(1, max_points // len(cats))
        rng = random.Random(seed)
        keep = []
        for c in cats:
            idx = list(df.index[df["category"] == c])
            keep.extend(idx if len(idx) <= quota else rng.sample(idx, quota))
        df = df.loc[sorted(keep)].reset_index(drop=True)
    return df


def umap_2d(
    vectors: np.ndarray,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "cosine",
    seed: int = 0,
) -> np.ndarray:
    """2-D UMAP coordinates (seeded, hence single-threaded and reproducible).

    Needs at least 4 points; `n_neighbors` is capped below the number of points, and small sets
    use a random initialisation (the spectral one needs more points than neighbours).
    """
    n = len(vectors)
    if n < 4:
        raise ValueError(f"UMAP needs at least 4 points, got {n}")
    import umap

    k = max(2, min(n_neighbors, n - 1))
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=k,
        min_dist=min_dist,
        metric=metric,
        random_state=seed,
        init="spectral" if n > k + 10 else "random",
    )
    return np.asarray(reducer.fit_transform(vectors), dtype=float)


def _hover_text(text: str, width: int = 70) -> str:
    return "<br>".join(textwrap.wrap(html.escape(text), width)) or "&nbsp;"


# Up to this many points the HTML draws SVG markers (one DOM element per point, crisp, works
# without WebGL); above it WebGL, which stays responsive with tens of thousands of points.
SVG_MAX_POINTS = 5000


def umap_figure(points, title: str):
    """The plotly figure: one trace per category, every point of `points` in it."""
    import plotly.graph_objects as go

    scatter = go.Scatter if len(points) <= SVG_MAX_POINTS else go.Scattergl
    fig = go.Figure()
    for c in ordered_categories(points["category"]):
        sub = points[points["category"] == c]
        custom = np.column_stack(
            [
                [html.escape(v) for v in sub["label"]],
                [_hover_text(v) for v in sub["description"]],
                [category_label(c)] * len(sub),
                [html.escape(v) for v in sub["experiment"]],
            ]
        )
        fig.add_trace(
            scatter(
                x=sub["x"].tolist(),
                y=sub["y"].tolist(),
                mode="markers",
                name=f"{category_label(c)} ({len(sub)})",
                marker={"size": 6, "color": category_color(c), "opacity": 0.75},
                customdata=custom,
                hovertemplate=(
                    "<b>%{customdata[0]}</b><br>%{customdata[1]}<br>"
                    "category: %{customdata[2]}<br>run: %{customdata[3]}<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="UMAP 1",
        yaxis_title="UMAP 2",
        legend={
            "title": "category (click to toggle)",
            "itemclick": "toggle",
            "itemdoubleclick": "toggleothers",
        },
        template="plotly_white",
        width=1000,
        height=720,
    )
    return fig


def write_umap_html(points, path: str | Path, title: str, include_plotlyjs: str | bool = True) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    umap_figure(points, title).write_html(str(path), include_plotlyjs=include_plotlyjs, full_html=True)
    return path


def write_note_html(path: str | Path, title: str, message: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h2>{html.escape(title)}</h2><p>{html.escape(message)}</p></body></html>\n"
    )
    return path


def plot_umap_png(points, path: str | Path, title: str) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 6.5))
    for c in ordered_categories(points["category"]):
        sub = points[points["category"] == c]
        ax.scatter(
            sub["x"],
            sub["y"],
            s=8,
            alpha=0.7,
            color=category_color(c),
            label=f"{category_label(c)} ({len(sub)})",
        )
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, markerscale=2)
    return save_figure(fig, path)
