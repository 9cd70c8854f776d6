"""Small matplotlib helpers shared by the analysis plots (headless, consistent colours)."""

from __future__ import annotations

import os
from pathlib import Path

from vero.categories import CATEGORIES, CATEGORY_NAMES

# One fixed colour per category so every plot of the study reads the same way.
CATEGORY_COLORS: dict[str, str] = {
    "chart_ocr": "#1f77b4",
    "stem": "#d62728",
    "spatial_action": "#2ca02c",
    "knowledge_recognition": "#9467bd",
    "grounding_counting_search": "#ff7f0e",
    "captioning_if": "#8c564b",
}


def category_color(category: str) -> str:
    return CATEGORY_COLORS.get(category, "#7f7f7f")


def category_label(category: str) -> str:
    return CATEGORY_NAMES.get(category, category)


def ordered_categories(present) -> list[str]:
    """The known categories in project order, then any unknown ones sorted."""
    present = set(present)
    return [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display on cluster nodes or in CI)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return path


def note_figure(path: str | Path, title: str, message: str) -> Path:
    """A figure that states why there is nothing to plot, so the output exists and says so."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=11, transform=ax.transAxes)
    return save_figure(fig, path)
