"""Generation of one evaluation job (rule eval_benchmark): the sampling settings of `eval.*`, the
backend (vero.eval.backends) and the generation-output cache (vero.eval.cache) put together."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vero.config import schema_default
from vero.eval.backends import backend_kwargs, get_backend
from vero.eval.cache import generation_key, model_fingerprint, read_generated, write_generated
from vero.eval.registry import BenchmarkSpec


def generation_settings(cfg: Mapping) -> dict:
    """Sampling settings of evaluation (`eval.*`; defaults are the release's: temperature 0.6,
    top_p 0.95, 16,384 new tokens)."""
    ev = cfg.get("eval") or {}
    return {
        "temperature": float(ev.get("temperature", 0.6)),
        "top_p": float(ev.get("top_p", 0.95)),
        "max_new_tokens": int(ev.get("max_new_tokens", 16384)),
        "batch_size": int(ev.get("batch_size", 8)),
        "seed": int(cfg.get("seed", 0)),
    }


def generate(
    cfg: Mapping, spec: BenchmarkSpec, model: str, samples: list, out_jsonl: Path, backend: Any
) -> dict:
    """Generated texts, token counts and seconds of one benchmark job: {"texts", "counts", "seconds",
    "backend", "cached"}. Outputs of an earlier attempt (`<out_jsonl>.generated.json`) are reused
    only when the content key (model content, prompts, settings, code) is the same; a backend passed
    in is used as it is, else one is built from `eval.backend` and closed afterwards."""
    ev = cfg.get("eval") or {}
    settings = generation_settings(cfg)
    kwargs = backend_kwargs(cfg)
    backend_name = (
        ev.get("backend", schema_default("eval.backend"))
        if backend is None
        else getattr(backend, "name", "custom")
    )
    memo = Path(cfg.get("results_dir", "results")) / "eval" / ".cache" / "file_sha256.json"
    fingerprint = model_fingerprint(
        model, mode=(ev.get("cache") or {}).get("weights_hash", "content"), memo_path=memo
    )
    key, parts = generation_key(
        model=fingerprint,
        samples=samples,
        settings={**settings, "backend": backend_name, "backend_kwargs": kwargs},
        benchmark=spec.data_fingerprint(),
    )
    partial = Path(f"{out_jsonl}.generated.json")
    cached = read_generated(partial, key)
    if cached is not None:
        print(f"[eval] reusing {len(cached[0])} generated outputs from {partial} (same key)", file=sys.stderr)
        return {
            "texts": cached[0],
            "counts": cached[1],
            "seconds": cached[2],
            "backend": backend_name,
            "cached": True,
        }
    texts: list[str] = []
    counts: list[int | None] = []
    seconds = 0.0
    if samples:
        own = backend is None
        if own:
            backend = get_backend(backend_name, model, **kwargs)
        try:
            gen = backend.generate(samples, **settings)
        finally:
            if own:
                backend.close()
        texts, counts, seconds = gen.texts, gen.completion_tokens or [None] * len(samples), gen.seconds
        write_generated(partial, key, parts, texts, counts, seconds)
    return {"texts": texts, "counts": counts, "seconds": seconds, "backend": backend_name, "cached": False}
