"""The embedded demo's figures (issue 17): what a CPU run of the study shows, against its targets.

Read from a finished run's outputs (nothing is recomputed or re-scored):
- `eval/<experiment>/final/summary.json` (vero.eval.aggregate.checkpoint_summary): per
  benchmark `score` and `score_sem` in %, per category `score`; on the mini suite each category
  is one benchmark, so its SEM is that benchmark's;
- `analysis/reasoning_length.csv` (experiment, category, mean_words, n_measured);
- `analysis/probe.json` (the skill probe: its per-category trace counts).

Figures, each with the target it is compared against:
- `mixed_vs_base`: overall score of the main (mixed) run minus the base model's, points; the
  overall is the mean of the category scores, so its SEM is sqrt(sum SEM_c^2) / n_categories
  (independent held-out sets per category); target >= 10 points;
- `transfer_diagonal`: per category c with a single-category run, that run's gain on c against
  the largest gain any other single-category run makes on c; target: the own run gains most in
  >= 4 of the 6 categories;
- `reward_ablation`: grounding, counting & search score of the math-verify-only reward run
  minus the task-routed (main) run's; target <= -10 points;
- `reasoning_length`: mean think-block words of the main run per category and their spread;
- `traces`: traces per category the skill probe ran on; target >= 60 each.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vero.categories import CATEGORIES

GROUNDING = "grounding_counting_search"
TARGETS = {
    "mixed_vs_base": 10.0,
    "transfer_diagonal_wins": 4,
    "reward_ablation_grounding": -10.0,
    "traces_per_category": 60,
}


def _score(entry: Any) -> float | None:
    if isinstance(entry, Mapping):
        entry = entry.get("score")
    if isinstance(entry, int | float) and not isinstance(entry, bool) and math.isfinite(entry):
        return float(entry)
    return None


def category_scores(summary: Mapping) -> dict[str, tuple[float | None, float | None, int | None]]:
    """category -> (score %, SEM %, n scored) of one summary; SEM and n from its single benchmark."""
    out = {}
    benches = summary.get("benchmarks") or {}
    for cat, entry in (summary.get("categories") or {}).items():
        members = [benches[b] for b in entry.get("benchmarks", []) if b in benches]
        sem = members[0].get("score_sem") if len(members) == 1 else None
        n = members[0].get("n_scored") if len(members) == 1 else None
        out[cat] = (_score(entry), sem if isinstance(sem, int | float) else None, n)
    return out


def overall(summary: Mapping) -> tuple[float | None, float | None]:
    """(overall %, its SEM %): the mean of category scores; SEM = sqrt(sum SEM_c^2) / n."""
    cats = category_scores(summary)
    scores = [s for s, _, _ in cats.values() if s is not None]
    if not scores:
        return None, None
    sems = [e for _, e, _ in cats.values()]
    sem = math.sqrt(sum(e * e for e in sems)) / len(sems) if sems and None not in sems else None
    return sum(scores) / len(scores), sem


def load_summaries(eval_dir: str | Path, names) -> dict[str, dict]:
    out = {}
    for name in names:
        p = Path(eval_dir) / name / "final" / "summary.json"
        if p.is_file():
            out[name] = json.loads(p.read_text())
    return out


def _main_and_singles(cfg: Mapping) -> tuple[str | None, dict[str, str], str | None]:
    from vero.config import experiment_categories

    experiments = cfg.get("experiments") or {}
    main = next((n for n, e in experiments.items() if e.get("ablation", "main") == "main"), None)
    singles: dict[str, str] = {}
    reward_run = None
    for name, exp in experiments.items():
        cats = experiment_categories(exp)
        if exp.get("ablation") == "transfer" and len(cats) == 1:
            singles.setdefault(cats[0], name)
        reward = (exp.get("train") or {}).get("reward")
        if exp.get("ablation") == "reward" and reward_run is None and reward == "math_verify_only":
            reward_run = name
    return main, singles, reward_run


# Long: one figure per block, in the order of TARGETS, each reading only the summaries it names.
def demo_figures(results_dir: str | Path, cfg: Mapping) -> dict[str, Any]:
    """The figures above from a run's `results_dir` (missing inputs give None, never an error)."""
    results = Path(results_dir)
    main, singles, reward_run = _main_and_singles(cfg)
    names = ["base", *(cfg.get("experiments") or {})]
    summaries = load_summaries(results / "eval", names)
    cats = {n: category_scores(s) for n, s in summaries.items()}
    fig: dict[str, Any] = {"targets": dict(TARGETS)}

    base_ov, base_sem = overall(summaries["base"]) if "base" in summaries else (None, None)
    fig["base"] = {"overall": base_ov, "sem": base_sem, "categories": cats.get("base")}
    if main in summaries and base_ov is not None:
        m_ov, m_sem = overall(summaries[main])
        fig["mixed_vs_base"] = {
            "experiment": main,
            "mixed": m_ov,
            "mixed_sem": m_sem,
            "base": base_ov,
            "base_sem": base_sem,
            "delta": None if m_ov is None else m_ov - base_ov,
        }

    def gain(run: str, cat: str) -> float | None:
        a = (cats.get(run) or {}).get(cat, (None,))[0]
        b = (cats.get("base") or {}).get(cat, (None,))[0]
        return None if a is None or b is None else a - b

    diag = {}
    for cat, run in singles.items():
        own = gain(run, cat)
        others = [g for c2, r2 in singles.items() if c2 != cat and (g := gain(r2, cat)) is not None]
        if own is None or not others:
            continue
        diag[cat] = {"own_gain": own, "best_other_gain": max(others), "wins": own > max(others)}
    fig["transfer_diagonal"] = {"per_category": diag, "wins": sum(d["wins"] for d in diag.values())}

    if reward_run in cats and main in cats:
        mv = cats[reward_run].get(GROUNDING, (None,))[0]
        routed = cats[main].get(GROUNDING, (None,))[0]
        fig["reward_ablation"] = {
            "experiment": reward_run,
            "math_verify_grounding": mv,
            "routed_grounding": routed,
            "delta": None if mv is None or routed is None else mv - routed,
        }

    length_csv = results / "analysis" / "reasoning_length.csv"
    if length_csv.is_file() and main:
        with open(length_csv, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("experiment") == main]
        words = {r["category"]: float(r["mean_words"]) for r in rows if r.get("mean_words")}
        fig["reasoning_length"] = {
            "experiment": main,
            "mean_words": words,
            "spread": (max(words.values()) - min(words.values())) if words else None,
        }

    probe = results / "analysis" / "probe.json"
    if probe.is_file():
        p = json.loads(probe.read_text())
        counts = p.get("counts") or p.get("n_per_category") or p.get("class_counts") or {}
        fig["traces"] = {
            "per_category": {c: counts.get(c, 0) for c in CATEGORIES} if counts else None,
            "n_used": p.get("n_used"),
            "status": p.get("status"),
        }
    return fig


def _f(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:+.1f}" if signed else f"{v:.1f}"


# Long: one row per figure, in the order of TARGETS, each with its own measured/target wording.
def figure_lines(fig: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, met) rows for printing or an HTML table."""
    t = fig["targets"]
    rows = []
    mb = fig.get("mixed_vs_base")
    if mb:
        rows.append(
            (
                f"{mb['experiment']} vs base, overall (points)",
                f"{_f(mb['mixed'])} ± {_f(mb['mixed_sem'])} vs {_f(mb['base'])} ± {_f(mb['base_sem'])}"
                f" (Δ {_f(mb['delta'], True)})",
                f"Δ ≥ +{t['mixed_vs_base']:.0f}",
                "yes" if mb["delta"] is not None and mb["delta"] >= t["mixed_vs_base"] else "no",
            )
        )
    td = fig.get("transfer_diagonal")
    if td and td["per_category"]:
        detail = ", ".join(
            f"{c}: {_f(d['own_gain'], True)} vs {_f(d['best_other_gain'], True)}"
            for c, d in td["per_category"].items()
        )
        rows.append(
            (
                "transfer diagonal: own-category gain beats the other single runs",
                f"{td['wins']} of {len(td['per_category'])} ({detail})",
                f"≥ {t['transfer_diagonal_wins']}",
                "yes" if td["wins"] >= t["transfer_diagonal_wins"] else "no",
            )
        )
    ra = fig.get("reward_ablation")
    if ra:
        rows.append(
            (
                "math-verify-only vs task-routed, grounding (points)",
                f"{_f(ra['math_verify_grounding'])} vs {_f(ra['routed_grounding'])}"
                f" (Δ {_f(ra['delta'], True)})",
                f"Δ ≤ {t['reward_ablation_grounding']:.0f}",
                "yes" if ra["delta"] is not None and ra["delta"] <= t["reward_ablation_grounding"] else "no",
            )
        )
    rl = fig.get("reasoning_length")
    if rl and rl["mean_words"]:
        rows.append(
            (
                f"reasoning length of {rl['experiment']} by category (words)",
                ", ".join(f"{c}: {v:.0f}" for c, v in rl["mean_words"].items())
                + f" (spread {_f(rl['spread'])})",
                "differs by category",
                "yes" if (rl["spread"] or 0) > 0 else "no",
            )
        )
    tr = fig.get("traces")
    if tr and tr.get("per_category"):
        low = min(tr["per_category"].values())
        rows.append(
            (
                "probe traces per category",
                ", ".join(f"{c}: {n}" for c, n in tr["per_category"].items()),
                f"≥ {t['traces_per_category']}",
                "yes" if low >= t["traces_per_category"] else "no",
            )
        )
    wall = fig.get("wall_s")
    if wall is not None:
        rows.append(
            ("make demo wall time (s)", f"{wall:.0f}", "≤ 900 (aim 600)", "yes" if wall <= 900 else "no")
        )
    return rows


# ---- learning checks: does each RL run get a signal, and does its policy move? ------------------


def _train_rows(run_dir: Path) -> list[dict]:
    from vero.analysis.traces import load_train_log

    path = run_dir / "train_log.jsonl"
    return load_train_log(path) if path.is_file() else []


def weight_change(base_dir: str | Path, final_dir: str | Path) -> float | None:
    """Relative L2 change of the weights, ||final - base|| / ||base||, over the tensors both
    model directories hold (safetensors); None when either has no weights."""
    import numpy as np
    from safetensors.numpy import load_file

    def tensors(d: Path) -> dict:
        out = {}
        for f in sorted(Path(d).glob("*.safetensors")):
            out.update(load_file(str(f)))
        return out

    a, b = tensors(Path(base_dir)), tensors(Path(final_dir))
    common = sorted(set(a) & set(b))
    if not common:
        return None
    num = sum(float(np.sum((b[k].astype(np.float64) - a[k].astype(np.float64)) ** 2)) for k in common)
    den = sum(float(np.sum(a[k].astype(np.float64) ** 2)) for k in common)
    return math.sqrt(num / den) if den > 0 else None


def run_signal(run_dir: str | Path, base_dir: str | Path | None = None) -> dict[str, Any]:
    """What one RL run's logs say about its learning signal:
    - `reward_varies`: mean over steps of 1 - frac_reward_zero_std, the share of prompt groups whose
      rollouts got different rewards (0 = a constant reward: every advantage is 0, nothing is learned);
    - `accuracy_per_category`: mean logged training accuracy per category (reward/category/<c>/accuracy);
    - `weight_change`: relative L2 change of the final model against `base_dir` (0 = unchanged).
    """
    run_dir = Path(run_dir)
    rows = _train_rows(run_dir)
    zero = [r["frac_reward_zero_std"] for r in rows if isinstance(r.get("frac_reward_zero_std"), int | float)]
    acc: dict[str, list[float]] = {}
    for r in rows:
        for k, v in r.items():
            if k.startswith("reward/category/") and k.endswith("/accuracy") and isinstance(v, int | float):
                acc.setdefault(k.split("/")[2], []).append(float(v))
    final = run_dir / "final"
    return {
        "n_steps": len(rows),
        "reward_varies": (1 - sum(zero) / len(zero)) if zero else None,
        "accuracy_per_category": {c: sum(v) / len(v) for c, v in acc.items()},
        "weight_change": weight_change(base_dir, final) if base_dir and final.is_dir() else None,
    }


def signal_problems(
    signal: Mapping[str, Any], *, min_varies: float = 0.2, min_change: float = 1e-6
) -> list[str]:
    """Why an RL run cannot have learned, from `run_signal` (empty = none found)."""
    problems = []
    if not signal["n_steps"]:
        problems.append("no training steps logged")
    varies = signal["reward_varies"]
    if varies is None or varies < min_varies:
        problems.append(
            f"reward constant within prompt groups (share of groups with different rewards {varies}, "
            f"need >= {min_varies}): every advantage is 0"
        )
    if not signal["accuracy_per_category"]:
        problems.append("no per-category accuracy logged")
    change = signal["weight_change"]
    if change is None or change < min_change:
        problems.append(f"policy unchanged (relative weight change {change}, need >= {min_change})")
    return problems
