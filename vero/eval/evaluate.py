"""One evaluation job end to end, and the per-checkpoint / per-run aggregation around it.

`evaluate_benchmark` = load samples → generate with the configured backend → score → write
`eval/{experiment}/{checkpoint}/{benchmark}.jsonl` (one line per sample) and `{benchmark}.json`.
`summarize_checkpoint` merges the per-benchmark summaries into `summary.json` and logs the
per-benchmark table to a W&B eval run (job_type "eval"); `write_comparison` writes the tables.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from vero.categories import CATEGORIES
from vero.config import config_hash
from vero.eval.aggregate import (
    benchmark_summary,
    checkpoint_summary,
    expected_benchmarks,
    read_json,
    write_json,
)
from vero.eval.backends import get_backend
from vero.eval.registry import get_benchmark, paper_reference, registry_path
from vero.eval.samples import load_samples
from vero.eval.scoring import benchmark_coords, needs_judge_for, score_all

BASE = "base"
# default of evaluate_benchmark(judge=...): build the judge from the config (None means no judge)
FROM_CONFIG = object()


def load_config_json(path: str | Path) -> dict:
    """The resolved config a rule passes as --config-json (written by rules/common.smk), validated."""
    from vero.config import ConfigError, validate_config

    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: resolved config not found") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON: {e}") from e
    return validate_config(raw, source=str(path))


def parse_named_paths(values: Sequence[str], flag: str) -> dict[str, str]:
    """NAME=PATH command-line pairs → {name: path}; a malformed or repeated pair is an error."""
    out: dict[str, str] = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{flag} expects NAME=PATH, got {v!r}")
        if name in out:
            raise ValueError(f"{flag}: {name!r} given twice")
        out[name] = path
    return out


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


def backend_kwargs(cfg: Mapping) -> dict[str, Any]:
    """Constructor arguments of the configured backend, from `eval`, `model` and `train`."""
    ev, model = cfg.get("eval") or {}, cfg.get("model") or {}
    system_prompt = (cfg.get("train") or {}).get("system_prompt")
    common = {
        "system_prompt": system_prompt,
        "min_pixels": model.get("min_pixels"),
        "max_pixels": model.get("max_pixels"),
    }
    name = ev.get("backend", "hf")
    if name == "hf":
        return {
            **common,
            "dtype": model.get("dtype", "auto"),
            "attn_implementation": model.get("attn_implementation"),
        }
    if name == "vllm":
        v = ev.get("vllm") or {}
        return {
            **common,
            "dtype": model.get("dtype", "auto"),
            "tensor_parallel_size": ev.get("tensor_parallel_size", 1),
            "gpu_memory_utilization": v.get("gpu_memory_utilization", 0.9),
            "max_model_len": v.get("max_model_len"),
            "enforce_eager": v.get("enforce_eager", False),
            "max_images_per_prompt": v.get("max_images_per_prompt", 8),
            "extra_engine_args": v.get("extra_engine_args") or {},
            "seed": cfg.get("seed", 0),
        }
    if name == "openai":
        o = ev.get("openai") or {}
        return {**common, **{k: v for k, v in o.items() if v is not None}}
    if name == "vllm_server":
        v, s = ev.get("vllm") or {}, ev.get("vllm_server") or {}
        args = ["--dtype", model.get("dtype", "auto"), "--seed", str(cfg.get("seed", 0))]
        args += ["--gpu-memory-utilization", str(v.get("gpu_memory_utilization", 0.9))]
        args += [
            "--limit-mm-per-prompt",
            json.dumps({"image": v.get("max_images_per_prompt", 8), "video": 0}),
        ]
        if v.get("max_model_len"):
            args += ["--max-model-len", str(v["max_model_len"])]
        if v.get("enforce_eager"):
            args.append("--enforce-eager")
        pixels = {k: model[k] for k in ("min_pixels", "max_pixels") if model.get(k)}
        if pixels:
            args += ["--mm-processor-kwargs", json.dumps(pixels)]
        return {
            "system_prompt": system_prompt,
            "tensor_parallel_size": ev.get("tensor_parallel_size", 1),
            "port": s.get("port"),
            "health_timeout_s": s.get("health_timeout_s", 900),
            "max_concurrency": s.get("max_concurrency", 64),
            "timeout_s": s.get("timeout_s", 1800),
            "extra_args": args + list(s.get("extra_args") or []),
        }
    raise ValueError(f"config key 'eval.backend': unknown backend {name!r}")


@contextmanager
def judge_for(cfg: Mapping, needed: bool = True) -> Iterator[Any]:
    """The LLM judge client while the block runs, or None (judge samples then stay unscored).

    With `reward.judge.serve.enabled` the judge model is served by vLLM inside this job, on the
    GPUs generation has released (`eval_job_gpus` reserves enough of them); otherwise the client
    talks to `reward.judge.base_url`.
    """
    from vero.eval.judges import eval_judge_config

    judge_cfg = eval_judge_config(cfg)
    if not (judge_cfg.get("enabled") and needed):
        yield None
        return
    from vero.rewards import JudgeClient

    serve = judge_cfg.get("serve") or {}
    if not serve.get("enabled"):
        yield JudgeClient.from_config(judge_cfg)
        return
    from vero.eval.serve import served_vllm

    with served_vllm(
        judge_cfg.get("model", "Qwen/Qwen3-32B"),
        gpus=int(serve.get("gpus", 1)),
        extra_args=serve.get("extra_args") or (),
        health_timeout_s=float(serve.get("health_timeout_s", 900)),
        label="judge server",
    ) as url:
        yield JudgeClient.from_config({**judge_cfg, "base_url": url})


def eval_job_gpus(cfg: Mapping, benchmark: str, configured: int) -> int:
    """GPUs one evaluation job needs: the configured ones, and enough for a judge served in the
    job (after generation) when the benchmark may have judge-scored samples."""
    from vero.eval.registry import may_need_judge

    serve = ((cfg.get("reward") or {}).get("judge") or {}).get("serve") or {}
    judge_on = ((cfg.get("reward") or {}).get("judge") or {}).get("enabled")
    if judge_on and serve.get("enabled") and may_need_judge(get_benchmark(cfg, benchmark)):
        return max(int(configured), int(serve.get("gpus", 1)))
    return int(configured)


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
    """Run one (experiment, checkpoint, benchmark) job; returns the benchmark summary.

    `backend` may be passed in (tests, the benchmark harness) to reuse a loaded model, and
    `judge` to use a given judge client (None: judge-scored samples stay unscored).
    """
    ev = cfg.get("eval") or {}
    spec = get_benchmark(cfg, benchmark)
    model_path = model_path_for(cfg, experiment, checkpoint)
    if experiment != BASE and not Path(model_path).is_dir():
        raise FileNotFoundError(
            f"{model_path}: checkpoint directory not found (has training run and saved it?)"
        )
    loaded = load_samples(spec, max_samples=ev.get("max_samples"), seed=int(cfg.get("seed", 0)))
    samples = loaded.samples
    print(
        f"[eval] {experiment}/{checkpoint}/{benchmark}: {len(samples)} samples of {loaded.n_rows} rows"
        + (f", dropped {loaded.dropped_dict()}" if loaded.dropped else ""),
        file=sys.stderr,
    )
    gen_settings = {
        "temperature": float(ev.get("temperature", 0.7)),
        "top_p": float(ev.get("top_p", 1.0)),
        "max_new_tokens": int(ev.get("max_new_tokens", 8192)),
        "batch_size": int(ev.get("batch_size", 8)),
        "seed": int(cfg.get("seed", 0)),
    }
    own_backend = backend is None
    texts: list[str] = []
    counts: list[int | None] = []
    seconds = 0.0
    # Generation is the expensive part; it is kept beside the output until scoring has succeeded,
    # so a rerun after a scoring failure (e.g. a judge outage) does not generate again.
    partial = Path(f"{out_jsonl}.generated.json")
    key = config_hash({"model": model_path, "ids": [s.id for s in samples], **gen_settings})
    cached = _read_generated(partial, key)
    if cached is not None:
        texts, counts, seconds = cached
        print(f"[eval] reusing {len(texts)} generated outputs from {partial}", file=sys.stderr)
    elif samples:
        if own_backend:
            backend = get_backend(ev.get("backend", "hf"), model_path, **backend_kwargs(cfg))
        try:
            gen = backend.generate(samples, **gen_settings)
        finally:
            if own_backend:
                backend.close()
        texts, counts, seconds = gen.texts, gen.completion_tokens or [None] * len(samples), gen.seconds
        write_json(partial, {"key": key, "texts": texts, "completion_tokens": counts, "seconds": seconds})
    needs_judge = needs_judge_for(spec, samples)
    with judge_for(cfg, needs_judge) if judge is FROM_CONFIG else nullcontext(judge) as judge:
        scores = score_all(
            samples,
            texts,
            counts,
            judge=judge,
            judge_concurrency=int(((cfg.get("reward") or {}).get("judge") or {}).get("max_concurrency", 16)),
            desc=f"score[{benchmark}]",
            coords=benchmark_coords(cfg, spec),
            scoring=spec.scoring,
            judge_retries=int((ev.get("judge") or {}).get("unparsed_retries", 2)),
            max_completion_tokens=gen_settings["max_new_tokens"],
            require_format=bool(ev.get("require_format", False)),
            reward_config=cfg.get("reward"),
        )
    records = [
        {
            "id": s.id,
            "benchmark": s.benchmark,
            "category": s.category,
            "experiment": experiment,
            "checkpoint": checkpoint,
            "question": s.question,
            "answer": s.answer,
            "reward_type": s.reward_type,
            "scorer": s.scorer,
            "output": text,
            "completion_tokens": n,
            **scored,
        }
        for s, text, n, scored in zip(samples, texts, counts, scores, strict=True)
    ]
    _write_jsonl(out_jsonl, records)
    meta = {
        "benchmark": spec.key,
        "name": spec.name,
        "category": spec.category,
        "metric": spec.metric,
        "scorer": spec.scorer,
        "experiment": experiment,
        "checkpoint": checkpoint,
        "model": model_path,
        "data": spec.local_path
        or f"{', '.join(f'{h}:{c}' if c else h for h, c in spec.hub_parts)} ({spec.split})",
        "n_rows": loaded.n_rows,
        "dropped": loaded.dropped_dict(),
        "generation": {
            "backend": ev.get("backend", "hf") if own_backend else getattr(backend, "name", "custom"),
            **gen_settings,
            "seconds": round(seconds, 3),
            "samples_per_s": round(len(samples) / seconds, 3) if seconds > 0 else None,
        },
        "judge": judge is not None,
    }
    summary = benchmark_summary(
        records,
        meta=meta,
        scoring=spec.scoring,
        max_unparsed_share=(ev.get("judge") or {}).get("max_unparsed_share"),
    )
    write_json(out_summary, summary)
    partial.unlink(missing_ok=True)
    return summary


def _read_generated(path: Path, key: str) -> tuple[list[str], list[int | None], float] | None:
    """Outputs generated by an earlier attempt of the same job (same model, samples, settings)."""
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if doc.get("key") != key:
        return None
    return list(doc["texts"]), list(doc["completion_tokens"]), float(doc.get("seconds", 0.0))


def _write_jsonl(path: str | Path, records: Sequence[Mapping]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp, path)


def summarize_checkpoint(
    cfg: Mapping,
    *,
    experiment: str,
    checkpoint: str,
    benchmark_jsons: Sequence[str | Path],
    out: str | Path,
    track: bool = True,
) -> dict:
    """Write summary.json for one (experiment, checkpoint) and log it to a W&B eval run."""
    benches = [read_json(p) for p in benchmark_jsons]
    summary = checkpoint_summary(
        benches, experiment=experiment, checkpoint=checkpoint, expected=expected_benchmarks(cfg)
    )
    write_json(out, summary)
    if track:
        log_eval_run(cfg, summary)
    return summary


def log_eval_run(cfg: Mapping, summary: Mapping) -> None:
    """One W&B run (job_type "eval") per evaluated experiment checkpoint: the per-benchmark table
    plus category and overall scores in the run summary. W&B trouble never fails the job."""
    import pandas as pd

    from vero.tracking import init_run

    experiment, checkpoint = summary["experiment"], summary["checkpoint"]
    ablation = (
        "base"
        if experiment == BASE
        else (cfg.get("experiments") or {}).get(experiment, {}).get("ablation", "main")
    )
    run = init_run(
        experiment=experiment,
        group=ablation,
        job_type="eval",
        config={
            "eval": dict(cfg.get("eval") or {}),
            "model": dict(cfg.get("model") or {}),
            "checkpoint": checkpoint,
        },
        wandb_cfg=cfg.get("wandb"),
        name=f"{experiment}-eval-{checkpoint}",
    )
    try:
        table = pd.DataFrame(
            [
                {
                    "benchmark": k,
                    "category": v["category"],
                    "metric": v["metric"],
                    "score": v["score"],
                    "n": v["n"],
                    "n_scored": v["n_scored"],
                }
                for k, v in summary["benchmarks"].items()
            ]
        )
        run.log_table("eval/benchmarks", table)
        values = {"eval/overall": summary["overall"]["score"]}
        values.update({f"eval/{c}": v["score"] for c, v in summary["categories"].items()})
        run.summary_update({k: v for k, v in values.items() if v is not None})
    finally:
        run.finish()


def write_comparison(
    cfg: Mapping, *, summary_paths: Mapping[str, str | Path], out_md: str | Path, out_csv: str | Path
) -> tuple[str, str]:
    from vero.eval.comparison import build_comparison

    summaries = {name: read_json(p) for name, p in summary_paths.items()}
    paper = paper_reference(registry_path(cfg))
    md, csv_text = build_comparison(summaries, cfg, paper)
    for path, text in ((out_md, md), (out_csv, csv_text)):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return md, csv_text


def write_sweep(
    cfg: Mapping,
    *,
    experiment: str,
    summary_paths: Mapping[str, str | Path],
    out_csv: str | Path,
    out_json: str | Path,
    track: bool = True,
) -> list[dict]:
    """Write the sweep curve (CSV + JSON) and log it to a W&B eval run, one point per step."""
    from vero.eval.sweep import curve_csv, sweep_curve

    rows = sweep_curve(cfg, experiment, {c: read_json(p) for c, p in summary_paths.items()})
    write_json(out_json, {"experiment": experiment, "points": rows})
    Path(out_csv).write_text(curve_csv(rows))
    if track:
        from vero.tracking import init_run

        run = init_run(
            experiment=experiment,
            group=(cfg.get("experiments") or {}).get(experiment, {}).get("ablation", "main"),
            job_type="eval",
            config={"eval": dict(cfg.get("eval") or {}), "sweep": [r["checkpoint"] for r in rows]},
            wandb_cfg=cfg.get("wandb"),
            name=f"{experiment}-eval-sweep",
        )
        try:
            for r in rows:
                point = {"sweep/overall": r["overall"]}
                point.update({f"sweep/{c}": r[c] for c in CATEGORIES if r.get(c) is not None})
                run.log({k: v for k, v in point.items() if v is not None}, step=int(r["step"]))
        finally:
            run.finish()
    return rows
