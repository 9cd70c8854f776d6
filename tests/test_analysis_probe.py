"""The skill probe on synthetic traces with known structure: distinct skill vocabularies per
category must be recovered far above chance with a small p-value; identical ones must not."""

import json

import pytest

from vero.analysis.probe import coefficients_frame, plot_confusion, run_probe, skill_text
from vero.analysis.skills import extract_skills, get_extractor
from vero.analysis.synthetic import synthetic_traces

PERMUTATIONS = 30  # smallest attainable p-value 1/31


def _records(distinct, n=24, seed=0):
    traces = synthetic_traces(n, distinct=distinct, seed=seed)
    return extract_skills(traces, get_extractor("lexicon"), progress=False)


@pytest.fixture(scope="module")
def distinct_result():
    return run_probe(_records(True), folds=4, permutations=PERMUTATIONS, seed=0)


def test_distinct_vocabularies_are_recovered(distinct_result, tmp_path):
    r = distinct_result
    assert r["status"] == "ok" and r["n_used"] == 144 and r["folds"] == 4
    assert r["chance_uniform"] == pytest.approx(1 / 6) and r["chance_majority"] == pytest.approx(1 / 6)
    assert r["accuracy_mean"] > 0.9
    assert r["p_value"] < 0.05 and r["permutation_mean_accuracy"] < 0.35
    cm = r["confusion_matrix"]
    assert sum(map(sum, cm)) == 144 and sum(cm[i][i] for i in range(6)) > 0.9 * 144
    # the probe's evidence is the categories' own operations
    top = {c: [f for f, _ in feats[:5]] for c, feats in r["top_coefficients"].items()}
    assert any(f in ("counting", "count") for f in top["grounding_counting_search"])
    frame = coefficients_frame(r)
    assert set(frame["category"]) == set(r["classes"]) and (frame["rank"] == 1).sum() == 6
    assert plot_confusion(r, tmp_path / "cm.png").stat().st_size > 5000
    json.dumps(r)  # JSON-ready


def test_identical_distributions_stay_near_chance():
    r = run_probe(_records(False), folds=4, permutations=PERMUTATIONS, seed=0)
    assert r["status"] == "ok"
    assert abs(r["accuracy_mean"] - 1 / 6) < 0.15
    assert r["p_value"] > 0.05


def test_insufficient_data_is_reported_not_raised(tmp_path):
    recs = [
        {"category": "stem", "skills": [{"label": "a", "description": "b"}]},
        {"category": "stem", "skills": [{"label": "a", "description": "c"}]},
        {"category": "chart_ocr", "skills": [{"label": "x", "description": "y"}]},
        {"category": "chart_ocr", "skills": []},
    ]
    r = run_probe(recs, permutations=5)
    assert r["status"] == "insufficient_data" and "two categories" in r["reason"]
    assert r["dropped"] == {"no_skills": 1, "class_too_small": 1} and r["classes_too_small"] == ["chart_ocr"]
    assert plot_confusion(r, tmp_path / "none.png").exists()
    assert coefficients_frame(r).empty


def test_two_class_probe_and_skill_text():
    recs = _records(True, n=10)
    two = [r for r in recs if r["category"] in ("stem", "captioning_if")]
    r = run_probe(two, folds=3, permutations=0, top_k=3)
    assert r["classes"] == ["stem", "captioning_if"] and r["accuracy_mean"] > 0.9
    assert r["p_value"] != r["p_value"]  # NaN: permutation test skipped
    assert len(r["top_coefficients"]["stem"]) == 3
    skills = [{"label": "Visual search", "description": "scans the image"}]
    assert skill_text(skills, "label") == "visual_search"
    assert skill_text(skills, "both") == "visual_search scans the image"
    with pytest.raises(ValueError, match="features"):
        run_probe(two, features="bag", permutations=0)


def test_embedding_features_with_a_given_embedder():
    import numpy as np

    recs = _records(True, n=10)
    vocab = sorted({s["label"] for r in recs for s in r["skills"]})

    def embed(texts):  # one-hot of the operation named in the description (deterministic)
        return np.array([[float(t.startswith(v) or v in t) for v in vocab] for t in texts])

    recs2 = [
        dict(r, skills=[{"label": s["label"], "description": s["label"]} for s in r["skills"]]) for r in recs
    ]
    r = run_probe(recs2, features="embeddings", embed=embed, folds=3, permutations=0)
    assert r["status"] == "ok" and r["accuracy_mean"] > 0.8 and r["top_coefficients"] == {}


def test_same_sample_from_two_runs_never_straddles_a_split():
    import numpy as np

    from vero.analysis.probe import _splits

    a, b = _records(True, n=8, seed=1), _records(True, n=8, seed=2)
    for r in b:
        r["experiment"] = "sft"  # same ids, another run
    recs = a + b
    y = np.array([r["category"] for r in recs])
    splits, n, name = _splits(recs, y, folds=4, seed=0)
    assert n == 4 and name.startswith("stratified group")
    ids = np.array([r["id"] for r in recs])
    for train, test in splits:
        assert not set(ids[train]) & set(ids[test])
    assert sorted(np.concatenate([t for _, t in splits])) == list(range(len(recs)))
    r = run_probe(recs, folds=4, permutations=5)
    assert r["cv"] == name and r["accuracy_mean"] > 0.9
    assert _splits(a, np.array([x["category"] for x in a]), 4, 0)[2] == "stratified k-fold"


def test_a_shuffle_that_leaves_a_fold_one_category_does_not_stop_the_probe():
    """Traces of the same questions from several runs are grouped by id; with few questions a
    label shuffle can leave a training fold with one category (sklearn's permutation test raises
    there, as the demo's probe did). Such permutations are left out, the rest give the p-value."""
    recs = []
    for cat, words, runs in (("stem", "measure angle formula", 1), ("chart_ocr", "read bar axis", 5)):
        for q in range(2):
            for _run in range(runs):
                recs.append(
                    {"id": f"{cat}-{q}", "category": cat, "skills": [{"label": words, "description": words}]}
                )
    r = run_probe(recs, folds=5, permutations=40, seed=0)
    assert r["status"] == "ok" and r["folds"] == 2 and r["cv"].startswith("stratified group")
    assert 0 < r["permutations_unscored"] < 40
    assert 0 < r["p_value"] <= 1  # 10 of 12 traces are chart_ocr: a shuffle scores as well
