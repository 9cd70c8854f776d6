"""A logistic-regression probe: can a trace's source category be recovered from its skills?

Features are TF-IDF over each trace's skill text (labels and/or descriptions) or the mean
sentence embedding of its skill descriptions. Reported: stratified k-fold accuracy ± std, the
chance levels (majority class and uniform), a permutation-test p-value (labels shuffled, same
folds), the cross-validated confusion matrix and the top coefficients per category.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from vero.analysis.plotting import category_label, ordered_categories, pyplot, save_figure


def skill_text(skills: list[dict], text: str = "both") -> str:
    """The text of a trace's skills for TF-IDF: `label`, `description` or `both`."""
    parts = []
    for s in skills:
        if text in ("label", "both"):
            # labels as single tokens (underscored) so "visual search" stays one feature
            parts.append("_".join(s["label"].lower().split()))
        if text in ("description", "both"):
            parts.append(s["description"])
    return " ".join(parts)


def prepare(records: list[dict], min_per_class: int) -> tuple[list[dict], list[str], dict]:
    """Records with at least one skill whose class has at least `min_per_class` of them."""
    dropped: Counter = Counter()
    usable = []
    for r in records:
        if r.get("skills"):
            usable.append(r)
        else:
            dropped["no_skills"] += 1
    counts = Counter(r["category"] for r in usable)
    small = {c for c, n in counts.items() if n < min_per_class}
    for r in usable:
        if r["category"] in small:
            dropped["class_too_small"] += 1
    usable = [r for r in usable if r["category"] not in small]
    return usable, sorted(small), dict(dropped)


def _pipeline(features: str, C: float, seed: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    clf = LogisticRegression(C=C, max_iter=2000, random_state=seed)
    if features == "tfidf":
        return make_pipeline(
            TfidfVectorizer(sublinear_tf=True, min_df=1, token_pattern=r"(?u)\b\w[\w'-]*\b"), clf
        )
    if features == "embeddings":
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), clf)
    raise ValueError(f"probe features must be 'tfidf' or 'embeddings', got {features!r}")


def run_probe(
    records: list[dict],
    *,
    features: str = "tfidf",
    text: str = "both",
    folds: int = 5,
    permutations: int = 100,
    C: float = 1.0,
    top_k: int = 10,
    seed: int = 0,
    embed=None,
) -> dict:
    """Fit and score the probe on skill records ({category, skills: [{label, description}]}).

    `embed(list[str]) -> ndarray` is required for `features="embeddings"`. The result is a
    JSON-ready dict; `status` is `ok` or `insufficient_data` (with `reason`), never an exception
    for too little data.
    """
    from sklearn.model_selection import cross_val_predict, cross_val_score

    usable, small, dropped = prepare(records, min_per_class=2)
    result = {
        "features": features,
        "text": text if features == "tfidf" else "description",
        "n_records": len(records),
        "n_used": len(usable),
        "dropped": dropped,
        "classes_too_small": small,
    }
    classes = ordered_categories({r["category"] for r in usable})
    if len(classes) < 2:
        return {
            **result,
            "status": "insufficient_data",
            "reason": (
                f"need at least two categories with two or more traces that have skills; have {len(classes)}"
            ),
        }
    y = np.array([r["category"] for r in usable])
    if features == "tfidf":
        X = np.array([skill_text(r["skills"], text) for r in usable], dtype=object)
    else:
        if embed is None:
            raise ValueError("features='embeddings' needs an embed function")
        vecs = [np.asarray(embed([s["description"] for s in r["skills"]])).mean(axis=0) for r in usable]
        X = np.vstack(vecs)
    cv, n_splits, cv_name = _splits(usable, y, folds, seed)
    one_class = [i for i, (train, _) in enumerate(cv) if len(set(y[train])) < 2]
    if one_class:
        return {
            **result,
            "status": "insufficient_data",
            "reason": (
                f"training folds {one_class} of {n_splits} hold a single category "
                "(too few distinct samples per category for grouped folds)"
            ),
        }
    model = _pipeline(features, C, seed)
    scores = cross_val_score(model, X, y, cv=cv, scoring="accuracy")
    pred = cross_val_predict(model, X, y, cv=cv)
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(y, pred, labels=classes)
    p_value = math.nan
    if permutations > 0:
        perm_scores, p_value = permutation_scores(model, X, y, cv, scores.mean(), permutations, seed)
        result["permutation_mean_accuracy"] = float(np.nanmean(perm_scores))
        result["permutations_unscored"] = int(np.isnan(perm_scores).sum())
    counts = Counter(y)
    model.fit(X, y)
    result.update(
        {
            "status": "ok",
            "classes": classes,
            "class_counts": {c: int(counts[c]) for c in classes},
            "folds": n_splits,
            "cv": cv_name,
            "accuracy_mean": float(scores.mean()),
            "accuracy_std": float(scores.std()),
            "fold_accuracies": [float(s) for s in scores],
            "chance_majority": float(max(counts.values()) / len(y)),
            "chance_uniform": 1.0 / len(classes),
            "permutations": int(permutations),
            "p_value": float(p_value),
            "confusion_matrix": cm.tolist(),
            "top_coefficients": top_coefficients(model, classes, top_k) if features == "tfidf" else {},
        }
    )
    return result


def permutation_scores(model, X, y, cv, observed: float, permutations: int, seed: int):
    """Accuracy under shuffled labels, on the same folds, and the permutation p-value.

    As sklearn's `permutation_test_score`: p = (1 + #{permuted score >= observed}) / (1 + n)
    (Ojala & Garriga 2010). A shuffle can leave a training fold with one category, which no
    classifier fits; that permutation scores NaN and is left out of the count (and of n), where
    sklearn's function would raise.
    """
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(seed)
    out = np.full(permutations, np.nan)
    for i in range(permutations):
        y_perm = rng.permutation(y)
        if any(len(set(y_perm[train])) < 2 for train, _ in cv):
            continue
        out[i] = cross_val_score(model, X, y_perm, cv=cv, scoring="accuracy").mean()
    scored = out[~np.isnan(out)]
    p_value = (1 + int((scored >= observed).sum())) / (1 + len(scored)) if len(scored) else math.nan
    return out, p_value


def _splits(records: list[dict], y: np.ndarray, folds: int, seed: int):
    """Stratified k-fold splits; grouped by sample id when the same sample appears more than once
    (traces of one question from several runs), so no question is on both sides of a split.

    The splits are materialised, so the permutation test shuffles labels across all records
    while keeping these exact folds.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    ids = [str(r.get("id")) for r in records]
    if len(set(ids)) < len(ids):
        groups_per_class = {c: len({i for i, yc in zip(ids, y, strict=True) if yc == c}) for c in set(y)}
        n_splits = int(min(folds, *groups_per_class.values()))
        if n_splits >= 2:
            cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            return (
                list(cv.split(np.zeros(len(y)), y, groups=ids)),
                n_splits,
                "stratified group k-fold (by sample id)",
            )
    n_splits = int(min(folds, Counter(y).most_common()[-1][1]))
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y)), n_splits, "stratified k-fold"


def top_coefficients(model, classes: list[str], top_k: int) -> dict[str, list[tuple[str, float]]]:
    """The `top_k` TF-IDF features with the largest positive weight for each category."""
    vec, clf = model.steps[0][1], model.steps[-1][1]
    names = vec.get_feature_names_out()
    coef = clf.coef_
    fitted = list(clf.classes_)
    if coef.shape[0] == 1:  # binary: one row, positive for classes_[1]
        coef = np.vstack([-coef[0], coef[0]])
    out = {}
    for c in classes:
        row = coef[fitted.index(c)]
        idx = np.argsort(row)[::-1][:top_k]
        out[c] = [(str(names[i]), float(row[i])) for i in idx]
    return out


def coefficients_frame(result: dict):
    import pandas as pd

    rows = [
        {"category": c, "rank": i + 1, "feature": f, "coefficient": w}
        for c, feats in (result.get("top_coefficients") or {}).items()
        for i, (f, w) in enumerate(feats)
    ]
    return pd.DataFrame(rows, columns=["category", "rank", "feature", "coefficient"])


def plot_confusion(result: dict, path: str | Path) -> Path:
    """Row-normalised confusion matrix with counts; a note figure when the probe could not run."""
    if result.get("status") != "ok":
        from vero.analysis.plotting import note_figure

        return note_figure(path, "Skill probe: confusion matrix", f"Probe not run: {result.get('reason')}")
    plt = pyplot()
    classes = result["classes"]
    cm = np.asarray(result["confusion_matrix"], dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 3, 1.0 * len(classes) + 2.5))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(
                j,
                i,
                f"{norm[i, j]:.2f}\n({int(cm[i, j])})",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if norm[i, j] > 0.6 else "black",
            )
    labels = [category_label(c) for c in classes]
    ax.set_xticks(range(len(classes)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), labels, fontsize=8)
    ax.set_xlabel("predicted category")
    ax.set_ylabel("source category")
    p = result["p_value"]
    ax.set_title(
        f"Skill probe ({result['features']}): "
        f"accuracy {result['accuracy_mean']:.3f} ± {result['accuracy_std']:.3f}"
        f"\nchance {result['chance_majority']:.3f}, permutation p = {p:.3g}, n = {result['n_used']}",
        fontsize=9,
    )
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return save_figure(fig, path)
