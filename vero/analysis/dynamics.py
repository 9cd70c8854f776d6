"""Training dynamics from runs/{experiment}/train_log.jsonl (TRL log_history, one row per step).

Tolerant by design: each panel plots the keys that are present and says "not logged" for the
ones that are not, and the summary names the missing metrics. The algorithm-ablation overlay
puts GSPO, GRPO and DAPO runs on the same axes, with the recipe's entropy figures in the legend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from vero.analysis.plotting import category_color, pyplot, save_figure

# Mean policy entropy ± std over training reported by the recipe for the algorithm ablation.
PAPER_ENTROPY: dict[str, tuple[float, float]] = {
    "gspo": (0.58, 0.11),
    "grpo": (0.50, 0.11),
    "dapo": (0.22, 0.15),
}

PANELS = (
    "reward",
    "reward components",
    "reward per category",
    "accuracy per category",
    "policy entropy",
    "response length",
    "clip fraction",
    "loss",
    "grad norm",
)
LENGTH_KEYS = ("completions/mean_length", "completion_length", "completions/mean_length_terminated")

SUMMARY_COLUMNS = (
    "experiment",
    "ablation",
    "algorithm",
    "n_logged_steps",
    "last_step",
    "reward_first",
    "reward_last",
    "entropy_mean",
    "entropy_std",
    "response_length_last",
    "clip_fraction_mean",
    "loss_first",
    "loss_last",
    "paper_entropy_mean",
    "paper_entropy_std",
    "metrics_missing",
)


def _series(rows: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    pts = [(r["step"], r[key]) for r in rows if key in r and math.isfinite(r[key])]
    if not pts:
        return np.array([]), np.array([])
    s, v = zip(*pts, strict=True)
    return np.asarray(s, dtype=float), np.asarray(v, dtype=float)


def panel_keys(rows: list[dict]) -> dict[str, list[str]]:
    """The log keys each panel plots, from the keys present in `rows`."""
    keys = sorted({k for r in rows for k in r if k != "step"})
    length = next((k for k in LENGTH_KEYS if k in keys), None)
    clip = [k for k in keys if k.startswith("clip_ratio")]
    per_cat = [k for k in keys if k.startswith("reward/category/")]
    return {
        "reward": [k for k in ("reward",) if k in keys],
        # our breakdown (reward/accuracy, /format, /overlong), else TRL's per-function means
        "reward components": [
            k for k in keys if k.startswith("reward/") and not k.startswith("reward/category/")
        ]
        or [k for k in keys if k.startswith("rewards/") and k.endswith("/mean")],
        # per category the total (reward/category/<cat>/total), or a bare reward/category/<cat>
        "reward per category": [k for k in per_cat if k.endswith("/total")]
        or [k for k in per_cat if k.count("/") == 2],
        # the accuracy part of the reward per category (reward/category/<cat>/accuracy)
        "accuracy per category": [k for k in per_cat if k.endswith("/accuracy")],
        "policy entropy": [k for k in ("entropy",) if k in keys],
        "response length": [length] if length else [],
        # TRL logs mean, min and max of each clip ratio; the means are enough when present
        "clip fraction": [k for k in clip if k.endswith("mean")] or clip,
        # SFT runs log no reward: their loss is the curve that shows learning
        "loss": [k for k in ("loss",) if k in keys],
        "grad norm": [k for k in ("grad_norm",) if k in keys],
    }


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < 2:
        return values
    import pandas as pd

    return pd.Series(values).rolling(window, min_periods=1).mean().to_numpy()


def _short(key: str) -> str:
    for prefix in ("reward/category/", "reward/", "rewards/", "clip_ratio/"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key.removesuffix("/mean").removesuffix("/total").removesuffix("/accuracy") or key


def _not_logged(ax) -> None:
    ax.text(0.5, 0.5, "not logged", ha="center", va="center", color="grey", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_experiment(rows: list[dict], path: str | Path, *, title: str, window: int = 1) -> Path:
    """One panel per PANELS entry of one run's curves; absent metrics are marked as not logged."""
    plt = pyplot()
    keys = panel_keys(rows)
    fig, axes = plt.subplots(3, 3, figsize=(16, 11))
    for ax, panel in zip(axes.flat, PANELS, strict=True):
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("step")
        if not keys[panel]:
            _not_logged(ax)
            continue
        for k in keys[panel]:
            s, v = _series(rows, k)
            color = category_color(_short(k)) if panel.endswith("per category") else None
            line = ax.plot(
                s, smooth(v, window), label=_short(k), color=color, marker="." if len(s) < 30 else None
            )[0]
            if panel == "reward":
                s2, sd = _series(rows, "reward_std")
                if len(s) and np.array_equal(s2, s):
                    ax.fill_between(
                        s, v - sd, v + sd, alpha=0.15, color=line.get_color(), label="± reward std"
                    )
        if len(keys[panel]) > 1 or panel == "reward":
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


def summarize_run(name: str, rows: list[dict], *, ablation: str = "", algorithm: str = "") -> dict:
    keys = panel_keys(rows)
    _, reward = _series(rows, "reward")
    _, ent = _series(rows, "entropy")
    _, loss = _series(rows, "loss")
    length_key = keys["response length"][0] if keys["response length"] else None
    _, length = _series(rows, length_key) if length_key else (None, np.array([]))
    clip_vals = [v for k in keys["clip fraction"] for v in _series(rows, k)[1]]
    paper = (
        PAPER_ENTROPY.get(algorithm, (math.nan, math.nan))
        if ablation in ("algorithm", "main")
        else (math.nan,) * 2
    )
    return {
        "experiment": name,
        "ablation": ablation,
        "algorithm": algorithm,
        "n_logged_steps": len(rows),
        "last_step": rows[-1]["step"] if rows else math.nan,
        "reward_first": float(reward[0]) if len(reward) else math.nan,
        "reward_last": float(reward[-1]) if len(reward) else math.nan,
        "entropy_mean": float(ent.mean()) if len(ent) else math.nan,
        "entropy_std": float(ent.std()) if len(ent) else math.nan,
        "response_length_last": float(length[-1]) if len(length) else math.nan,
        "clip_fraction_mean": float(np.mean(clip_vals)) if clip_vals else math.nan,
        "loss_first": float(loss[0]) if len(loss) else math.nan,
        "loss_last": float(loss[-1]) if len(loss) else math.nan,
        "paper_entropy_mean": paper[0],
        "paper_entropy_std": paper[1],
        "metrics_missing": ";".join(p for p in PANELS if not keys[p]),
    }


def algorithm_runs(config: Mapping) -> list[str]:
    """The main run(s) plus every experiment of ablation `algorithm`, in config order."""
    return [
        n
        for n, e in (config.get("experiments") or {}).items()
        if e.get("ablation", "main") in ("main", "algorithm")
    ]


def plot_algorithm_overlay(
    runs: Mapping[str, tuple[str, list[dict]]], path: str | Path, *, window: int = 1
) -> Path:
    """Reward, entropy, response length and clip fraction of several runs on shared axes.

    `runs` maps experiment name -> (algorithm, rows). The legend carries the recipe's entropy
    (mean ± std over training) for each algorithm next to ours.
    """
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    panels = [
        ("reward", ["reward"]),
        ("policy entropy", ["entropy"]),
        ("response length", list(LENGTH_KEYS)),
        ("clip fraction", None),
    ]
    for ax, (panel, candidates) in zip(axes.flat, panels, strict=True):
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("step")
        plotted = 0
        for name, (algo, rows) in runs.items():
            keys = (
                panel_keys(rows)[panel]
                if candidates is None
                else [k for k in candidates if any(k in r for r in rows)][:1]
            )
            for k in keys:
                s, v = _series(rows, k)
                label = f"{name} ({algo.upper()})" + (f" {_short(k)}" if candidates is None else "")
                if panel == "policy entropy" and len(v):
                    pm, ps = PAPER_ENTROPY.get(algo, (math.nan, math.nan))
                    label += f": ours {v.mean():.2f}±{v.std():.2f}"
                    if not math.isnan(pm):
                        label += f", paper {pm:.2f}±{ps:.2f}"
                ax.plot(s, smooth(v, window), label=label)
                plotted += 1
        if plotted:
            ax.legend(fontsize=7)
        else:
            _not_logged(ax)
    fig.suptitle(
        "Algorithm ablation: GSPO vs GRPO vs DAPO "
        "(recipe: entropy 0.58±0.11 / 0.50±0.11 / 0.22±0.15, average score 54.7 / 54.3 / 54.3)",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, path)
