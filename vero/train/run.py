"""One training job: `run_experiment(config, experiment, output_dir, mix_path, base_model)`.

Writes, under `output_dir` (runs/{experiment}/, docs/architecture.md):
  checkpoint-{N}/        model + processor + optimizer/scheduler/RNG state every save_steps
  final/                 the trained model + processor (the train rule's output)
  train_log.jsonl        every logged step: TRL's metrics (reward, reward_std, entropy,
                         completion lengths, clip ratios, ...) and the reward breakdown per category;
                         with train.validation on, rows of kind "validation" (TRL's evaluation on
                         the held-out split: eval_reward/category/<category>/<term>)
  rollouts.jsonl         a few scored rollouts per reward call (id, category, completion, reward)
  resolved_config.json   the experiment's resolved config and the TRL settings derived from it
  data_report.json       rows read / kept / dropped per reason code from the mix file
  run_info.json          where each (re)start began, to see resumptions
  wandb_run_id.txt       the experiment's W&B run id, reused when the job resumes

A rerun of a killed job continues from the newest complete checkpoint-* (trainer state, optimizer,
scheduler, RNG) unless `resume="never"`. On a stop signal (SIGTERM, SIGUSR1, SIGINT, SIGURG:
vero.train.trainer.STOP_SIGNALS) the job saves a checkpoint at the end of the current rollout batch
and raises `TrainingPreempted` instead of writing final/. On CPU the resumed run then matches an
uninterrupted one step for step (tests/test_faults.py); with vLLM rollouts it does not (vLLM's
sampling state is not part of a checkpoint).

When the experiment has judge-type samples and `reward.judge.enabled`, the judge endpoint is checked
before the model is loaded (`vero.rewards.judge.preflight`), and a judge reply without a usable score
leaves its sample out of the loss and is counted per step (`judge_unparsed`, `judge_out_of_range`).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vero.config import ConfigError, resolve_experiment, schema_default
from vero.io import write_json
from vero.serving import BASE_URL_ENV as JUDGE_BASE_URL_ENV  # set when the judge is served in this job
from vero.train.data import load_mix
from vero.train.sampler import check_block_alignment
from vero.train.trl_config import (
    batch_geometry,
    grpo_config_kwargs,
    max_completion_length,
    sft_config_kwargs,
    suppress_vision_placeholders,
    world_size_from_env,
)


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def checkpoint_is_complete(path: str | Path) -> bool:
    """transformers writes trainer_state.json last: a checkpoint is complete when that file parses and
    names the directory's step. A save cut short (disk full, a kill) leaves it missing or truncated."""
    path = Path(path)
    step = path.name.split("-", 1)[-1]
    try:
        state = json.loads((path / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return step.isdigit() and isinstance(state, dict) and state.get("global_step") == int(step)


def validation_missed(checkpoint: str | Path, eval_steps: int, max_steps: int) -> bool:
    """Whether the validation due at a checkpoint's step is missing from its log history: a stop
    signal skips the validation of the step it saves at (PreemptionCallback), so the resumed run
    makes it up before its first step. Due at step N when N % eval_steps == 0 or N == max_steps."""
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    step = int(state.get("global_step", 0))
    if step == 0 or (step % eval_steps and step < max_steps):
        return False
    logged = (e for e in state.get("log_history", []) if e.get("step") == step)
    return not any(str(k).startswith("eval_") for e in logged for k in e)


def latest_checkpoint(output_dir: str | Path) -> str | None:
    """The newest complete checkpoint-N directory (`checkpoint_is_complete`), or None. Incomplete
    ones are named on stderr and left alone."""
    candidates = []
    for d in Path(output_dir).glob("checkpoint-*"):
        step = d.name.split("-", 1)[1]
        if step.isdigit() and d.is_dir():
            candidates.append((int(step), d))
    for _, d in sorted(candidates, reverse=True):
        if checkpoint_is_complete(d):
            return str(d)
        print(
            f"[vero.train] {d} is incomplete (no readable trainer_state.json); not resuming from it",
            file=sys.stderr,
        )
    return None


class RolloutRecorder:
    """Wraps the TRL reward: logs each batch's category shares and writes a few scored rollouts."""

    def __init__(self, reward_fn, path: str | Path | None, samples_per_call: int, seed: int = 0, judge=None):
        self.reward_fn = reward_fn
        self.__name__ = getattr(reward_fn, "__name__", "reward")
        self.path = Path(path) if path else None
        self.samples_per_call = samples_per_call
        self.seed = seed
        self.judge = judge  # a TrainingJudge: its per-call counts are logged with the batch
        # a list while the trainer validates (VeroGRPOTrainer.evaluate): one row per scored sample
        self.validation: list[dict] | None = None

    def __call__(self, prompts=None, completions=None, completion_ids=None, **columns) -> list[float | None]:
        rewards = self.reward_fn(
            prompts=prompts, completions=completions, completion_ids=completion_ids, **columns
        )
        categories = list(columns.get("category") or [])
        log_metric = columns.get("log_metric")
        if categories and callable(log_metric):
            counts = Counter(categories)
            for cat, k in sorted(counts.items()):
                log_metric(f"batch/category_share/{cat}", k / len(categories))
        if self.judge is not None:
            judge_counts = _sum_over_processes(self.judge.take_counts())
            if callable(log_metric):
                for name, value in judge_counts.items():
                    log_metric(name, float(value))
        if self.validation is not None:
            self._collect(rewards, columns)
        elif self.path is not None and self.samples_per_call and is_main_process():
            self._write(completions or [], rewards, columns)
        return rewards

    def start_validation(self) -> None:
        """Collect validation rows from now on (VeroGRPOTrainer.evaluate), with the reward's running
        self-evaluation monitor swapped for a fresh one, so the training's running rate counts
        training rollouts only and the validation reports its own."""
        self.validation = []
        monitor = getattr(self.reward_fn, "hacking", None)
        if monitor is not None:
            self._training_monitor = monitor
            self.reward_fn.hacking = type(monitor)()

    def end_validation(self) -> None:
        self.validation = None
        monitor = self.__dict__.pop("_training_monitor", None)
        if monitor is not None:
            self.reward_fn.hacking = monitor

    def _collect(self, rewards: Sequence, columns: Mapping[str, Any]) -> None:
        """One validation row per sample: id, category, the reward and its terms (the Vero reward's
        breakdown, when the reward function keeps one)."""
        breakdowns = getattr(self.reward_fn, "last_breakdowns", None) or [None] * len(rewards)
        ids = columns.get("id") or [None] * len(rewards)
        cats = columns.get("category") or [None] * len(rewards)
        for i, reward in enumerate(rewards):
            b = breakdowns[i] if i < len(breakdowns) else None
            self.validation.append(
                {
                    "id": ids[i],
                    "category": cats[i],
                    "reward": reward,
                    **{t: getattr(b, t, None) for t in ("accuracy", "format", "overlong")},
                }
            )

    def _write(self, completions: Sequence, rewards: Sequence, columns: Mapping[str, Any]) -> None:
        from vero.rewards import completion_text

        state = columns.get("trainer_state")
        step = int(getattr(state, "global_step", 0)) + 1  # the update these rollouts feed
        rng = random.Random(self.seed * 7919 + step)
        picks = sorted(rng.sample(range(len(completions)), min(self.samples_per_call, len(completions))))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            for i in picks:
                row = {
                    "step": step,
                    "id": (columns.get("id") or [None] * len(completions))[i],
                    "category": (columns.get("category") or [None] * len(completions))[i],
                    "reward_type": (columns.get("reward_type") or [None] * len(completions))[i],
                    "completion": completion_text(completions[i]),
                    "reward": rewards[i],
                }
                f.write(json.dumps(row) + "\n")


def _sum_over_processes(counts: dict[str, int]) -> dict[str, int]:
    """Counts summed over the job's processes (every rank calls the reward at the same point)."""
    import torch

    if not (torch.distributed.is_available() and torch.distributed.is_initialized()) or not counts:
        return counts
    names = sorted(counts)
    backend = torch.distributed.get_backend()
    device = f"cuda:{torch.cuda.current_device()}" if backend == "nccl" else "cpu"
    t = torch.tensor([float(counts[n]) for n in names], device=device)
    torch.distributed.all_reduce(t)
    return {n: int(v) for n, v in zip(names, t.tolist(), strict=True)}


def _judge_for(reward_cfg: Mapping) -> Any:
    judge_cfg = dict(reward_cfg.get("judge") or {})
    if not judge_cfg.get("enabled", False):
        return None
    from vero.rewards import JudgeClient

    if os.environ.get(JUDGE_BASE_URL_ENV):
        judge_cfg["base_url"] = os.environ[JUDGE_BASE_URL_ENV]
    return JudgeClient.from_config(judge_cfg)


def needs_judge(dataset, reward_mode: str = "vero") -> bool:
    """Whether any row of a training dataset is scored by the judge."""
    from vero.rewards.types import JUDGE_REWARD_TYPES

    if reward_mode != "vero" or "reward_type" not in getattr(dataset, "column_names", ()):
        return False
    return bool(set(dataset.unique("reward_type")) & set(JUDGE_REWARD_TYPES))


def check_judge(resolved: Mapping, dataset) -> Any:
    """The judge client for this experiment after `preflight` passed, or None when the experiment
    has no judge or no judge-type row. Raises JudgeUnavailable / JudgeError naming the endpoint."""
    train = resolved["train"]
    client = _judge_for(resolved["reward"])
    if client is None or train["trainer"] != "rl" or not needs_judge(dataset, train.get("reward", "vero")):
        return None
    if not is_main_process():  # one check per job: the first process's (same endpoint)
        return client
    from vero.rewards.judge import preflight

    serve = resolved["reward"]["judge"].get("serve") or {}
    root = os.environ.get(JUDGE_BASE_URL_ENV, "").removesuffix("/v1").rstrip("/")
    asleep = bool(serve.get("enabled") and serve.get("layout") == "shared" and root)
    if asleep:  # a judge sharing the training GPUs sleeps until rewards are scored (vero.serving)
        from vero.train.release import _post

        _post(f"{root}/wake_up")
    try:
        report = preflight(client)
    finally:
        if asleep:
            _post(f"{root}/sleep?level={int(serve.get('sleep_level', 1))}")
    print(
        f"[vero.train] judge {client.endpoint} ({client.model}) answered the preflight probe with SCORE "
        f"{report.probe.raw_score} in {report.seconds:.1f} s; a request with no answer fails after "
        f"{client.seconds_to_fail:g} s",
        file=sys.stderr,
    )
    return client


def _start_tracking(resolved: Mapping, output_dir: Path):
    """The experiment's W&B run. Its id is kept in the run directory, so a resumed job (after
    preemption) continues the same run instead of opening a second one."""
    from vero.tracking import init_run

    if not is_main_process():
        return None
    id_file = output_dir / "wandb_run_id.txt"
    if id_file.is_file() and id_file.read_text().strip():
        run_id = id_file.read_text().strip()
    else:
        run_id = f"{resolved['name']}-{uuid.uuid4().hex[:8]}"
        output_dir.mkdir(parents=True, exist_ok=True)
        id_file.write_text(run_id + "\n")
    # wandb.init reads these; set only around the call so nothing else in the process sees them
    saved = {k: os.environ.get(k) for k in ("WANDB_RUN_ID", "WANDB_RESUME")}
    os.environ.update(WANDB_RUN_ID=run_id, WANDB_RESUME="allow")
    try:
        return init_run(
            experiment=resolved["name"],
            group=resolved["ablation"],
            job_type="train",
            config=resolved,
            wandb_cfg=resolved.get("wandb"),
        )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _write_json(path: Path, obj: Any) -> None:
    write_json(path, obj, sort_keys=True)


# Long: the training job's sequence (resolve, load, build trainer and callbacks, resume, train, save)
#   sharing the model, processor and trainer; each step is already a call
def run_experiment(
    config: Mapping,
    experiment: str,
    output_dir: str | Path,
    mix_path: str | Path,
    base_model: str | Path,
    *,
    resume: str | None = None,
    callbacks: Sequence = (),
    num_processes: int | None = None,
    heldout: Sequence[str | Path] = (),
) -> str:
    """Train one experiment of `config` (a validated config dict); returns the final model directory.

    `heldout`: the held-out split files (data/heldout/{category}.parquet) the RL trainer validates on
    when `train.validation.every_steps` is set (vero.train.data.load_validation_set)."""
    from vero.runtime import setup_cpu

    setup_cpu()
    import torch
    from transformers import set_seed

    from vero.models import coords_for, load_model_and_processor, model_load_kwargs
    from vero.train.trainer import (
        PreemptionCallback,
        ResumeInfoCallback,
        TrainLogCallback,
        TrimStepLogCallback,
    )

    resolved = resolve_experiment(config, experiment)
    train = resolved["train"]
    output_dir = Path(output_dir)
    resume = resume or train.get("resume", "auto")
    if resume not in ("auto", "never"):
        raise ConfigError(f"config key 'train.resume': {resume!r} is not one of ['auto', 'never']")
    processes = num_processes or world_size_from_env()
    use_cpu = not torch.cuda.is_available()
    if not use_cpu:  # the memory plan must fit before a GPU is used (vero.plan names the key)
        from vero.plan import check_fits

        check_fits(resolved, num_processes=processes, base_model=base_model)
    single_category = len(resolved["categories"]) == 1
    if train["trainer"] == "rl":
        check_block_alignment(
            train["batch_size"], resolved["mix"]["batch_size"], single_category=single_category
        )
    family = resolved["model"]["family"]
    coords = coords_for(family)
    set_seed(int(resolved.get("seed", 0)))

    if resume == "never" and is_main_process():
        for d in output_dir.glob("checkpoint-*"):
            shutil.rmtree(d, ignore_errors=True)
        for name in ("train_log.jsonl", "rollouts.jsonl", "run_info.json", "wandb_run_id.txt"):
            (output_dir / name).unlink(missing_ok=True)
    checkpoint = latest_checkpoint(output_dir) if resume == "auto" else None
    if checkpoint:
        print(f"[vero.train] resuming {experiment} from {checkpoint}", file=sys.stderr)

    from accelerate import PartialState

    with PartialState().main_process_first():  # rank 0 fills the datasets cache, the others reuse it
        dataset, report = load_mix(
            mix_path,
            mix_batch_size=int(resolved["mix"]["batch_size"]),
            single_category=single_category,
            system_prompt=train.get("system_prompt"),
            prompt=(config.get("data") or {}).get("prompt"),
            trainer=train["trainer"],
            coords=coords,
        )
        judge = check_judge(resolved, dataset)  # before any model file is read: a dead judge fails in seconds
        if train["trainer"] == "rl":  # over-long prompts go at data time (vero.train.data)
            from vero.train.data import filter_overlong_prompts_for

            dataset = filter_overlong_prompts_for(resolved, dataset, report, str(base_model))
        eval_dataset, eval_reports = None, {}
        if train["trainer"] == "rl" and (train.get("validation") or {}).get("every_steps"):
            if not heldout:
                raise ConfigError(
                    "config key 'train.validation.every_steps': validation is on but no held-out files "
                    "were given (the train rule passes data/heldout/{category}.parquet)"
                )
            from vero.train.data import load_validation_set

            eval_dataset, eval_reports = load_validation_set(
                resolved, heldout, base_model=str(base_model), prompt=(config.get("data") or {}).get("prompt")
            )
    if report.dropped:
        print(f"[vero.train] {mix_path}: dropped {dict(report.dropped)}", file=sys.stderr)

    tracked = _start_tracking(resolved, output_dir)
    # TRL and transformers never talk to W&B themselves (report_to "none"): TRL logs its profiling
    # timings straight to wandb.log inside the training step, so a W&B service that died first (it
    # gets the same SIGTERM under SLURM) would fail that step. The run's metrics reach W&B through
    # FaultTolerantWandbCallback instead (_use_fault_tolerant_wandb).
    common = {"num_processes": processes, "report_to": "none", "use_cpu": use_cpu, "run_name": experiment}
    if train["trainer"] == "rl":
        trl_kwargs = grpo_config_kwargs(resolved, str(output_dir), **common)
        derived = {"batch_geometry": batch_geometry(train, processes).as_dict()}
        updates_per_batch = derived["batch_geometry"]["updates_per_batch"]
    else:
        trl_kwargs = sft_config_kwargs(resolved, str(output_dir), **common)
        derived = {}
        updates_per_batch = 1
    if checkpoint and trl_kwargs.get("eval_strategy") == "steps":
        # validated before its first step already; a validation a stop signal skipped is made up
        trl_kwargs["eval_on_start"] = validation_missed(
            checkpoint, int(trl_kwargs["eval_steps"]), int(trl_kwargs["max_steps"])
        )
    if is_main_process():
        data_report = report.as_dict()
        if eval_reports:
            data_report["validation"] = {p: r.as_dict() for p, r in eval_reports.items()}
        _write_json(output_dir / "data_report.json", data_report)
        _write_json(
            output_dir / "resolved_config.json",
            {
                "experiment": resolved,
                "trl_args": trl_kwargs,
                **derived,
                "base_model": str(base_model),
                "metrics_to_wandb": bool(tracked is not None and tracked.active),
            },
        )

    model, processor = load_model_and_processor(str(base_model), **model_load_kwargs(resolved))
    preemption = PreemptionCallback(updates_per_batch)
    all_callbacks = [
        preemption,
        TrainLogCallback(output_dir / "train_log.jsonl"),
        TrimStepLogCallback(output_dir / "rollouts.jsonl"),
        ResumeInfoCallback(output_dir / "run_info.json", checkpoint),
        *callbacks,
    ]
    trainer = _make_trainer(
        resolved,
        trl_kwargs,
        model,
        processor,
        dataset,
        all_callbacks,
        output_dir,
        judge=judge,
        eval_dataset=eval_dataset,
    )
    if tracked is not None and tracked.active:
        _use_fault_tolerant_wandb(trainer)
    try:
        train_until_stopped(trainer, preemption, output_dir, checkpoint, experiment)
        # A stop signal from here on is noted and otherwise ignored: the run is trained, and
        # writing final/ takes less than training it again would.
        preemption.training_done = True
        preemption.install()
        final_dir = _save_final(trainer, processor, output_dir)
        if tracked is not None:
            tracked.summary_update({"final_dir": final_dir, "global_step": trainer.state.global_step})
    finally:
        if tracked is not None:
            tracked.finish()
        preemption.restore()
    return final_dir


def train_until_stopped(
    trainer, preemption, output_dir: Path, checkpoint: str | None, experiment: str
) -> None:
    """`trainer.train()`, raising TrainingPreempted (after the checkpoint is on disk) when a stop
    signal ended it (`preemption` is the trainer's PreemptionCallback)."""
    from vero.train.trainer import TrainingPreempted

    start_step = int(Path(checkpoint).name.split("-")[-1]) if checkpoint else 0
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
    except Exception as exc:
        if not preemption.requested:
            raise
        # The stop was asked for and then the step failed (its judge server or a peer got the same
        # signal and went first): the weights are still those of the last finished step, keep them.
        import traceback

        print(
            f"[vero.train] step {trainer.state.global_step + 1} failed after {preemption.signal_name}:",
            file=sys.stderr,
        )
        traceback.print_exception(exc, file=sys.stderr)
        saved = _save_on_the_way_out(trainer, preemption, output_dir)
        where = (
            f"{saved} holds every finished step and a rerun resumes from it"
            if saved
            else "no checkpoint could be saved on the way out; a rerun resumes from the newest saved one"
        )
        raise TrainingPreempted(
            f"{experiment}: stopped by {preemption.signal_name}; step {trainer.state.global_step + 1} "
            f"failed after the request ({type(exc).__name__}: {exc}); {where}",
            signal_name=preemption.signal_name,
            step=trainer.state.global_step,
            start_step=start_step,
        ) from exc
    finally:
        preemption.restore()
    if preemption.preempted:
        raise TrainingPreempted(
            f"{experiment}: stopped by {preemption.signal_name} at step {trainer.state.global_step}; "
            f"{output_dir}/checkpoint-{trainer.state.global_step} holds every finished step and a "
            "rerun resumes from it",
            signal_name=preemption.signal_name,
            step=trainer.state.global_step,
            start_step=start_step,
        )


def _use_fault_tolerant_wandb(trainer) -> None:
    """Log the run's metrics to W&B through a callback whose failures never stop training
    (vero.train.trainer.FaultTolerantWandbCallback), in place of transformers' own."""
    from transformers.integrations import WandbCallback

    from vero.train.trainer import FaultTolerantWandbCallback

    trainer.pop_callback(WandbCallback)
    trainer.add_callback(FaultTolerantWandbCallback())


def _save_on_the_way_out(trainer, preemption, output_dir: Path) -> str | None:
    """Save the last finished step after a failure that followed a stop request, when that is safe:
    one process (several would need every peer in the collective save), the weights not halfway
    through an optimizer update, and no checkpoint of this step yet. Returns the directory."""
    step = trainer.state.global_step
    folder = output_dir / f"checkpoint-{step}"
    if checkpoint_is_complete(folder):
        return str(folder)
    if step == 0 or preemption.in_update or trainer.accelerator.num_processes != 1:
        return None
    trainer.model.zero_grad(set_to_none=True)
    preemption.restore_rng()
    trainer._save_checkpoint(trainer.model, trial=None)
    return str(folder)


def _make_trainer(
    resolved, trl_kwargs, model, processor, dataset, callbacks, output_dir, judge=None, eval_dataset=None
):
    train = resolved["train"]
    if train["trainer"] == "sft":
        from trl import SFTConfig

        from vero.train.trainer import VeroSFTTrainer

        return VeroSFTTrainer(
            model=model,
            args=SFTConfig(**trl_kwargs),
            train_dataset=dataset,
            processing_class=processor,
            callbacks=callbacks,
        )
    from vero.models import coords_for
    from vero.rewards import make_trl_reward
    from vero.rewards.judge import TrainingJudge
    from vero.train.release import VeroGRPOConfig
    from vero.train.trainer import VeroGRPOTrainer

    trl_kwargs = {
        **trl_kwargs,
        "generation_kwargs": suppress_vision_placeholders(
            trl_kwargs.get("generation_kwargs"), model.config, use_vllm=bool(trl_kwargs.get("use_vllm"))
        ),
    }
    training_judge = TrainingJudge(judge) if judge is not None else None
    reward = make_trl_reward(
        resolved["reward"],
        coords=coords_for(resolved["model"]["family"]),
        max_completion_tokens=max_completion_length(resolved),
        judge=training_judge,
        mode=train["reward"],
    )
    recorder = RolloutRecorder(
        reward,
        Path(output_dir) / "rollouts.jsonl",
        int(train.get("rollout_log_samples", schema_default("train.rollout_log_samples"))),
        seed=int(resolved.get("seed", 0)),
        judge=training_judge,
    )
    return VeroGRPOTrainer(
        model=model,
        reward_funcs=[recorder],
        args=VeroGRPOConfig(**trl_kwargs),
        train_dataset=dataset,
        eval_dataset=eval_dataset,
        processing_class=processor,
        callbacks=callbacks,
    )


def _save_final(trainer, processor, output_dir: Path) -> str:
    """Save the final model + processor; written to final.tmp and renamed so final/ is never partial."""
    final_dir = output_dir / "final"
    tmp_dir = output_dir / "final.tmp"
    if trainer.is_world_process_zero():
        shutil.rmtree(tmp_dir, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(tmp_dir))  # every process takes part (FSDP / ZeRO-3 gather the weights)
    if trainer.is_world_process_zero():
        processor.save_pretrained(str(tmp_dir))
        _write_json(tmp_dir / "train_summary.json", {"global_step": trainer.state.global_step})
        shutil.rmtree(final_dir, ignore_errors=True)
        os.replace(tmp_dir, final_dir)
    trainer.accelerator.wait_for_everyone()
    return str(final_dir)
