"""The reproduce_paper target: the released Vero checkpoints and their base models on the suite,
set beside the paper's published numbers (rules/reproduce.smk).

`eval.reproduce.models` names each model (hub id or directory, family, the paper's row pair it
belongs to, base or vero). One job per (model, benchmark) runs the ordinary evaluation job
(`vero.eval.evaluate.evaluate_model`) with `eval.reproduce.system_prompt` (default: the model's
own chat template); `summarize_model` merges a model's benchmarks; `write_reproduction` writes
the per-benchmark deltas ours − paper (results/reproduce/paper_deltas.{csv,md,png}). The paper's
numbers are `paper_reference.models.<paper_model>.benchmarks` of the registry, with their source.
"""

from __future__ import annotations

import copy
import csv
import io
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vero.categories import CATEGORIES, CATEGORY_NAMES
from vero.eval.aggregate import checkpoint_summary, expected_benchmarks, read_json, write_json
from vero.eval.registry import load_registry, paper_reference, registry_path, suite_specs
from vero.eval.writers import write_text

REPRODUCE_CHECKPOINT = "released"


class ReproduceError(ValueError):
    """A reproduce model or paper key the config or registry does not define."""


def reproduce_models(cfg: Mapping) -> dict[str, dict]:
    """The models of the target (`eval.reproduce.models`), each checked against the registry's
    paper numbers."""
    models = dict(((cfg.get("eval") or {}).get("reproduce") or {}).get("models") or {})
    paper = paper_reference(registry_path(cfg)).get("models") or {}
    for name, m in models.items():
        if m["paper_model"] not in paper:
            raise ReproduceError(
                f"config key 'eval.reproduce.models.{name}.paper_model': {m['paper_model']!r} has no "
                f"numbers in the registry's paper_reference.models; known: {sorted(paper)}"
            )
    return models


def reproduce_config(cfg: Mapping) -> dict:
    """The config the reproduce jobs run with: `eval.system_prompt` from `eval.reproduce`."""
    out = copy.deepcopy(dict(cfg))
    out["eval"] = {
        **out.get("eval", {}),
        "system_prompt": out["eval"].get("reproduce", {}).get("system_prompt", "model"),
    }
    return out


def evaluate_released(cfg: Mapping, *, name: str, benchmark: str, out_jsonl, out_summary, **kw: Any) -> dict:
    """One (model, benchmark) job of the target."""
    from vero.eval.evaluate import evaluate_model

    models = reproduce_models(cfg)
    if name not in models:
        raise ReproduceError(f"unknown reproduce model {name!r}; known: {list(models)}")
    m = models[name]
    return evaluate_model(
        reproduce_config(cfg),
        model=m["model"],
        family=m["family"],
        labels={"experiment": name, "checkpoint": REPRODUCE_CHECKPOINT},
        benchmark=benchmark,
        out_jsonl=out_jsonl,
        out_summary=out_summary,
        **kw,
    )


def summarize_model(cfg: Mapping, *, name: str, benchmark_jsons, out, track: bool = True) -> dict:
    """summary.json of one model of the target, and its W&B eval run (group "reproduce")."""
    summary = checkpoint_summary(
        [read_json(p) for p in benchmark_jsons],
        experiment=name,
        checkpoint=REPRODUCE_CHECKPOINT,
        expected=expected_benchmarks(cfg),
    )
    summary["model"] = reproduce_models(cfg)[name]
    write_json(out, summary)
    if track:
        from vero.tracking import init_run

        run = init_run(
            experiment=name,
            group="reproduce",
            job_type="eval",
            config={"eval": dict(cfg.get("eval") or {}), "model": summary["model"]},
            wandb_cfg=cfg.get("wandb"),
            name=f"{name}-reproduce",
        )
        try:
            values = {f"reproduce/{k}": v["score"] for k, v in summary["benchmarks"].items()}
            values["reproduce/overall"] = summary["overall"]["score"]
            run.summary_update({k: v for k, v in values.items() if v is not None})
        finally:
            run.finish()
    return summary


def _delta(ours: float | None, paper: float | None) -> float | None:
    return None if ours is None or paper is None else round(ours - paper, 2)


def delta_rows(cfg: Mapping, summaries: Mapping[str, Mapping], paper: Mapping) -> list[dict]:
    """One row per (model, benchmark) plus one overall row per model: ours, paper, ours − paper."""
    models = reproduce_models(cfg)
    specs = {**load_registry(registry_path(cfg)), **suite_specs(cfg)}  # every benchmark of the table
    rows = []
    for name, summary in summaries.items():
        m = models[name]
        ref = (paper.get("models") or {})[m["paper_model"]]
        cells = ref.get("benchmarks") or {}
        ours_scores = []
        for key, spec in specs.items():
            ours = (summary["benchmarks"].get(key) or {}).get("score")
            cell = cells.get(key) or {}
            if ours is not None:
                ours_scores.append(ours)
            rows.append(
                {
                    "model": name,
                    "role": m["role"],
                    "paper_model": m["paper_model"],
                    "benchmark": key,
                    "name": spec.name,
                    "category": spec.category,
                    "ours": None if ours is None else round(ours, 2),
                    "paper": cell.get(m["role"]),
                    "delta": _delta(ours, cell.get(m["role"])),
                    "paper_source": cell.get("base_source", "authors") if m["role"] == "base" else "authors",
                    "n_scored": (summary["benchmarks"].get(key) or {}).get("n_scored"),
                }
            )
        overall = statistics.fmean(ours_scores) if ours_scores else None
        paper_overall = ref.get(f"{m['role']}_overall")
        rows.append(
            {
                "model": name,
                "role": m["role"],
                "paper_model": m["paper_model"],
                "benchmark": "overall",
                "name": f"overall ({len(ours_scores)} of {len(cells) or len(specs)} benchmarks)",
                "category": "",
                "ours": None if overall is None else round(overall, 2),
                "paper": paper_overall,
                "delta": _delta(overall, paper_overall) if len(ours_scores) == len(cells) else None,
                "paper_source": "authors",
                "n_scored": len(ours_scores),
            }
        )
    return rows


CSV_COLUMNS = [
    "model",
    "role",
    "paper_model",
    "benchmark",
    "category",
    "ours",
    "paper",
    "delta",
    "paper_source",
    "n_scored",
]


def delta_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None else r[k] for k in CSV_COLUMNS})
    return buf.getvalue()


def _fmt(v: Any, signed: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:+.1f}" if signed else f"{v:.1f}"


def delta_markdown(rows: list[dict], paper: Mapping) -> str:
    """One table per model: ours, the paper's number, the difference; incomplete runs say so."""
    lines = [
        "# Reproduction of the paper's VeroEval table",
        "",
        f"Paper numbers: {paper.get('source', 'paper')}. Scores in %; Δ = ours − paper. A † marks a",
        "paper number taken from the model's own report (another harness); ‡ one derived as Vero − Δ.",
        "",
    ]
    marks = {"official_report": " †", "derived": " ‡"}
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name]
        head = mine[0]
        overall = mine[-1]
        lines += [f"## {name} ({head['role']} of {head['paper_model']})", ""]
        if overall["delta"] is None:
            lines += [
                f"Incomplete: {overall['name']} scored; the overall is not comparable with the paper's.",
                "",
            ]
        lines += ["| benchmark | category | ours | paper | Δ |", "|---|---|---|---|---|"]
        for r in mine:
            cat = CATEGORY_NAMES.get(r["category"], r["category"])
            paper_cell = _fmt(r["paper"]) + marks.get(r["paper_source"], "")
            lines.append(
                f"| {r['name']} | {cat} | {_fmt(r['ours'])} | {paper_cell} | {_fmt(r['delta'], True)} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot_deltas(rows: list[dict], out_png: str | Path) -> None:
    """Ours − paper per benchmark, one panel per model (benchmarks grouped by category)."""
    from vero.analysis.plotting import pyplot

    plt = pyplot()
    models = list(dict.fromkeys(r["model"] for r in rows))
    order = {c: i for i, c in enumerate(CATEGORIES)}
    fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models) + 1.5, 8), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], models, strict=True):
        mine = sorted(
            (r for r in rows if r["model"] == name and r["benchmark"] != "overall"),
            key=lambda r: order.get(r["category"], 99),
        )
        labels = [r["name"] for r in mine]
        values = [r["delta"] if r["delta"] is not None else 0.0 for r in mine]
        colors = [
            "#999999" if r["delta"] is None else ("#2b8cbe" if r["delta"] >= 0 else "#e34a33") for r in mine
        ]
        ax.barh(range(len(mine)), values, color=colors)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(mine)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("ours − paper (points)")
    fig.suptitle("VeroEval: reproduction vs the paper's table (grey: not scored)")
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def write_reproduction(
    cfg: Mapping, *, summary_paths: Mapping[str, str | Path], out_md, out_csv, out_png
) -> list[dict]:
    """Write the delta table (Markdown + CSV) and its plot; returns the rows."""
    paper = paper_reference(registry_path(cfg))
    rows = delta_rows(cfg, {n: read_json(p) for n, p in summary_paths.items()}, paper)
    write_text(out_csv, delta_csv(rows))
    write_text(out_md, delta_markdown(rows, paper))
    plot_deltas(rows, out_png)
    return rows
