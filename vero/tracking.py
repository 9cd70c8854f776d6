"""Weights & Biases runs that carry the study's bookkeeping and never fail a job.

Every run gets: the experiment name, the ablation as its W&B group, a job_type
(train / eval / analysis), the git commit and a hash of the resolved config. The API key comes
only from the environment (`WANDB_API_KEY`); nothing here reads or writes it.
If W&B cannot start (no network, bad key, package missing) the job goes on with a
`TrackedRun` whose W&B side is off, and the reason is printed once. A W&B service that dies
while the job runs (it is a separate process; under SLURM it gets the job's SIGTERM too) only
turns W&B off: every call here catches its errors (training's own W&B logging is
vero.train.trainer.FaultTolerantWandbCallback).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vero.config import REPO_ROOT, config_hash

JOB_TYPES = ("train", "eval", "analysis")


def git_commit(repo: Path | str = REPO_ROOT) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def run_metadata(*, experiment: str, group: str, job_type: str, config: Mapping) -> dict[str, Any]:
    if job_type not in JOB_TYPES:
        raise ValueError(f"job_type must be one of {JOB_TYPES}, got {job_type!r}")
    return {
        "experiment": experiment,
        "ablation": group,
        "job_type": job_type,
        "git_commit": git_commit(),
        "config_hash": config_hash(dict(config)),
    }


class TrackedRun:
    """A thin wrapper over a `wandb.Run` (or none) with the few calls the stages use."""

    def __init__(self, run, metadata: dict[str, Any]):
        self.run = run
        self.metadata = metadata

    @property
    def active(self) -> bool:
        return self.run is not None

    def _safe(self, fn, *args, **kwargs):
        if self.run is None:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # W&B trouble must never fail a job
            warnings.warn(f"W&B call failed, continuing without it: {e}", stacklevel=3)
            return None

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        self._safe(lambda: self.run.log(dict(metrics), step=step))

    def log_table(self, key: str, dataframe) -> None:
        def _do():
            import wandb

            self.run.log({key: wandb.Table(dataframe=dataframe)})

        self._safe(_do)

    def log_image(self, key: str, path: str | Path) -> None:
        def _do():
            import wandb

            self.run.log({key: wandb.Image(str(path))})

        self._safe(_do)

    def log_html(self, key: str, path: str | Path) -> None:
        def _do():
            import wandb

            self.run.log({key: wandb.Html(Path(path).read_text())})

        self._safe(_do)

    def summary_update(self, values: Mapping[str, Any]) -> None:
        self._safe(lambda: self.run.summary.update(dict(values)))

    def finish(self) -> None:
        if self.run is None:
            return
        try:
            self.run.finish()
        except Exception as e:  # e.g. W&B's service died first (SIGTERM to the whole job)
            warnings.warn(f"W&B call failed, continuing without it: {e}", stacklevel=2)
            try:  # else W&B's atexit hook fails the same way again, with a traceback, at exit
                import wandb

                wandb.teardown()
            except Exception:
                pass
        self.run = None


def init_run(
    *,
    experiment: str,
    group: str,
    job_type: str,
    config: Mapping,
    wandb_cfg: Mapping | None = None,
    name: str | None = None,
) -> TrackedRun:
    """Start a W&B run; `wandb_cfg` is the config's `wandb:` section (project, entity, mode, dir)."""
    wandb_cfg = dict(wandb_cfg or {})
    meta = run_metadata(experiment=experiment, group=group, job_type=job_type, config=config)
    mode = os.environ.get("WANDB_MODE") or wandb_cfg.get("mode", "offline")
    if mode == "disabled":
        return TrackedRun(None, meta)
    try:
        import wandb

        run_dir = wandb_cfg.get("dir") or os.environ.get("WANDB_DIR")
        if run_dir:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project=wandb_cfg.get("project", "vero"),
            entity=wandb_cfg.get("entity") or None,
            group=group,
            job_type=job_type,
            name=name or f"{experiment}-{job_type}",
            tags=[experiment, group, job_type],
            config={**dict(config), "_vero": meta},
            mode=mode,
            dir=run_dir,
            reinit="finish_previous",
            settings=wandb.Settings(init_timeout=float(wandb_cfg.get("init_timeout_s", 60)), silent=True),
        )
    except Exception as e:
        print(
            f"[vero.tracking] W&B unavailable ({type(e).__name__}: {e}); continuing without it",
            file=sys.stderr,
        )
        return TrackedRun(None, meta)
    return TrackedRun(run, meta)
