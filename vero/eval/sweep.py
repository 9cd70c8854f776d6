"""Checkpoint sweeps: which checkpoints of a run to evaluate, and the resulting curve.

Checkpoint directories exist only after training, so the list is computed from the config, not
globbed: the HF Trainer saves `checkpoint-{step}` at every multiple of `train.save_steps` and at
the last step (`train.max_steps`). `eval.sweep_every_k: k` keeps every k-th of those saves (and
always the final model); 0 turns sweeps off.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping

from vero.categories import CATEGORIES
from vero.config import ConfigError, resolve_experiment

_CKPT_RE = re.compile(r"^checkpoint-(\d+)$")


def saved_steps(max_steps: int, save_steps: int) -> list[int]:
    """Steps at which the trainer writes a checkpoint."""
    if max_steps < 1 or save_steps < 1:
        raise ValueError(f"max_steps and save_steps must be >= 1, got {max_steps}, {save_steps}")
    steps = list(range(save_steps, max_steps + 1, save_steps))
    if not steps or steps[-1] != max_steps:
        steps.append(max_steps)
    return steps


def sweep_checkpoints(cfg: Mapping, experiment: str) -> list[str]:
    """Checkpoint names to evaluate for `experiment`: every k-th saved step, then "final"."""
    k = int((cfg.get("eval") or {}).get("sweep_every_k", 0))
    if k < 0:
        raise ConfigError(f"config key 'eval.sweep_every_k': must be >= 0, got {k}")
    if k == 0:
        return ["final"]
    train = resolve_experiment(cfg, experiment)["train"]
    steps = saved_steps(int(train["max_steps"]), int(train["save_steps"]))
    picked = steps[k - 1 :: k]
    return [f"checkpoint-{s}" for s in picked] + ["final"]


def checkpoint_step(checkpoint: str, max_steps: int) -> int:
    """Training step of a checkpoint name ("final" is the last step)."""
    if checkpoint == "final":
        return int(max_steps)
    m = _CKPT_RE.match(checkpoint)
    if not m:
        raise ValueError(f"not a checkpoint name: {checkpoint!r} (expected 'final' or 'checkpoint-<step>')")
    return int(m.group(1))


def sweep_curve(cfg: Mapping, experiment: str, summaries: Mapping[str, Mapping]) -> list[dict]:
    """One row per evaluated checkpoint: step, overall and per-category scores, sorted by step.

    A `checkpoint-{max_steps}` and `final` hold the same weights; the curve keeps the checkpoint.
    """
    max_steps = int(resolve_experiment(cfg, experiment)["train"]["max_steps"]) if experiment != "base" else 0
    rows = {}
    for ckpt, s in summaries.items():
        step = checkpoint_step(ckpt, max_steps)
        if step in rows and ckpt == "final":
            continue
        row = {"experiment": experiment, "checkpoint": ckpt, "step": step, "overall": s["overall"]["score"]}
        for cat in CATEGORIES:
            row[cat] = (s["categories"].get(cat) or {}).get("score")
        rows[step] = row
    return [rows[k] for k in sorted(rows)]


def curve_csv(rows: list[dict]) -> str:
    cols = ["experiment", "checkpoint", "step", "overall", *CATEGORIES]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: "" if r.get(c) is None else r[c] for c in cols})
    return buf.getvalue()
