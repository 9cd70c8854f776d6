"""The headline numbers of the analysis (analysis/summary.json) and the W&B analysis run."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

from vero.categories import CATEGORIES, PAPER_REASONING_LENGTH


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def own_category_experiments(cfg: Mapping) -> dict[str, str]:
    """For each category, the run whose lengths compare with the paper's: its single-category
    transfer run when there is one (the paper's setting), else the first main run."""
    from vero.config import experiment_categories

    exps = cfg.get("experiments") or {}
    main = next((n for n, e in exps.items() if e.get("ablation", "main") == "main"), None)
    out = {}
    for c in CATEGORIES:
        single = next(
            (
                n
                for n, e in exps.items()
                if e.get("ablation") == "transfer" and experiment_categories(e) == [c]
            ),
            None,
        )
        if single or main:
            out[c] = single or main
    return out


def reasoning_length_headline(cfg: Mapping, length_csv: str | Path) -> dict:
    import pandas as pd
    from scipy.stats import spearmanr

    table = pd.read_csv(length_csv)
    per_cat = {}
    for cat, exp in own_category_experiments(cfg).items():
        row = table[(table["experiment"] == exp) & (table["category"] == cat)]
        r = row.iloc[0] if len(row) else {}
        per_cat[cat] = {
            "experiment": exp,
            "n_measured": int(r["n_measured"]) if len(row) else 0,
            "mean_words": _num(r.get("mean_words")) if len(row) else None,
            "sem_words": _num(r.get("sem_words")) if len(row) else None,
            "paper_mean_words": PAPER_REASONING_LENGTH[cat][0],
            "paper_sem_words": PAPER_REASONING_LENGTH[cat][1],
        }
    pairs = [
        (v["mean_words"], v["paper_mean_words"]) for v in per_cat.values() if v["mean_words"] is not None
    ]
    rho = None
    if len(pairs) >= 3:
        ours, paper = zip(*pairs, strict=True)
        rho = _num(spearmanr(ours, paper).statistic) if len(set(ours)) > 1 else None
    return {"per_category": per_cat, "spearman_vs_paper": rho, "n_categories_compared": len(pairs)}


def transfer_headline(transfer_csv: str | Path) -> dict:
    import pandas as pd

    from vero.analysis.transfer import MIXED_ROW

    table = pd.read_csv(transfer_csv)
    if table.empty or "trained_on" not in table:
        return {"status": "no_transfer_runs"}
    cats = [c for c in table.columns if c in CATEGORIES]
    rows = {}
    for _, r in table.iterrows():
        vals = {c: _num(r[c]) for c in cats}
        own = vals.get(r["trained_on"])
        off = [v for c, v in vals.items() if c != r["trained_on"] and v is not None]
        rows[r["trained_on"]] = {
            "experiment": r["experiment"],
            "own_category_delta": own,
            "mean_other_delta": sum(off) / len(off) if off else None,
            "worst_other_delta": min(off) if off else None,
            "mean_delta": _num(sum(v for v in vals.values() if v is not None) / max(1, len(vals))),
        }
    return {"status": "ok", "rows": rows, "mixed": rows.get(MIXED_ROW)}


def dynamics_headline(summary_csv: str | Path) -> dict:
    import pandas as pd

    table = pd.read_csv(summary_csv)
    return {
        r["experiment"]: {
            "algorithm": None if pd.isna(r["algorithm"]) else r["algorithm"],
            "entropy_mean": _num(r["entropy_mean"]),
            "entropy_std": _num(r["entropy_std"]),
            "paper_entropy_mean": _num(r["paper_entropy_mean"]),
            "reward_first": _num(r["reward_first"]),
            "reward_last": _num(r["reward_last"]),
            "loss_first": _num(r["loss_first"]),
            "loss_last": _num(r["loss_last"]),
            "metrics_missing": None if pd.isna(r["metrics_missing"]) else r["metrics_missing"],
        }
        for _, r in table.iterrows()
    }


def build_summary(cfg: Mapping, paths: Mapping[str, str]) -> dict:
    probe = json.loads(Path(paths["probe_json"]).read_text())
    umap_info = json.loads(Path(paths["umap_json"]).read_text())
    return {
        "reasoning_length": reasoning_length_headline(cfg, paths["length_csv"]),
        "probe": {
            k: probe.get(k)
            for k in (
                "status",
                "reason",
                "features",
                "accuracy_mean",
                "accuracy_std",
                "chance_majority",
                "chance_uniform",
                "p_value",
                "permutations",
                "n_used",
                "classes",
            )
        },
        "skills": {
            "extractor": cfg["analysis"]["skills"]["extractor"],
            "experiments": cfg["analysis"]["skills"]["experiments"],
        },
        "umap": umap_info,
        "transfer": transfer_headline(paths["transfer_csv"]),
        "dynamics": dynamics_headline(paths["dynamics_csv"]),
    }


def flat_metrics(summary: dict) -> dict:
    """Scalar headline numbers with slash-separated keys, for the W&B run summary."""
    out = {}

    def walk(prefix, v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}/{k}" if prefix else str(k), x)
        elif isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            out[prefix] = v

    walk("", summary)
    return out


def log_to_wandb(cfg: Mapping, summary: dict, paths: Mapping[str, str]) -> bool:
    """A W&B run (job_type analysis) with the tables, images and the UMAP HTML; never fails."""
    import pandas as pd

    from vero.tracking import init_run

    run = init_run(
        experiment="analysis",
        group="analysis",
        job_type="analysis",
        config={"analysis": cfg.get("analysis", {}), "experiments": cfg.get("experiments", {})},
        wandb_cfg=cfg.get("wandb"),
    )
    for key in ("length_csv", "probe_csv", "transfer_csv", "dynamics_csv"):
        p = paths.get(key)
        if p and Path(p).exists():
            table = pd.read_csv(p)
            if not table.empty:
                run.log_table(f"analysis/{Path(p).stem}", table)
    for key, p in paths.items():
        if key.endswith("_png") and Path(p).exists():
            run.log_image(f"analysis/{key.removesuffix('_png')}", p)
    if paths.get("umap_html") and Path(paths["umap_html"]).exists():
        run.log_html("analysis/umap", paths["umap_html"])
    run.summary_update(flat_metrics(summary))
    active = run.active
    run.finish()
    return active
