"""TRL trainers as this project uses them, and the callbacks that write the run's logs.

`VeroGRPOTrainer` is TRL's GRPOTrainer with two changes: rollout batches come from consecutive
rows of the mix (`BlockRepeatSampler`) instead of a global shuffle, so each batch keeps the
category shares the data stage built in; and checkpoints are guarded (`CheckpointGuard`: a save
that fails names the directory and the OS reason, and leaves no partial checkpoint behind).
Everything else (generation, GSPO loss, vLLM, checkpointing) is TRL's. `VeroSFTTrainer` is TRL's
SFTTrainer with the same checkpoint guard.

Stopping on a signal (`PreemptionCallback`): SIGTERM (SLURM preemption, requeue, scancel, time
limit), SIGUSR1 (a manual checkpoint request), SIGINT (Ctrl-C; a second one aborts at once) and
SIGURG (the early warning the SLURM profile asks for with `--signal`, profiles/README.md) each
ask the run to save a checkpoint at the end of the current rollout batch and stop. Nothing else
in the job has to outlive the signal for that: W&B failures are caught (`FaultTolerantWandbCallback`),
and a step that fails after the request (e.g. its judge server got the same SIGTERM) still leaves
the previous step's state, which run.py saves on the way out.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import random
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback
from transformers.integrations import WandbCallback
from trl import GRPOTrainer, SFTTrainer

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


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the message names the directory and the OS reason."""


def describe_write_failure(path: str | os.PathLike, exc: BaseException) -> str:
    """Why writing under `path` failed, in words that name the path: the OS error when there is one,
    else what the filesystem says (full, read-only). torch.save and safetensors report a full disk
    as `basic_ios::clear: iostream error` or a bare IoError without any path."""
    path = Path(path)
    if isinstance(exc, OSError) and exc.errno is not None:
        where = exc.filename or path
        return f"{where}: {os.strerror(exc.errno)} ([Errno {exc.errno}])"
    probe = path if path.exists() else next((p for p in path.parents if p.exists()), path)
    reason = f"{type(exc).__name__}: {exc}"
    try:
        usage = shutil.disk_usage(probe)
        if usage.free < 1 << 20:
            return (
                f"{path}: {os.strerror(errno.ENOSPC)} ({usage.free} bytes free of {usage.total} on the "
                f"filesystem of {probe}); {reason}"
            )
        st = os.statvfs(probe)
        if st.f_flag & os.ST_RDONLY:
            return f"{path}: {os.strerror(errno.EROFS)}; {reason}"
    except OSError:
        pass
    return f"{path}: {reason}"


class CheckpointGuard:
    """Mixin for transformers Trainers: `_save_checkpoint` either writes a complete checkpoint-N or
    raises CheckpointWriteError naming it, after removing what it wrote (so a full disk gets its
    space back and no partial directory is ever a resume candidate, `vero.train.run.latest_checkpoint`).
    transformers writes trainer_state.json last; a checkpoint counts as complete only when that file
    parses (run.py)."""

    def _save_checkpoint(self, model, trial):
        folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
        existed = folder.exists()
        try:
            super()._save_checkpoint(model, trial)
        except Exception as exc:
            message = describe_write_failure(folder, exc)
            if self.is_world_process_zero() and not existed:
                shutil.rmtree(folder, ignore_errors=True)
            raise CheckpointWriteError(
                errno.ENOSPC if "No space left" in message else getattr(exc, "errno", None) or errno.EIO,
                f"could not write checkpoint {folder}: {message}",
            ) from exc

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        """Load a checkpoint's weights the way `from_pretrained` does.

        save_pretrained writes the hub's parameter names (for Qwen2.5-VL `model.embed_tokens...`,
        where the loaded model has `model.language_model.embed_tokens...`); transformers' Trainer
        reads them back with a plain `load_state_dict(strict=False)`, which renames nothing: every
        key is "unexpected", the model keeps the base weights and a resumed run silently diverges
        (measured: reward differed at 38 of 40 steps after the resume point). FSDP and DeepSpeed
        checkpoints keep their own names and go through transformers as before.
        """
        model = self.model if model is None else model
        folder = Path(resume_from_checkpoint)
        names = ("model.safetensors", "model.safetensors.index.json")
        plain = any((folder / name).is_file() for name in names)
        if not plain or self.is_fsdp_enabled or self.is_deepspeed_enabled or not hasattr(model, "config"):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        dtype = next(model.parameters()).dtype
        reloaded = type(model).from_pretrained(str(folder), dtype=dtype)
        result = model.load_state_dict(reloaded.state_dict(), strict=False)
        del reloaded
        if result.missing_keys or result.unexpected_keys:
            raise RuntimeError(
                f"{folder}: the checkpoint's weights do not match the model (missing "
                f"{result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}); not resuming from "
                "weights that were not loaded"
            )

    def _init_training_state(self, *args, **kwargs):
        result = super()._init_training_state(*args, **kwargs)
        # TRL counts micro-steps in `_step` to know when to generate and which slice of the buffered
        # rollout batch to train on; it starts at 0 in a new process. Set it from the restored step, so
        # a run resumed from a checkpoint inside a rollout batch regenerates that batch and trains on
        # the right slices, and later generations fall on the rollout-batch boundaries again.
        if hasattr(self, "_step"):
            self._step = self.state.global_step * self.args.gradient_accumulation_steps
        return result


def reset_encoder_cache_on_sync(generation) -> bool:
    """After each weight sync of a colocated vLLM engine, drop its cached vision-encoder outputs.

    vLLM keeps encoder outputs (image embeddings) across requests, keyed by the image's hash. TRL's
    sync loads the new weights and resets the KV prefix cache only, so an image seen before the
    sync would be answered with embeddings of the old vision tower (the recipe trains it); on vLLM's
    CPU build the stale entry even fails the next step ("Encoder cache miss", tests/vllm). The
    engine's `reset_encoder_cache` clears the scheduler's and the worker's cache together. Server
    mode (TRL's vllm-serve) offers no such call; returns whether the hook was installed.
    """
    if generation is None or getattr(generation, "mode", None) != "colocate":
        return False
    sync = generation.sync_weights

    def sync_weights(*args, **kwargs):
        result = sync(*args, **kwargs)
        engine = getattr(getattr(generation, "llm", None), "llm_engine", None)
        if hasattr(engine, "reset_encoder_cache"):
            engine.reset_encoder_cache()
        return result

    generation.sync_weights = sync_weights
    return True


class VeroGRPOTrainer(CheckpointGuard, ReleaseSemanticsMixin, GRPOTrainer):
    """Advantage ε and the shared judge (vero.train.release.ReleaseSemanticsMixin), guarded
    checkpoints (CheckpointGuard), the mix's category-balanced rollout batches (the sampler)."""

    def __init__(self, *args, **kwargs):
        grpo_logger = logging.getLogger(GRPOTrainer.__module__)
        if _UNSCORED_FILTER not in grpo_logger.filters:
            grpo_logger.addFilter(_UNSCORED_FILTER)
        super().__init__(*args, **kwargs)
        reset_encoder_cache_on_sync(getattr(self, "vllm_generation", None))

    def evaluate(self, *args, **kwargs):
        """TRL's evaluation (generate on the eval set, score with the reward functions, log `eval_*`)
        at the validation sampling settings (VeroGRPOConfig.validation_temperature / _top_p; TRL
        would sample at the training temperature), with exact per-category means (`log`)."""
        temperature = getattr(self.args, "validation_temperature", None)
        with validation_sampling(self, temperature, getattr(self.args, "validation_top_p", None)):
            recorders = [f for f in self.reward_funcs if hasattr(f, "start_validation")]
            for f in recorders:
                f.start_validation()
            self._vero_validating = True
            try:
                return super().evaluate(*args, **kwargs)
            finally:
                self._vero_validating = False
                for f in recorders:
                    f.end_validation()

    def log(self, logs, start_time=None):
        if getattr(self, "_vero_validating", False):  # the evaluation's log: exact per-category means
            rows = [r for f in self.reward_funcs for r in (getattr(f, "validation", None) or [])]
            metrics = validation_metrics(
                _gather_rows(rows),
                num_generations=self.num_generations_eval,
                temperature=self.temperature,
                top_p=self.top_p,
            )
            self._metrics["eval"].update(metrics)
            if self.is_world_process_zero():
                print(validation_table(metrics, self.state.global_step), file=sys.stderr, flush=True)
        return super().log(logs, start_time)

    def _get_train_sampler(self, dataset=None):
        dataset = self.train_dataset if dataset is None else dataset
        return BlockRepeatSampler(
            len(dataset),
            mini_repeat_count=self.num_generations,
            batch_size=self.args.generation_batch_size // self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
            seed=self.args.seed,
        )


VALIDATION_TERMS = ("reward", "accuracy", "format", "overlong")


@contextlib.contextmanager
def validation_sampling(trainer, temperature: float | None, top_p: float | None):
    """Within the block, a GRPOTrainer samples at `temperature` / `top_p` (None keeps its own):
    TRL's own attributes (`temperature` also scales the log-probabilities TRL computes), the
    transformers generation config and kwargs, and the vLLM engine's sampling settings; all are
    put back afterwards."""
    values = {k: v for k, v in (("temperature", temperature), ("top_p", top_p)) if v is not None}
    targets = [trainer, *(getattr(trainer, a, None) for a in ("generation_config", "vllm_generation"))]
    saved = [(t, k, getattr(t, k)) for t in targets if t is not None for k in values if hasattr(t, k)]
    kwargs = getattr(trainer, "generation_kwargs", None)
    kwargs = kwargs if isinstance(kwargs, dict) else {}
    saved_kwargs = {k: kwargs[k] for k in values if k in kwargs}
    try:
        for t, k, _ in saved:
            setattr(t, k, values[k])
        kwargs.update({k: values[k] for k in saved_kwargs})
        yield
    finally:
        for t, k, v in reversed(saved):
            setattr(t, k, v)
        kwargs.update(saved_kwargs)


def _gather_rows(rows: list[dict]) -> list[dict]:
    """Every process's validation rows (each process scored its share of the held-out prompts)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return rows
    from accelerate.utils import gather_object

    return list(gather_object(rows))


def validation_metrics(
    rows: list[dict], *, num_generations: int, temperature: float, top_p: float | None
) -> dict[str, list[float]]:
    """Per-category validation means over every scored sample, in TRL's `_metrics` form.

    mean_c(term) = (1 / |S_c|) · Σ_{s ∈ S_c} term(s) for term in VALIDATION_TERMS, S_c the scored
    validation samples of category c (a judge sample without a score is left out, as in training);
    a prompt's samples beyond `num_generations` (the evaluation dataloader pads the last batch by
    repeating prompts) are dropped first, so each held-out prompt counts `num_generations` times.
    Keys are the training breakdown's: `reward` and `reward/<term>` over all categories,
    `reward/category/<c>/<term>` (the reward as `/total`), `/samples` and `/unscored` per category,
    plus the counts and sampling settings under `validation/`; TRL's `log` prefixes them with `eval_`.
    """
    from collections import Counter, defaultdict

    seen: Counter = Counter()
    unscored: Counter = Counter()
    groups: dict[str, list[dict]] = defaultdict(list)
    prompts = 0
    for r in rows:
        key = r.get("id")
        if key is not None:
            seen[key] += 1
            if seen[key] > num_generations:
                continue
            prompts += seen[key] == 1
        cat = str(r.get("category"))
        if r.get("reward") is None or (isinstance(r["reward"], float) and math.isnan(r["reward"])):
            unscored[cat] += 1
            continue
        groups[cat].append(r)
        groups["all"].append(r)
    out: dict[str, list[float]] = {
        "validation/prompts": [float(prompts)],
        "validation/samples": [float(len(groups.get("all", [])))],
        "validation/unscored": [float(sum(unscored.values()))],
        "validation/temperature": [float(temperature)],
    }
    for cat, k in sorted(unscored.items()):
        out[f"reward/category/{cat}/unscored"] = [float(k)]
    if top_p is not None:
        out["validation/top_p"] = [float(top_p)]
    for cat, items in sorted(groups.items()):
        for term in VALIDATION_TERMS:
            values = [float(r[term]) for r in items if r.get(term) is not None]
            if not values:
                continue
            if cat == "all":  # TRL's `reward` and the breakdown's reward/<term>, as sample means
                name = "reward" if term == "reward" else f"reward/{term}"
            else:
                name = f"reward/category/{cat}/" + ("total" if term == "reward" else term)
            out[name] = [sum(values) / len(values)]
        if cat != "all":
            out[f"reward/category/{cat}/samples"] = [float(len(items))]
    return out


def validation_table(metrics: dict[str, list[float]], step: int) -> str:
    """The job log's table of one validation: per category samples, mean reward and accuracy."""
    m = {k: v[0] for k, v in metrics.items()}
    cats = sorted({k.split("/")[2] for k in m if k.startswith("reward/category/")})
    lines = [
        f"[vero.train] validation after update {step} (temperature {m['validation/temperature']:g}, "
        f"{int(m['validation/prompts'])} prompts, {int(m['validation/unscored'])} unscored)",
        f"  {'category':<28}{'samples':>8}{'reward':>9}{'accuracy':>10}",
    ]
    for c in [*cats, "all"]:
        pre = "reward" if c == "all" else f"reward/category/{c}/total"
        acc = "reward/accuracy" if c == "all" else f"reward/category/{c}/accuracy"
        n = m["validation/samples"] if c == "all" else m.get(f"reward/category/{c}/samples", 0)
        fmt = lambda v: f"{v:.3f}" if v is not None else "-"  # noqa: E731
        lines.append(f"  {c:<28}{int(n):>8}{fmt(m.get(pre)):>9}{fmt(m.get(acc)):>10}")
    return "\n".join(lines)


class VeroSFTTrainer(CheckpointGuard, SFTTrainer):
    """TRL's SFTTrainer with guarded checkpoints (CheckpointGuard)."""


class FaultTolerantWandbCallback(WandbCallback):
    """transformers' W&B callback whose failures never reach the training loop.

    W&B's service is a separate process; under SLURM it receives the same SIGTERM as the trainer and
    may exit first, after which every W&B call raises ConnectionResetError. The stock callback would
    then crash the step that was about to save the preemption checkpoint. Here the first failure is
    reported once and W&B is off for the rest of the job; train_log.jsonl still gets every step, and
    the resumed job continues the same W&B run.
    """

    def __init__(self):
        super().__init__()
        self.broken: str | None = None


def _guarded(name: str):
    def method(self, *args, **kwargs):
        if self.broken is not None:
            return None
        try:
            return getattr(WandbCallback, name)(self, *args, **kwargs)
        except Exception as exc:  # W&B trouble must never fail the training job
            self.broken = f"{type(exc).__name__}: {exc}"
            print(
                f"[vero.train] W&B stopped working ({self.broken}); training goes on without it, "
                "train_log.jsonl keeps every step",
                file=sys.stderr,
                flush=True,
            )
            return None

    method.__name__ = name
    return method


for _name in [n for n in vars(TrainerCallback) if n.startswith("on_")] + ["setup"]:
    setattr(FaultTolerantWandbCallback, _name, _guarded(_name))


def _write(path: Path, text: str, mode: str = "w") -> None:
    """Write or append text; an OS error names the file (write errors alone do not)."""
    try:
        with path.open(mode) as f:
            f.write(text)
    except OSError as exc:
        if exc.filename:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


class TrainLogCallback(TrainerCallback):
    """Write every Trainer log entry (TRL's metrics, the reward breakdown) to train_log.jsonl.

    Entries of the in-training validation (TRL's evaluation: keys `eval_*`, train.validation) carry
    `"kind": "validation"`.

    At the start of a run the file is rewritten from the trainer state's log history: empty for a
    fresh run, the checkpoint's history for a resumed one. So entries a killed job wrote after
    its last checkpoint go, each step appears once, and the file is whole again even when the
    workflow removed it with the failed job's outputs.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @staticmethod
    def _line(entry: dict) -> str:
        if any(str(k).startswith("eval_") for k in entry):  # TRL's evaluation = in-training validation
            entry = {"kind": "validation", **entry}
        return json.dumps({k: _jsonable(v) for k, v in entry.items()}) + "\n"

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        history = [e for e in state.log_history if e.get("step", 0) <= state.global_step]
        _write(self.path, "".join(self._line(e) for e in history))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        if "train_loss" in logs:  # the Trainer's end-of-run summary
            logs = {**logs, "train_loss": _whole_run_loss(state.log_history, logs["train_loss"])}
        _write(self.path, self._line({"step": state.global_step, "epoch": state.epoch, **logs}), "a")


def _whole_run_loss(history: list[dict], fallback: float) -> float:
    """Mean training loss over every logged step of the run, each log entry weighted by the steps
    it covers. The Trainer's own `train_loss` averages only the steps this process trained, so a
    run resumed from a checkpoint would report another summary than the same run uninterrupted."""
    total, last = 0.0, 0
    for entry in history:
        if "loss" in entry and entry.get("step", 0) > last:
            total += float(entry["loss"]) * (entry["step"] - last)
            last = entry["step"]
    return total / last if last else fallback


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
        _write(self.path, "".join(kept))


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
        _write(self.path, json.dumps(info, indent=2) + "\n")


class TrainingPreempted(RuntimeError):
    """The job was asked to stop by a signal; a checkpoint was saved for the rerun.

    `signal_name` is the signal that asked; `requeue` is True for the SLURM time-limit warning
    (SIGURG), after which the job puts itself back in the queue (workflow_scripts/train.py)."""

    def __init__(
        self, message: str, *, signal_name: str | None = None, step: int | None = None, start_step: int = 0
    ):
        super().__init__(message)
        self.signal_name = signal_name
        self.step = step
        self.start_step = start_step  # where this process started (0, or the resumed checkpoint's step)

    @property
    def requeue(self) -> bool:
        """Put the job back in the queue: after the time-limit warning, once this start has made
        progress (a warning before the first step means the time limit is shorter than the warning's
        lead, and a requeue would only repeat that)."""
        return self.signal_name == "SIGURG" and (self.step or 0) > self.start_step


# What each signal means to a training job (README, "Preemption").
STOP_SIGNALS: dict[int, str] = {
    signal.SIGTERM: "SLURM preemption, requeue, scancel or time limit",
    signal.SIGUSR1: "checkpoint request",
    signal.SIGINT: "interrupt (Ctrl-C; a second one aborts without saving)",
    signal.SIGURG: "SLURM time-limit warning (sbatch --signal=URG@..., profiles/slurm)",
}


class PreemptionCallback(TrainerCallback):
    """On a stop signal (STOP_SIGNALS) save a checkpoint at the end of the current rollout batch and
    stop, so the requeued job loses no finished step.

    The stop waits for the rollout-batch boundary (`updates_per_batch` optimizer updates per rollout
    batch): a checkpoint there holds no half-used rollouts, so the resumed run continues exactly
    where this one stopped. The request is combined across processes (max over ranks) before acting,
    so every rank saves and stops at the same step. `preempted` tells the caller not to write final/;
    `in_update` is True while the optimizer is changing the weights (between on_pre_optimizer_step
    and on_step_end), the only time the state is not a finished step's.
    """

    SIGNALS = tuple(STOP_SIGNALS)

    def __init__(self, updates_per_batch: int = 1):
        self.updates_per_batch = max(1, int(updates_per_batch))
        self.requested = 0  # the first stop signal's number, 0 = none
        self.preempted = False
        self.in_update = False
        self._previous: dict[int, Any] = {}
        self._rng: dict[str, Any] | None = None  # RNG states at the end of the last finished step
        self.training_done = False  # set once train() has returned: a signal then only waits for final/

    @property
    def signal_name(self) -> str | None:
        return signal.Signals(self.requested).name if self.requested else None

    def _handler(self, signum, frame):
        if signum == signal.SIGINT and self.requested == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        if not self.requested:
            self.requested = signum
            then = (
                "training is done: writing final/ first"
                if self.training_done
                else "saving a checkpoint at the end of this rollout batch, then stopping"
            )
            print(
                f"[vero.train] {signal.Signals(signum).name} ({STOP_SIGNALS[signum]}): {then}",
                file=sys.stderr,
                flush=True,
            )

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread() and not self._previous:
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handler)

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def on_train_begin(self, args, state, control, **kwargs):
        self.install()

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self.in_update = True

    def restore_rng(self) -> None:
        """Put back the RNG states of the end of the last finished step (what a checkpoint saved then
        would hold), so a checkpoint written after a failed step resumes as exactly as a regular one."""
        if self._rng is None:
            return
        import numpy as np

        random.setstate(self._rng["python"])
        np.random.set_state(self._rng["numpy"])
        torch.set_rng_state(self._rng["cpu"])
        if "cuda" in self._rng:
            torch.cuda.set_rng_state_all(self._rng["cuda"])

    def _snapshot_rng(self) -> None:
        import numpy as np

        self._rng = {
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "cpu": torch.get_rng_state(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            self._rng["cuda"] = torch.cuda.get_rng_state_all()

    def on_evaluate(self, args, state, control, **kwargs):
        # a validation after the step draws random numbers; a regular checkpoint of this step holds
        # the states after it, so the one written on the way out must too
        self._snapshot_rng()

    def on_step_end(self, args, state, control, **kwargs):
        self.in_update = False
        self._snapshot_rng()
        requested = self.requested
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            flag = torch.tensor([float(requested)], device=args.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            requested = int(flag.item())
            self.requested = self.requested or requested
        at_boundary = state.global_step % self.updates_per_batch == 0 or state.global_step >= state.max_steps
        if requested and at_boundary:
            self.preempted = True
            control.should_save = True
            control.should_training_stop = True
            control.should_evaluate = False  # the checkpoint first: a validation due now is skipped

    def on_train_end(self, args, state, control, **kwargs):
        self.restore()
