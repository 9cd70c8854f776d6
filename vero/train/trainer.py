"""TRL trainers as this project uses them, and the callbacks that write the run's logs.

`VeroGRPOTrainer` is TRL's GRPOTrainer with one change: rollout batches come from consecutive
rows of the mix (`BlockRepeatSampler`) instead of a global shuffle, so each batch keeps the
category shares the data stage built in. Everything else (generation, GSPO loss, vLLM,
checkpointing) is TRL's.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import threading
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback
from trl import GRPOTrainer

from vero.train.release import ReleaseSemanticsMixin
from vero.train.sampler import BlockRepeatSampler


class _UnscoredSampleFilter(logging.Filter):
    """Drop TRL's per-sample warning for completions no reward scored.

    Judge-type samples without a judge are skipped by design (the reward returns None) and
    counted in the `reward_monitor/unjudged` metric; TRL would otherwise dump the whole sample, images
    included, into the job log at every step.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "All reward functions returned None" not in record.getMessage()


_UNSCORED_FILTER = _UnscoredSampleFilter()


class VeroGRPOTrainer(ReleaseSemanticsMixin, GRPOTrainer):  # advantage ε, shared judge (vero.train.release)
    def __init__(self, *args, **kwargs):
        grpo_logger = logging.getLogger(GRPOTrainer.__module__)
        if _UNSCORED_FILTER not in grpo_logger.filters:
            grpo_logger.addFilter(_UNSCORED_FILTER)
        super().__init__(*args, **kwargs)

    def _get_train_sampler(self, dataset=None):
        dataset = self.train_dataset if dataset is None else dataset
        return BlockRepeatSampler(
            len(dataset),
            mini_repeat_count=self.num_generations,
            batch_size=self.args.generation_batch_size // self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
            seed=self.args.seed,
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


class TrainLogCallback(TrainerCallback):
    """Write every Trainer log entry (TRL's metrics, the reward breakdown) to train_log.jsonl.

    At the start of a run the file is rewritten from the trainer state's log history: empty for a
    fresh run, the checkpoint's history for a resumed one. So entries a killed job wrote after
    its last checkpoint go, each step appears once, and the file is whole again even when the
    workflow removed it with the failed job's outputs.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @staticmethod
    def _line(entry: dict) -> str:
        return json.dumps({k: _jsonable(v) for k, v in entry.items()}) + "\n"

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        history = [e for e in state.log_history if e.get("step", 0) <= state.global_step]
        self.path.write_text("".join(self._line(e) for e in history))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        with self.path.open("a") as f:
            f.write(self._line({"step": state.global_step, "epoch": state.epoch, **logs}))


class TrimStepLogCallback(TrainerCallback):
    """At the start of a run keep only the lines of a step-keyed JSONL file (rollouts.jsonl) up to
    the step training starts from: what a killed job wrote after its last checkpoint is redone."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero or not self.path.exists():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                step = json.loads(line).get("step", 0)
            except json.JSONDecodeError:
                continue  # a line cut short when the previous job was killed
            if step <= state.global_step:
                kept.append(line + "\n")
        self.path.write_text("".join(kept))


class ResumeInfoCallback(TrainerCallback):
    """Record where this process started (0 or the resumed checkpoint's step) in run_info.json."""

    def __init__(self, path: str | os.PathLike, resumed_from: str | None):
        self.path = Path(path)
        self.resumed_from = resumed_from

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        info = json.loads(self.path.read_text()) if self.path.exists() else {"starts": []}
        info["starts"].append({"start_step": state.global_step, "resumed_from": self.resumed_from})
        self.path.write_text(json.dumps(info, indent=2) + "\n")


class TrainingPreempted(RuntimeError):
    """The job was asked to stop (SIGTERM/SIGUSR1); a checkpoint was saved for the rerun."""


class PreemptionCallback(TrainerCallback):
    """On SIGTERM or SIGUSR1 (SLURM preemption, scancel, time limit warning), save a checkpoint at
    the end of the current optimizer step and stop, so the requeued job loses no finished step.

    The request is combined across processes (max over ranks) before acting, so every rank
    saves and stops at the same step. `preempted` tells the caller not to write final/.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

    def __init__(self):
        self.requested = False
        self.preempted = False
        self._previous: dict[int, Any] = {}

    def _handler(self, signum, frame):
        self.requested = True

    def on_train_begin(self, args, state, control, **kwargs):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handler)

    def on_step_end(self, args, state, control, **kwargs):
        requested = self.requested
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            flag = torch.tensor([float(requested)], device=args.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            requested = bool(flag.item())
        if requested:
            self.preempted = True
            control.should_save = True
            control.should_training_stop = True

    def on_train_end(self, args, state, control, **kwargs):
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
