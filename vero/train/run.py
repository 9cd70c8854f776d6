"""One training job: `run_experiment(config, experiment, output_dir, mix_path, base_model)`.

Writes, under `output_dir` (runs/{experiment}/, docs/architecture.md):
  checkpoint-{N}/        model + processor + optimizer/scheduler/RNG state every save_steps
  final/                 the trained model + processor (the train rule's output)
  train_log.jsonl        every logged step: TRL's metrics (reward, reward_std, entropy,
                         completion lengths, clip ratios, ...) and the reward breakdown per category
  rollouts.jsonl         a few scored rollouts per reward call (id, category, completion, reward)
  resolved_config.json   the experiment's resolved config and the TRL settings derived from it
  data_report.json       rows read / kept / dropped per reason code from the mix file
  run_info.json          where each (re)start began, to see resumptions
  wandb_run_id.txt       the experiment's W&B run id, reused when the job resumes

A rerun of a killed job continues from the newest checkpoint-* (trainer state, optimizer,
scheduler, RNG) unless `resume="never"`. On SIGTERM/SIGUSR1 (SLURM preemption) the job saves a
checkpoint at the end of the current step and raises `TrainingPreempted` instead of writing final/.
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

from vero.config import ConfigError, resolve_experiment
from vero.serving import BASE_URL_ENV as JUDGE_BASE_URL_ENV  # set when the judge is served in this job
from vero.train.data import load_mix
from vero.train.sampler import check_block_alignment
from vero.train.trl_config import (
    batch_geometry,
    grpo_config_kwargs,
    max_completion_length,
    sft_config_kwargs,
    world_size_from_env,
)


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def latest_checkpoint(output_dir: str | Path) -> str | None:
    """The newest complete checkpoint-N directory (one with trainer_state.json), or None."""
    best, best_step = None, -1
    for d in Path(output_dir).glob("checkpoint-*"):
        step = d.name.split("-", 1)[1]
        if step.isdigit() and (d / "trainer_state.json").is_file() and int(step) > best_step:
            best, best_step = str(d), int(step)
    return best


class RolloutRecorder:
    """Wraps the TRL reward: logs each batch's category shares and writes a few scored rollouts."""

    def __init__(self, reward_fn, path: str | Path | None, samples_per_call: int, seed: int = 0):
        self.reward_fn = reward_fn
        self.__name__ = getattr(reward_fn, "__name__", "reward")
        self.path = Path(path) if path else None
        self.samples_per_call = samples_per_call
        self.seed = seed

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
        if self.path is not None and self.samples_per_call and is_main_process():
            self._write(completions or [], rewards, columns)
        return rewards

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


def _judge_for(reward_cfg: Mapping) -> Any:
    judge_cfg = dict(reward_cfg.get("judge") or {})
    if not judge_cfg.get("enabled", False):
        return None
    from vero.rewards import JudgeClient

    if os.environ.get(JUDGE_BASE_URL_ENV):
        judge_cfg["base_url"] = os.environ[JUDGE_BASE_URL_ENV]
    return JudgeClient.from_config(judge_cfg)


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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


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
) -> str:
    """Train one experiment of `config` (a validated config dict); returns the final model directory."""
    from vero.runtime import setup_cpu

    setup_cpu()
    import torch
    from transformers import set_seed

    from vero.models import coords_for, load_model_and_processor, model_load_kwargs
    from vero.train.trainer import (
        PreemptionCallback,
        ResumeInfoCallback,
        TrainingPreempted,
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
    if report.dropped:
        print(f"[vero.train] {mix_path}: dropped {dict(report.dropped)}", file=sys.stderr)

    tracked = _start_tracking(resolved, output_dir)
    report_to = "wandb" if tracked is not None and tracked.active else "none"
    common = {"num_processes": processes, "report_to": report_to, "use_cpu": use_cpu, "run_name": experiment}
    if train["trainer"] == "rl":
        trl_kwargs = grpo_config_kwargs(resolved, str(output_dir), **common)
        derived = {"batch_geometry": batch_geometry(train, processes).as_dict()}
    else:
        trl_kwargs = sft_config_kwargs(resolved, str(output_dir), **common)
        derived = {}
    if is_main_process():
        _write_json(output_dir / "data_report.json", report.as_dict())
        _write_json(
            output_dir / "resolved_config.json",
            {"experiment": resolved, "trl_args": trl_kwargs, **derived, "base_model": str(base_model)},
        )

    model, processor = load_model_and_processor(str(base_model), **model_load_kwargs(resolved))
    preemption = PreemptionCallback()
    all_callbacks = [
        preemption,
        TrainLogCallback(output_dir / "train_log.jsonl"),
        TrimStepLogCallback(output_dir / "rollouts.jsonl"),
        ResumeInfoCallback(output_dir / "run_info.json", checkpoint),
        *callbacks,
    ]
    trainer = _make_trainer(resolved, trl_kwargs, model, processor, dataset, all_callbacks, output_dir)
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
        if preemption.preempted:
            raise TrainingPreempted(
                f"{experiment}: stopped by a signal at step {trainer.state.global_step}; the checkpoint "
                f"is saved in {output_dir} and a rerun resumes from it"
            )
        final_dir = _save_final(trainer, processor, output_dir)
        if tracked is not None:
            tracked.summary_update({"final_dir": final_dir, "global_step": trainer.state.global_step})
    finally:
        if tracked is not None:
            tracked.finish()
    return final_dir


def _make_trainer(resolved, trl_kwargs, model, processor, dataset, callbacks, output_dir):
    train = resolved["train"]
    if train["trainer"] == "sft":
        from trl import SFTConfig, SFTTrainer

        return SFTTrainer(
            model=model,
            args=SFTConfig(**trl_kwargs),
            train_dataset=dataset,
            processing_class=processor,
            callbacks=callbacks,
        )
    from trl import GRPOConfig

    from vero.models import coords_for
    from vero.rewards import make_trl_reward
    from vero.train.trainer import VeroGRPOTrainer

    reward = make_trl_reward(
        resolved["reward"],
        coords=coords_for(resolved["model"]["family"]),
        max_completion_tokens=max_completion_length(resolved),
        judge=_judge_for(resolved["reward"]),
        mode=train["reward"],
    )
    recorder = RolloutRecorder(
        reward,
        Path(output_dir) / "rollouts.jsonl",
        int(train.get("rollout_log_samples", 0)),
        seed=int(resolved.get("seed", 0)),
    )
    return VeroGRPOTrainer(
        model=model,
        reward_funcs=[recorder],
        args=GRPOConfig(**trl_kwargs),
        train_dataset=dataset,
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
