"""The comparison table: the base model vs every experiment, with deltas, and the paper's numbers.

Two tables go into eval/comparison.md (the first also into eval/comparison.csv):
1. scores per experiment (overall and per category) and their difference to the base model;
   with `eval.paper_model` set, the paper's base and Vero rows for that model are added.
2. the ablations as differences to the main (all-category GSPO) run, beside the differences the
   paper reports for the same ablation (GRPO/DAPO vs GSPO, math-verify-only reward, SFT vs RL).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from vero.categories import CATEGORIES, CATEGORY_NAMES
from vero.config import resolve_experiment

BASE = "base"


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _fmt(v: Any, signed: bool = False) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:+.1f}" if signed else f"{v:.1f}"
    return str(v)


def _coverage(summary: Mapping) -> str:
    """ "scored/expected" benchmarks of a summary's overall score."""
    o = summary.get("overall") or {}
    expected = o.get("n_expected_benchmarks", o.get("n_benchmarks"))
    return f"{o.get('n_scored_benchmarks')}/{expected}"


def incomplete(summary: Mapping) -> list[str]:
    """The suite's benchmarks a summary's overall score leaves out (not evaluated or no score)."""
    o = summary.get("overall") or {}
    if "missing" in o:
        return list(o["missing"])
    return list(summary.get("unscored_benchmarks") or [])


def comparison_rows(
    summaries: Mapping[str, Mapping], cfg: Mapping, paper: Mapping | None = None
) -> list[dict[str, Any]]:
    """One row per evaluated model (base first), plus the paper's rows for `eval.paper_model`."""
    if BASE not in summaries:
        raise ValueError("comparison needs the base model's summary (experiment 'base')")
    base = summaries[BASE]
    experiments = cfg.get("experiments") or {}
    rows = []
    for name, s in summaries.items():
        row: dict[str, Any] = {
            "experiment": name,
            "source": "this run",
            "ablation": "base" if name == BASE else experiments.get(name, {}).get("ablation", "main"),
            "checkpoint": s.get("checkpoint", "final"),
            "overall": s["overall"]["score"],
            "overall_delta": None
            if name == BASE
            else _delta(s["overall"]["score"], base["overall"]["score"]),
            "n_scored_benchmarks": s["overall"]["n_scored_benchmarks"],
            "coverage": _coverage(s),
        }
        for cat in CATEGORIES:
            sc = (s["categories"].get(cat) or {}).get("score")
            bc = (base["categories"].get(cat) or {}).get("score")
            row[cat] = sc
            row[f"{cat}_delta"] = None if name == BASE else _delta(sc, bc)
        rows.append(row)
    rows.sort(key=lambda r: (r["experiment"] != BASE, list(summaries).index(r["experiment"])))

    paper_model = (cfg.get("eval") or {}).get("paper_model")
    if paper_model and paper:
        ref = (paper.get("models") or {}).get(paper_model)
        if ref is None:
            raise ValueError(
                f"config key 'eval.paper_model': {paper_model!r} has no reference numbers; "
                f"known: {sorted(paper.get('models') or {})}"
            )
        src = paper.get("source", "paper")
        base_row = {
            "experiment": f"paper: {ref.get('base_model', paper_model)}",
            "source": src,
            "ablation": "base",
        }
        base_row["overall"] = ref.get("base_overall")
        vero_row = {
            "experiment": f"paper: Vero from {ref.get('base_model', paper_model)}",
            "source": src,
            "ablation": "main",
        }
        vero_row["overall"] = ref.get("vero_overall")
        vero_row["overall_delta"] = _delta(ref.get("vero_overall"), ref.get("base_overall"))
        for cat, d in (ref.get("vero_category_delta") or {}).items():
            vero_row[f"{cat}_delta"] = float(d)
        rows.extend([base_row, vero_row])
    return rows


def _paper_ablation_deltas(paper: Mapping | None) -> dict[str, float]:
    abl = (paper or {}).get("ablations") or {}
    out = {}
    algo = abl.get("algorithm_average") or {}
    for a in ("grpo", "dapo"):
        if a in algo and "gspo" in algo:
            out[f"algorithm:{a}"] = float(algo[a]) - float(algo["gspo"])
    rew = abl.get("reward_average") or {}
    if "math_verify_only" in rew and "vero" in rew:
        out["reward:math_verify_only"] = float(rew["math_verify_only"]) - float(rew["vero"])
    if abl.get("rl_minus_sft") is not None:
        out["trainer:sft"] = -float(abl["rl_minus_sft"])
    return out


def ablation_rows(summaries: Mapping[str, Mapping], cfg: Mapping, paper: Mapping | None = None) -> list[dict]:
    """Each ablation run vs the main run (overall score difference), with the paper's difference."""
    experiments = cfg.get("experiments") or {}
    main = next(
        (e for e, x in experiments.items() if x.get("ablation", "main") == "main" and e in summaries), None
    )
    if main is None:
        return []
    main_train = resolve_experiment(cfg, main)["train"]
    paper_d = _paper_ablation_deltas(paper)
    rows = []
    for name in experiments:
        if name == main or name not in summaries:
            continue
        train = resolve_experiment(cfg, name)["train"]
        changes = [
            f"{k}:{train[k]}" for k in ("algorithm", "reward", "trainer") if train.get(k) != main_train.get(k)
        ]
        key = changes[0] if len(changes) == 1 else None
        if key is None:
            continue  # e.g. single-category runs: see the transfer analysis instead
        rows.append(
            {
                "experiment": name,
                "change": key,
                "overall_delta_vs_main": _delta(
                    summaries[name]["overall"]["score"], summaries[main]["overall"]["score"]
                ),
                "paper_delta": paper_d.get(key),
            }
        )
    return rows


COLUMNS = (
    ["experiment", "source", "ablation", "checkpoint", "overall", "overall_delta"]
    + [c for cat in CATEGORIES for c in (cat, f"{cat}_delta")]
    + ["n_scored_benchmarks", "coverage"]
)


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(
            {
                k: ("" if r.get(k) is None else (round(r[k], 4) if isinstance(r.get(k), float) else r[k]))
                for k in COLUMNS
            }
        )
    return buf.getvalue()


def to_markdown(rows: list[dict], ablations: list[dict], *, suite: str, notes: list[str] = ()) -> str:
    head = ["model", "overall", "Δ base"] + [CATEGORY_NAMES[c] for c in CATEGORIES] + ["benchmarks"]
    lines = [
        f"# Evaluation: base model vs every experiment ({suite} suite)",
        "",
        "Scores in %, mean over the scored benchmarks; a category cell reads `score (Δ vs base)`.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    for r in rows:
        cells = [r["experiment"], _fmt(r.get("overall")), _fmt(r.get("overall_delta"), signed=True)]
        for cat in CATEGORIES:
            s, d = r.get(cat), r.get(f"{cat}_delta")
            cells.append(_fmt(s) if d is None else f"{_fmt(s)} ({_fmt(d, signed=True)})")
        cells.append(r.get("coverage") or "–")
        lines.append("| " + " | ".join(cells) + " |")
    if ablations:
        lines += [
            "",
            "## Ablations: difference to the main run (overall, points)",
            "",
            "| experiment | change | this run | paper |",
            "|---|---|---|---|",
        ]
        for a in ablations:
            lines.append(
                f"| {a['experiment']} | {a['change']} | {_fmt(a['overall_delta_vs_main'], True)} | "
                f"{_fmt(a['paper_delta'], True)} |"
            )
    if notes:
        lines += ["", "Notes:", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def build_comparison(
    summaries: Mapping[str, Mapping], cfg: Mapping, paper: Mapping | None
) -> tuple[str, str]:
    """(markdown, csv) of the comparison."""
    suite = (cfg.get("eval") or {}).get("suite", "veroeval")
    rows = comparison_rows(summaries, cfg, paper)
    ablations = ablation_rows(summaries, cfg, paper)
    notes = []
    if paper:
        notes.append(
            f"Paper numbers: {paper.get('source', 'paper')}; ablation deltas: "
            f"{(paper.get('ablations') or {}).get('source', paper.get('source', 'paper'))}."
        )
    if suite == "mini":
        notes.append(
            "The mini suite is the held-out VeroMini split scored on tiny models: it checks the pipeline "
            "end to end; its numbers are not comparable with the paper's VeroEval numbers."
        )
    unscored = sorted({b for s in summaries.values() for b in s.get("unscored_benchmarks", [])})
    if unscored:
        notes.append(
            "Benchmarks without any scored sample (left out of the averages, not counted as 0): "
            f"{', '.join(unscored)}."
        )
    gaps = {name: incomplete(s) for name, s in summaries.items() if incomplete(s)}
    for name, missing in gaps.items():
        notes.append(
            f"{name}: the overall covers {_coverage(summaries[name])} benchmarks; "
            f"missing: {', '.join(missing)}."
        )
    if gaps and (cfg.get("eval") or {}).get("paper_model") and paper:
        notes.insert(
            0,
            "INCOMPLETE comparison with the paper: the paper averages over all 30 VeroEval benchmarks, "
            f"and {len(gaps)} evaluated model(s) here miss some ({', '.join(gaps)}); their overall and "
            "category scores are not comparable with the paper's rows.",
        )
    return to_markdown(rows, ablations, suite=suite, notes=notes), to_csv(rows)
