"""One evaluation job end to end (rules eval_benchmark, eval_checkpoint and reproduce_benchmark).

`evaluate_benchmark` = load samples (vero.eval.samples) → check the judge when samples need one
(vero.eval.judging) → generate (vero.eval.generation: the configured backend of vero.eval.backends,
reusing outputs only under the same content key of vero.eval.cache) → score every output
(vero.eval.scoring.score_all) → write `eval/{experiment}/{checkpoint}/{benchmark}.jsonl` (one line
per sample) and
`{benchmark}.json` (vero.eval.aggregate.benchmark_summary). `evaluate_model` is the same job for
any model (the released checkpoints of the reproduce target), and `evaluate_checkpoint` runs it for
every benchmark of the suite on one loaded model (rule eval_checkpoint). The stage's other rules live in
vero.eval.writers (summaries, comparison, sweeps) and vero.eval.reproduce.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from vero.config import load_config_json, schema_default
from vero.eval.aggregate import benchmark_summary
from vero.eval.backends import backend_kwargs
from vero.eval.generation import generate, generation_settings
from vero.eval.judging import eval_job_gpus, judge_for, judge_served_in_job, judge_wanted, preflight_judge
from vero.eval.registry import BenchmarkSpec, get_benchmark
from vero.eval.samples import LoadResult, load_samples
from vero.eval.scoring import benchmark_coords, needs_judge_for, score_all
from vero.eval.writers import log_eval_run, summarize_checkpoint, write_comparison, write_jsonl, write_sweep
from vero.io import write_json
from vero.workflow import parse_named_args

BASE = "base"
# default of evaluate_benchmark(judge=...): build the judge from the config (None means no judge)
FROM_CONFIG = object()
# kept importable from here for callers of the module before it was split by concern
__all__ = [
    "FROM_CONFIG",
    "backend_kwargs",
    "eval_job_gpus",
    "evaluate_benchmark",
    "evaluate_checkpoint",
    "evaluate_model",
    "generation_settings",
    "judge_for",
    "load_config_json",
    "log_eval_run",
    "model_path_for",
    "parse_named_paths",
    "summarize_checkpoint",
    "write_comparison",
    "write_sweep",
]


def parse_named_paths(values: Sequence[str], flag: str) -> dict[str, str]:
    """NAME=PATH command-line pairs → {name: path}; a malformed or repeated pair is an error
    (vero.workflow.parse_named_args)."""
    return parse_named_args(values, flag)


def model_path_for(
    cfg: Mapping, experiment: str, checkpoint: str, results_dir: str | Path | None = None
) -> str:
    """The model an (experiment, checkpoint) names: the base model for "base", else the run dir."""
    from vero.models import resolve_base_model

    results_dir = str(results_dir or cfg.get("results_dir", "results")).rstrip("/")
    if experiment == BASE:
        if checkpoint != "final":
            raise ValueError(f"experiment 'base' has only the checkpoint 'final', not {checkpoint!r}")
        return resolve_base_model(cfg, results_dir)
    if experiment not in (cfg.get("experiments") or {}):
        raise ValueError(
            f"unknown experiment {experiment!r}; known: base, {', '.join(cfg.get('experiments') or {})}"
        )
    return f"{results_dir}/runs/{experiment}/{checkpoint}"


def _load(cfg: Mapping, spec: BenchmarkSpec, label: str) -> LoadResult:
    ev = cfg.get("eval") or {}
    loaded = load_samples(spec, max_samples=ev.get("max_samples"), seed=int(cfg.get("seed", 0)))
    dropped = f", dropped {loaded.dropped_dict()}" if loaded.dropped else ""
    print(f"[eval] {label}: {len(loaded.samples)} samples of {loaded.n_rows} rows{dropped}", file=sys.stderr)
    return loaded


def _score(
    cfg: Mapping, spec: BenchmarkSpec, samples: list, gen: dict, judge: Any, family: str
) -> list[dict]:
    """Score every output with vero.eval.scoring (the judge checked first when it is served here)."""
    ev = cfg.get("eval") or {}
    needs_judge = needs_judge_for(spec, samples)
    served = judge_served_in_job(cfg)
    ctx = judge_for(cfg, needs_judge, preflight=served) if judge is FROM_CONFIG else nullcontext(judge)
    family_cfg = {**cfg, "model": {**(cfg.get("model") or {}), "family": family}}
    with ctx as client:
        return score_all(
            samples,
            gen["texts"],
            gen["counts"],
            judge=client,
            judge_concurrency=int(((cfg.get("reward") or {}).get("judge") or {}).get("max_concurrency", 64)),
            desc=f"score[{spec.key}]",
            coords=benchmark_coords(family_cfg, spec),
            scoring=spec.scoring,
            judge_retries=int((ev.get("judge") or {}).get("unparsed_retries", 2)),
            max_completion_tokens=generation_settings(cfg)["max_new_tokens"],
            require_format=bool(ev.get("require_format", False)),
            reward_config=cfg.get("reward"),
        )


def _checkpoint_dir(cfg: Mapping, experiment: str, checkpoint: str) -> str:
    """The model an (experiment, checkpoint) job evaluates; a trained one must exist on disk."""
    model = model_path_for(cfg, experiment, checkpoint)
    if experiment != BASE and not Path(model).is_dir():
        raise FileNotFoundError(f"{model}: checkpoint directory not found (has training run and saved it?)")
    return model


def evaluate_checkpoint(
    cfg: Mapping, *, experiment: str, checkpoint: str, benchmarks: Sequence[str], out_dir: str | Path
) -> dict[str, dict]:
    """Evaluate one (experiment, checkpoint) on several benchmarks with one loaded model (the
    `eval.jobs: per_checkpoint` job); writes OUT_DIR/<benchmark>.jsonl and .json as the
    per-benchmark job does, and returns the summaries by benchmark. The backend's generate seeds
    itself per call, so each benchmark's outputs equal those of its own job."""
    from vero.eval.backends import get_backend

    model = _checkpoint_dir(cfg, experiment, checkpoint)
    name = (cfg.get("eval") or {}).get("backend", schema_default("eval.backend"))
    backend = get_backend(name, model, **backend_kwargs(cfg))
    out: dict[str, dict] = {}
    try:
        for benchmark in benchmarks:
            out[benchmark] = evaluate_benchmark(
                cfg,
                experiment=experiment,
                checkpoint=checkpoint,
                benchmark=benchmark,
                out_jsonl=Path(out_dir) / f"{benchmark}.jsonl",
                out_summary=Path(out_dir) / f"{benchmark}.json",
                backend=backend,
            )
    finally:
        backend.close()
    return out


def evaluate_model(
    cfg: Mapping,
    *,
    model: str,
    family: str,
    labels: Mapping[str, str],
    benchmark: str,
    out_jsonl: str | Path,
    out_summary: str | Path,
    backend=None,
    judge: Any = FROM_CONFIG,
) -> dict:
    """Evaluate `model` (a directory or hub id of model family `family`) on one benchmark.

    `labels` go into every record and the summary (experiment/checkpoint, or the reproduce
    target's model name). `backend` may be passed in (tests, the benchmark harness) to reuse a
    loaded model, and `judge` to use a given judge client (None: judge samples stay unscored).
    """
    spec = get_benchmark(cfg, benchmark)
    label = "/".join(str(v) for v in labels.values()) + f"/{benchmark}"
    loaded = _load(cfg, spec, label)
    samples = loaded.samples
    needs_judge = needs_judge_for(spec, samples)
    if judge is FROM_CONFIG and judge_wanted(cfg, needs_judge) and not judge_served_in_job(cfg):
        with judge_for(cfg, needs_judge) as early:  # fail before hours of generation, naming the judge
            preflight_judge(early)
    gen = generate(cfg, spec, model, samples, Path(out_jsonl), backend)
    scores = _score(cfg, spec, samples, gen, judge, family)
    records = [
        {
            "id": s.id,
            "benchmark": s.benchmark,
            "category": s.category,
            **labels,
            "question": s.question,
            "answer": s.answer,
            "reward_type": s.reward_type,
            "scorer": s.scorer,
            "output": text,
            "completion_tokens": n,
            **({"part": s.meta["config"]} if s.meta.get("config") else {}),
            **scored,
        }
        for s, text, n, scored in zip(samples, gen["texts"], gen["counts"], scores, strict=True)
    ]
    write_jsonl(out_jsonl, records)
    meta = _summary_meta(cfg, spec, model, labels, gen, len(samples), judge)
    meta.update(n_rows=loaded.n_rows, dropped=loaded.dropped_dict())
    judge_cfg = (cfg.get("eval") or {}).get("judge") or {}
    summary = benchmark_summary(
        records, meta=meta, scoring=spec.scoring, max_unparsed_share=judge_cfg.get("max_unparsed_share")
    )
    write_json(out_summary, summary)
    Path(f"{out_jsonl}.generated.json").unlink(missing_ok=True)
    return summary


def _summary_meta(
    cfg: Mapping, spec: BenchmarkSpec, model: str, labels: Mapping, gen: dict, n: int, judge
) -> dict:
    from vero.eval.prompting import resolve_system_prompt

    settings = generation_settings(cfg)
    seconds = gen["seconds"]
    return {
        "benchmark": spec.key,
        "name": spec.name,
        "category": spec.category,
        "metric": spec.metric,
        "scorer": spec.scorer,
        **labels,
        "model": model,
        "data": spec.local_path
        or f"{', '.join(f'{h}:{c}' if c else h for h, c in spec.hub_parts)} ({spec.split})",
        "registry_version": spec.version,
        "release_task": spec.release_task,
        "generation": {
            "backend": gen["backend"],
            **settings,
            "system_prompt": (cfg.get("eval") or {}).get("system_prompt", "model"),
            "system_prompt_text": resolve_system_prompt(cfg),
            "reused_outputs": gen["cached"],
            "seconds": round(seconds, 3),
            "samples_per_s": round(n / seconds, 3) if seconds > 0 else None,
        },
        "judge": judge_wanted(cfg, True) if judge is FROM_CONFIG else judge is not None,
    }


def evaluate_benchmark(
    cfg: Mapping,
    *,
    experiment: str,
    checkpoint: str,
    benchmark: str,
    out_jsonl: str | Path,
    out_summary: str | Path,
    backend=None,
    judge: Any = FROM_CONFIG,
) -> dict:
    """Run one (experiment, checkpoint, benchmark) job of this study; returns the benchmark summary."""
    model = _checkpoint_dir(cfg, experiment, checkpoint)
    return evaluate_model(
        cfg,
        model=model,
        family=cfg["model"]["family"],
        labels={"experiment": experiment, "checkpoint": checkpoint},
        benchmark=benchmark,
        out_jsonl=out_jsonl,
        out_summary=out_summary,
        backend=backend,
        judge=judge,
    )
