"""One function per analysis rule: read the inputs, compute, write the outputs, print what was
dropped and why. The workflow scripts only parse arguments and call these."""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from vero.analysis.traces import Drops, load_eval_summary, load_traces, load_train_log
from vero.config import ConfigError
from vero.io import write_json as _write_json


def _jsonable(obj):
    """NaN/inf -> None (strict JSON), numpy scalars -> Python, recursively."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str | Path, obj) -> Path:
    """An analysis output: NaN and infinities as null, keys sorted (vero.io.write_json)."""
    return _write_json(path, _jsonable(obj), sort_keys=True)


def _report_drops(what: str, drops: Drops) -> None:
    if drops.total:
        print(
            f"[analysis] {what}: dropped {drops.total} row(s): {json.dumps(drops.as_dict())}", file=sys.stderr
        )


# ---- config helpers shared with rules/analysis.smk -------------------------------------------


def analysis_experiments(cfg: Mapping, which: str) -> list[str]:
    """Experiments (and possibly `base`) named by `analysis.reasoning_length.experiments` or
    `analysis.skills.experiments`; an unknown name is a ConfigError naming the key."""
    section = cfg["analysis"][which]
    names = section["experiments"]
    known = ["base", *cfg["experiments"]]
    if names == "all":
        return known
    for i, n in enumerate(names):
        if n not in known:
            raise ConfigError(
                f"config key 'analysis.{which}.experiments.{i}': unknown experiment {n!r}; known: {known}"
            )
    return list(dict.fromkeys(names))


def check_analysis_config(cfg: Mapping) -> None:
    analysis_experiments(cfg, "reasoning_length")
    analysis_experiments(cfg, "skills")


# ---- stages --------------------------------------------------------------------------------


def reasoning_length_stage(cfg: Mapping, traces: Mapping[str, list[str]], out_csv: str, out_png: str) -> dict:
    """`traces` maps experiment -> its eval JSONL files."""
    from vero.analysis.reasoning_length import length_table, plot_lengths

    rl = cfg["analysis"]["reasoning_length"]
    drops = Drops()
    rows = [t for exp, paths in traces.items() for t in load_traces(paths, exp, drops)]
    _report_drops("reasoning length", drops)
    table = length_table(
        rows,
        no_think=rl["no_think"],
        n_resamples=rl["bootstrap_resamples"],
        confidence=rl["confidence"],
        seed=cfg.get("seed", 0),
    )
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_csv, index=False)
    from vero.analysis.transfer import MIXED_ROW, transfer_rows

    own_runs = {label: exp for label, exp in transfer_rows(cfg) if label != MIXED_ROW}
    plot_lengths(table, out_png, confidence=rl["confidence"], own_runs=own_runs)
    print(f"[analysis] reasoning length: {len(rows)} traces, {len(table)} rows -> {out_csv}")
    return {"n_traces": len(rows), "dropped": drops.as_dict()}


def _skill_text_of(mode: str):
    from vero.analysis.reasoning_length import think_block

    def text_of(trace: dict) -> str:
        if mode == "output":
            return trace["output"]
        body, status = think_block(trace["output"])
        return body if status != "missing" else trace["output"]

    return text_of


def build_extractor(cfg: Mapping, cache_dir: str | None = None, base_url: str | None = None):
    """The configured extractor; `base_url` (a server started for this job) overrides the config's."""
    from vero.analysis.skills import get_extractor

    sk = cfg["analysis"]["skills"]
    name = sk["extractor"]
    opts = {k: v for k, v in sk[name].items() if k != "serve"}
    if name == "llm":
        opts["cache_dir"] = opts.get("cache_dir") or cache_dir
        if base_url:
            opts["base_url"] = base_url
    return get_extractor(name, **opts)


def _skill_server(cfg: Mapping):
    """A vLLM server for the llm extractor when `analysis.skills.llm.serve.enabled` (openai
    backend), else a context that yields None."""
    from vero.analysis.skills.serve import served_model

    sk = cfg["analysis"]["skills"]
    llm = sk["llm"]
    enabled = sk["extractor"] == "llm" and llm["backend"] == "openai" and llm["serve"]["enabled"]
    return served_model(
        llm["serve"] if enabled else {"enabled": False}, llm["model"], api_key_env=llm["api_key_env"]
    )


def skills_stage(
    cfg: Mapping, experiment: str, trace_paths: list[str], out_jsonl: str, cache_dir: str | None
) -> dict:
    from vero.analysis.skills import extract_skills, sample_per_category

    sk = cfg["analysis"]["skills"]
    drops = Drops()
    traces = load_traces(trace_paths, experiment, drops)
    chosen = sample_per_category(traces, sk["max_traces_per_category"], seed=cfg.get("seed", 0))
    with _skill_server(cfg) as served_url:
        extractor = build_extractor(cfg, cache_dir, base_url=served_url)
        records = extract_skills(
            chosen, extractor, text_of=_skill_text_of(sk["text"]), max_workers=sk["max_workers"], drops=drops
        )
    _fail_if_endpoint_down(extractor, records)
    out = Path(out_jsonl)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    _report_drops(f"skills {experiment}", drops)
    n_skills = sum(len(r["skills"]) for r in records)
    calls = getattr(extractor, "calls", None)
    print(
        f"[analysis] skills {experiment}: {len(records)} traces, {n_skills} skills "
        f"(extractor {extractor.name}{'' if calls is None else f', {calls} model calls'}) -> {out}"
    )
    return {"n_traces": len(records), "n_skills": n_skills, "dropped": drops.as_dict()}


_UNREACHABLE = ("request_failed", "timeout", "backend_error")


def _fail_if_endpoint_down(extractor, records: list[dict]) -> None:
    """An LLM extractor that never got a reply is a setup error, not "no skills": fail loudly
    rather than feed the probe an empty file."""
    if extractor.name != "llm" or not records:
        return
    statuses = [r["status"] for r in records]
    if not any(s in ("ok", "cached", "unparseable", "no_skills") for s in statuses) and any(
        s in _UNREACHABLE or s.startswith("http_") for s in statuses
    ):
        where = extractor.base_url if extractor.backend == "openai" else extractor.model
        raise RuntimeError(
            f"skill extraction: no trace got a reply from the {extractor.backend} backend at {where} "
            f"(statuses: {dict(Counter(statuses))}); is the endpoint up? "
            "(config key analysis.skills.llm)"
        )


def _load_skill_files(paths: list[str]) -> list[dict]:
    from vero.analysis.skills import load_skill_records

    drops = Drops()
    records = [r for p in paths for r in load_skill_records(p, drops)]
    _report_drops("skill records", drops)
    return records


def probe_stage(cfg: Mapping, skill_paths: list[str], out_json: str, out_png: str, out_csv: str) -> dict:
    from vero.analysis.probe import coefficients_frame, plot_confusion, run_probe

    pc = cfg["analysis"]["probe"]
    records = _load_skill_files(skill_paths)
    embed, emb_info = None, {}
    if pc["features"] == "embeddings":
        from vero.analysis.embeddings import load_embedder

        ec = cfg["analysis"]["embeddings"]
        embedder = load_embedder(
            ec["model"], allow_fallback=ec["allow_fallback"], batch_size=ec["batch_size"]
        )
        embed, emb_info = embedder.encode, embedder.describe()
    result = run_probe(
        records,
        features=pc["features"],
        text=pc["text"],
        folds=pc["folds"],
        permutations=pc["permutations"],
        C=pc["C"],
        top_k=pc["top_k"],
        seed=cfg.get("seed", 0),
        embed=embed,
    )
    result.update(emb_info)
    # keys the report template reads
    result["chance"] = result.get("chance_majority")
    result["n_traces"] = result.get("n_used")
    write_json(out_json, result)
    coefficients_frame(result).to_csv(out_csv, index=False)
    plot_confusion(result, out_png)
    if result["status"] == "ok":
        print(
            f"[analysis] probe: accuracy {result['accuracy_mean']:.3f} ± {result['accuracy_std']:.3f} "
            f"(chance {result['chance_majority']:.3f}, p = {result['p_value']:.3g}, n = {result['n_used']})"
        )
    else:
        print(f"[analysis] probe not run: {result['reason']}")
    return result


def umap_stage(
    cfg: Mapping, skill_paths: list[str], out_png: str, out_html: str, out_points: str, out_json: str
) -> dict:
    """UMAP PNG + HTML, the 2-D points (CSV) and what was done (JSON: points, embedding method)."""
    from vero.analysis.plotting import note_figure
    from vero.analysis.umap_plot import (
        plot_umap_png,
        skill_points,
        umap_2d,
        write_note_html,
        write_umap_html,
    )

    uc, ec = cfg["analysis"]["umap"], cfg["analysis"]["embeddings"]
    seed = cfg.get("seed", 0)
    points = skill_points(_load_skill_files(skill_paths), uc["max_points"], seed)
    info = {"n_points": len(points)}
    title = "UMAP of skill descriptions"
    if len(points) < 4:
        msg = f"Not enough skills to embed: {len(points)} (need at least 4)."
        note_figure(out_png, title, msg)
        write_note_html(out_html, title, msg)
        points.assign(x=float("nan"), y=float("nan")).to_csv(out_points, index=False)
        print(f"[analysis] umap: {msg}")
        info = {**info, "status": "insufficient_data", "reason": msg}
        write_json(out_json, info)
        return info
    from vero.analysis.embeddings import load_embedder

    embedder = load_embedder(
        ec["model"], allow_fallback=ec["allow_fallback"], batch_size=ec["batch_size"], seed=seed
    )
    vectors = embedder.encode(list(points["description"]))
    xy = umap_2d(
        vectors, n_neighbors=uc["n_neighbors"], min_dist=uc["min_dist"], metric=uc["metric"], seed=seed
    )
    points = points.assign(x=xy[:, 0], y=xy[:, 1])
    method = embedder.method
    if embedder.fallback_reason:
        title += f" — FALLBACK embeddings ({method}): {embedder.fallback_reason[:120]}"
    else:
        title += f" ({method.split(':', 1)[-1]})"
    points.to_csv(out_points, index=False)
    plot_umap_png(points, out_png, title)
    write_umap_html(points, out_html, title, include_plotlyjs=True if uc["plotly_js"] == "inline" else "cdn")
    print(f"[analysis] umap: {len(points)} skills embedded with {method} -> {out_html}")
    info = {**info, "status": "ok", **embedder.describe()}
    write_json(out_json, info)
    return info


def transfer_stage(
    cfg: Mapping, summaries: Mapping[str, str], base_summary: str, out_csv: str, out_png: str
) -> dict:
    from vero.analysis.plotting import note_figure
    from vero.analysis.transfer import plot_transfer, transfer_rows, transfer_table

    tc = cfg["analysis"]["transfer"]
    rows = transfer_rows(cfg)
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    if not rows:
        msg = "No single-category experiment (ablation: transfer) in the config."
        import pandas as pd

        pd.DataFrame(columns=["experiment", "trained_on"]).to_csv(out_csv, index=False)
        note_figure(out_png, "Transfer matrix", msg)
        print(f"[analysis] transfer: {msg}")
        return {"status": "no_transfer_runs"}
    loaded = {exp: load_eval_summary(summaries[exp]) for _, exp in rows}
    table, missing = transfer_table(rows, loaded, load_eval_summary(base_summary), scale=tc["score_scale"])
    if missing:
        print(
            f"[analysis] transfer: categories missing from a summary (NaN cells): {missing}", file=sys.stderr
        )
    table.to_csv(out_csv, index=False)
    plot_transfer(table, out_png, unit=tc["unit"])
    print(f"[analysis] transfer: {len(table)} rows -> {out_csv}")
    return {"status": "ok", "missing": missing}


def dynamics_stage(
    cfg: Mapping,
    logs: Mapping[str, str],
    out_dir: str | None,
    overlay_png: str | None,
    summary_csv: str | None,
) -> dict:
    """Per-run curves (into `out_dir`) + summary CSV, and/or the algorithm-ablation overlay.

    The two halves run as separate rules so the algorithm ablation needs only its own runs' logs;
    pass None to skip a half.
    """
    import pandas as pd

    from vero.analysis.dynamics import (
        SUMMARY_COLUMNS,
        algorithm_runs,
        plot_algorithm_overlay,
        plot_experiment,
        summarize_run,
    )
    from vero.config import resolve_experiment

    window = cfg["analysis"]["dynamics"]["smoothing_window"]
    out_dir = Path(out_dir) if out_dir is not None else None
    rows_by_exp, summaries = {}, []
    for exp, path in logs.items():
        drops = Drops()
        rows = load_train_log(path, drops)
        _report_drops(f"train log {exp}", drops)
        resolved = resolve_experiment(cfg, exp)
        algo = (
            resolved["train"].get("algorithm", "")
            if resolved["train"].get("trainer", "rl") == "rl"
            else "sft"
        )
        rows_by_exp[exp] = (algo, rows)
        s = summarize_run(exp, rows, ablation=resolved["ablation"], algorithm=algo)
        summaries.append(s)
        title = f"{exp} ({resolved['ablation']}, {algo}): {len(rows)} logged steps"
        if s["metrics_missing"]:
            title += f"; not logged: {s['metrics_missing'].replace(';', ', ')}"
            print(f"[analysis] dynamics {exp}: not logged: {s['metrics_missing']}")
        if out_dir is not None:
            plot_experiment(rows, out_dir / f"{exp}.png", title=title, window=window)
    overlay = {e: rows_by_exp[e] for e in algorithm_runs(cfg) if e in rows_by_exp}
    if overlay_png is not None:
        plot_algorithm_overlay(overlay, overlay_png, window=window)
    if summary_csv is not None:
        pd.DataFrame(summaries, columns=list(SUMMARY_COLUMNS)).to_csv(summary_csv, index=False)
    print(f"[analysis] dynamics: {len(logs)} runs, overlay of {list(overlay)} -> {overlay_png}")
    return {"runs": list(logs), "overlay": list(overlay)}


def summary_stage(cfg: Mapping, paths: Mapping, out_json: str) -> dict:
    """analysis/summary.json from the other outputs, then the W&B analysis run."""
    from vero.analysis.summary import build_summary, log_to_wandb

    summary = build_summary(cfg, paths)
    write_json(out_json, summary)
    logged = log_to_wandb(cfg, summary, paths)
    print(f"[analysis] summary -> {out_json}; W&B run {'logged' if logged else 'off'}")
    return summary


def parse_pairs(items: list[str] | None, *, flag: str) -> dict[str, list[str]]:
    """`["exp=path", ...]` from the command line -> {exp: [paths]} (order kept;
    vero.workflow.parse_named_args); a malformed pair stops the script with its message."""
    from vero.workflow import parse_named_args

    try:
        return parse_named_args(items, flag, many=True)
    except ValueError as e:
        raise SystemExit(str(e)) from None
