"""Map a resolved experiment (`vero.config.resolve_experiment`) onto TRL's GRPOConfig / SFTConfig.

Units. Step counts in the `train:` config (`max_steps`, `save_steps`, `warmup_steps`) are recipe
steps, as in the public Vero (verl) config: one step = one rollout batch of `batch_size` prompts.
Each rollout batch is consumed in `batch_size / mini_batch_size` optimizer updates, so TRL's
`global_step` (and the `checkpoint-{N}` directory names) count optimizer updates:
N = recipe step x batch_size / mini_batch_size. In the CPU demo the two are equal.

Batch geometry, with n = num_generations and P processes (GPUs):
  completions per rollout batch     = batch_size x n           -> GRPOConfig.generation_batch_size
  completions per optimizer update  = mini_batch_size x n
  per_device_train_batch_size       = micro_batch_size (completions per forward/backward)
  gradient_accumulation_steps       = mini_batch_size x n / (P x micro_batch_size)
  steps_per_generation              = gradient_accumulation_steps x batch_size / mini_batch_size
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from vero.config import ConfigError, schema_default

# grpo_config_kwargs keys that are not TRL's (vero.train.release.VeroGRPOConfig adds them)
VERO_ONLY_KEYS = ("advantage_epsilon", "judge_sleep_level", "validation_temperature", "validation_top_p")

# Clip ranges per algorithm (docs/recipe.md#5-training; DAPO's clip-higher is 0.2 / 0.28 as in the DAPO
# paper).
ALGORITHMS: dict[str, dict[str, Any]] = {
    "gspo": {
        "importance_sampling_level": "sequence",
        "loss_type": "grpo",
        "epsilon": 3e-4,
        "epsilon_high": 4e-4,
    },
    "grpo": {"importance_sampling_level": "token", "loss_type": "grpo", "epsilon": 0.2, "epsilon_high": 0.2},
    "dapo": {"importance_sampling_level": "token", "loss_type": "dapo", "epsilon": 0.2, "epsilon_high": 0.28},
}


@dataclass(frozen=True)
class BatchGeometry:
    """How one rollout batch is split over processes, micro-batches and optimizer updates."""

    num_processes: int
    prompts_per_batch: int
    prompts_per_update: int
    num_generations: int
    per_device_train_batch_size: int
    gradient_accumulation_steps: int
    steps_per_generation: int
    updates_per_batch: int

    @property
    def generation_batch_size(self) -> int:
        return self.prompts_per_batch * self.num_generations

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "generation_batch_size": self.generation_batch_size}


def world_size_from_env(default: int = 1) -> int:
    """Processes in this job as set by accelerate/torchrun (WORLD_SIZE), else `default`."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", default)))
    except ValueError:
        return default


def batch_geometry(train: Mapping, num_processes: int = 1) -> BatchGeometry:
    """Derive TRL's batch settings from `train:`; inconsistent sizes raise ConfigError naming the key."""
    batch, mini, n = int(train["batch_size"]), int(train["mini_batch_size"]), int(train["num_generations"])
    if mini > batch or batch % mini:
        raise ConfigError(
            f"config key 'train.mini_batch_size': {mini} must divide train.batch_size ({batch})"
        )
    per_update = mini * n
    if per_update % num_processes:
        raise ConfigError(
            f"config key 'train.mini_batch_size': mini_batch_size x num_generations = {per_update} "
            f"completions per update cannot be split evenly over {num_processes} processes"
        )
    per_process = per_update // num_processes
    micro = train.get("micro_batch_size") or per_process
    if per_process % micro:
        raise ConfigError(
            f"config key 'train.micro_batch_size': {micro} must divide the {per_process} completions each of "
            f"the {num_processes} process(es) handles per update"
        )
    accum = per_process // micro
    updates = batch // mini
    return BatchGeometry(
        num_processes=num_processes,
        prompts_per_batch=batch,
        prompts_per_update=mini,
        num_generations=n,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accum,
        steps_per_generation=accum * updates,
        updates_per_batch=updates,
    )


def optimizer_steps(train: Mapping, key: str) -> int:
    """A recipe-step count from `train.<key>` converted to optimizer updates (TRL global steps)."""
    return int(train[key]) * (int(train["batch_size"]) // int(train["mini_batch_size"]))


def clip_range(train: Mapping) -> tuple[float, float]:
    algo = ALGORITHMS[train["algorithm"]]
    low = train.get("epsilon_low")
    high = train.get("epsilon_high")
    return (
        algo["epsilon"] if low is None else float(low),
        algo["epsilon_high"] if high is None else float(high),
    )


def max_completion_length(resolved: Mapping) -> int:
    """`train.max_completion_length`, or the model family's default response length."""
    value = resolved["train"].get("max_completion_length")
    if value is not None:
        return int(value)
    from vero.models import family_defaults

    return int(family_defaults(resolved["model"]["family"])["max_completion_length"])


def _precision(resolved: Mapping, use_cpu: bool) -> dict[str, bool]:
    """bf16 / fp16 mixed precision on GPU from `train.precision` (none on CPU)."""
    if use_cpu:
        return {"bf16": False, "fp16": False}
    precision = resolved["train"].get("precision", "bf16")
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def max_prompt_length(resolved: Mapping) -> int:
    """`train.max_prompt_length`, or the model family's default prompt length."""
    value = resolved["train"].get("max_prompt_length")
    if value is not None:
        return int(value)
    from vero.models import family_defaults

    return int(family_defaults(resolved["model"]["family"])["max_prompt_length"])


def clip_delta(train: Mapping) -> float | None:
    """TRL's two-sided clipping bound `delta` for the configured dual clip.

    Token level (grpo, dapo): delta = train.dual_clip_ratio = c. TRL's loss per token is then
    -min(min(r, c)·A, clip(r, 1-eps_low, 1+eps_high)·A); for A < 0 and r > c that is c·|A| with
    no gradient, for A ≥ 0 or r ≤ c it is the plain clipped loss: verl's dual-clip PPO
    (compute_policy_loss_vanilla with clip_ratio_c = c).
    Sequence level (gspo): delta = exp(train.max_sequence_log_ratio): the sequence ratio is capped
    where verl caps its log (compute_policy_loss_gspo, clamp(max=10)).
    """
    level = ALGORITHMS[train["algorithm"]]["importance_sampling_level"]
    if level == "sequence":
        cap = train.get("max_sequence_log_ratio")
        return None if cap is None else math.exp(float(cap))
    c = train.get("dual_clip_ratio")
    return None if c is None else float(c)


def common_args(
    resolved: Mapping, output_dir: str, *, report_to: str, use_cpu: bool, run_name: str | None
) -> dict[str, Any]:
    """TrainingArguments shared by the RL and SFT trainers."""
    train = resolved["train"]
    return {
        "output_dir": str(output_dir),
        "run_name": run_name or resolved["name"],
        "learning_rate": float(train["learning_rate"]),
        "lr_scheduler_type": train.get("lr_scheduler", "constant_with_warmup"),
        "warmup_steps": optimizer_steps(train, "warmup_steps"),
        "max_steps": optimizer_steps(train, "max_steps"),
        "max_grad_norm": float(train.get("max_grad_norm", 1.0)),
        "weight_decay": float(train.get("weight_decay", 0.0)),  # release: 0.01 (verl optim default)
        "save_strategy": "steps",
        "save_steps": optimizer_steps(train, "save_steps"),
        "save_total_limit": train.get("save_total_limit"),
        # optimizer + scheduler + RNG: a resumed run matches an uninterrupted one step for step with
        # transformers generation (tests/test_faults.py); with vLLM rollouts it does not (vLLM's
        # sampling state is not in the checkpoint)
        "save_only_model": False,
        "logging_steps": int(train.get("logging_steps", 1)),
        "logging_first_step": True,
        "report_to": report_to,
        "seed": int(resolved.get("seed", 0)),
        "data_seed": int(resolved.get("seed", 0)),
        "use_cpu": use_cpu,
        "activation_checkpointing": bool(
            train.get("gradient_checkpointing", schema_default("train.gradient_checkpointing"))
        )
        and not use_cpu,
        "dataloader_num_workers": 0,
        "remove_unused_columns": False,  # the reward reads the dataset columns
        "disable_tqdm": False,
        **_precision(resolved, use_cpu),
    }


def grpo_config_kwargs(
    resolved: Mapping,
    output_dir: str,
    *,
    num_processes: int | None = None,
    report_to: str = "none",
    use_cpu: bool = True,
    run_name: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments of `trl.GRPOConfig` for one experiment (kept as a dict so tests can read it)."""
    train = resolved["train"]
    if train["trainer"] != "rl":
        raise ConfigError(f"config key 'train.trainer': {train['trainer']!r} is not the RL trainer")
    geometry = batch_geometry(train, num_processes or world_size_from_env())
    algo = ALGORITHMS[train["algorithm"]]
    eps_low, eps_high = clip_range(train)
    kwargs = common_args(resolved, output_dir, report_to=report_to, use_cpu=use_cpu, run_name=run_name)
    kwargs.update(
        per_device_train_batch_size=geometry.per_device_train_batch_size,
        gradient_accumulation_steps=geometry.gradient_accumulation_steps,
        steps_per_generation=geometry.steps_per_generation,
        num_generations=geometry.num_generations,
        max_completion_length=max_completion_length(resolved),
        temperature=float(train["temperature"]),
        generation_kwargs=dict(train.get("generation_kwargs") or {}) or None,
        importance_sampling_level=algo["importance_sampling_level"],
        loss_type=algo["loss_type"],
        epsilon=eps_low,
        epsilon_high=eps_high,
        delta=clip_delta(train),
        beta=0.0,  # no KL term and no reference model (docs/recipe.md#5-training)
        num_iterations=1,
        scale_rewards="group",  # group-normalised advantages, GRPO style
        mask_truncated_completions=False,  # overlong answers are shaped by the reward's overlong term instead
        shuffle_dataset=False,  # the mix is already in category-balanced order; see vero.train.sampler
        log_completions=False,
        use_vllm=bool(train.get("use_vllm", False)),
    )
    if kwargs["use_vllm"]:
        kwargs.update(
            vllm_mode="colocate",
            vllm_gpu_memory_utilization=float(train["vllm_gpu_memory_utilization"]),
            vllm_enable_sleep_mode=bool(train.get("vllm_enable_sleep_mode", True)) and not use_cpu,
            # the engine holds what a rollout can reach, not the model's 256K context
            vllm_max_model_length=max_prompt_length(resolved) + max_completion_length(resolved),
        )
    kwargs.update(validation_kwargs(train, geometry))
    # vero.train.release.VeroGRPOConfig fields
    kwargs["advantage_epsilon"] = float(train.get("advantage_epsilon", 1e-4))
    from vero.train.launch import judge_layout

    serve = (resolved.get("reward", {}).get("judge") or {}).get("serve") or {}
    kwargs["judge_sleep_level"] = (
        int(serve.get("sleep_level", 1)) if judge_layout(resolved) == "shared" else None
    )
    # off as in the release; TRL would turn it on with vLLM (and it is meaningless without)
    kwargs["vllm_importance_sampling_correction"] = kwargs["use_vllm"] and bool(
        train.get("vllm_importance_sampling_correction", False)
    )
    return kwargs


def validation_kwargs(train: Mapping, geometry: BatchGeometry) -> dict[str, Any]:
    """TRL's evaluation settings for `train.validation` (in-training validation on the held-out split).

    eval_steps = validation.every_steps x updates_per_batch (recipe steps -> optimizer updates), so
    validation falls on rollout-batch boundaries; transformers also evaluates after the last step, and
    before the first when eval_on_start (validation.before_training). Each process validates one
    micro-batch of prompts at a time (per_device_eval_batch_size = micro_batch_size rounded up to a
    multiple of num_generations_eval), so a validation forward is no larger than a training one.
    The sampling settings are VeroGRPOConfig fields that VeroGRPOTrainer.evaluate applies.
    """
    val = train.get("validation") or {}
    if not val.get("every_steps"):
        return {"eval_strategy": "no"}
    n = int(val.get("num_generations", 1))
    micro = geometry.per_device_train_batch_size
    return {
        "eval_strategy": "steps",
        "eval_steps": int(val["every_steps"]) * geometry.updates_per_batch,
        "eval_on_start": bool(val.get("before_training", False)),
        "num_generations_eval": n,
        "per_device_eval_batch_size": n * math.ceil(micro / n),
        "validation_temperature": float(val.get("temperature", 0.7)),
        "validation_top_p": float(val.get("top_p", 1.0)),
    }


# vLLM's logit_bias is clamped to [-100, 100]; -100 leaves a token e^-100 times less likely.
VLLM_SUPPRESS_BIAS = -100.0


def suppress_vision_placeholders(
    generation_kwargs: Mapping | None, model_config, *, use_vllm: bool
) -> dict | None:
    """Rollout sampling settings that never sample the image / video placeholder tokens.

    A sampled `<|image_pad|>` in a completion makes the training forward of prompt + completion
    count one image token more than the images give ("Image features and image tokens do not
    match"). TRL's transformers path suppresses the image token itself (`suppress_tokens`); its
    vLLM path passes `generation_kwargs` to vLLM's SamplingParams and suppresses nothing, so with
    `use_vllm` the placeholders get `logit_bias` -100 (merged with any the user set; theirs win).

    >>> class Cfg: image_token_id, video_token_id = 7, 8
    >>> suppress_vision_placeholders({"top_k": 5}, Cfg(), use_vllm=True)
    {'top_k': 5, 'logit_bias': {7: -100.0, 8: -100.0}}
    >>> suppress_vision_placeholders(None, Cfg(), use_vllm=False) is None
    True
    """
    kwargs = dict(generation_kwargs or {})
    if not use_vllm:
        return kwargs or None
    ids = [getattr(model_config, a, None) for a in ("image_token_id", "video_token_id")]
    bias = {int(i): VLLM_SUPPRESS_BIAS for i in ids if isinstance(i, int)}
    kwargs["logit_bias"] = {**bias, **(kwargs.get("logit_bias") or {})}
    return kwargs


def build_grpo_config(resolved: Mapping, output_dir: str, **kwargs):
    from vero.train.release import VeroGRPOConfig

    return VeroGRPOConfig(**grpo_config_kwargs(resolved, output_dir, **kwargs))


def sft_config_kwargs(
    resolved: Mapping,
    output_dir: str,
    *,
    num_processes: int | None = None,
    report_to: str = "none",
    use_cpu: bool = True,
    run_name: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments of `trl.SFTConfig` with the same sample budget as the RL run.

    RL sees `max_steps x batch_size` prompts; SFT takes the same prompts once each, with
    `mini_batch_size` prompts per optimizer update (so the same number of updates as RL).
    """
    train = resolved["train"]
    processes = num_processes or world_size_from_env()
    mini = int(train["mini_batch_size"])
    if mini % processes:
        raise ConfigError(
            f"config key 'train.mini_batch_size': {mini} prompts per update cannot be split over "
            f"{processes} processes"
        )
    per_process = mini // processes
    micro = min(int(train.get("micro_batch_size") or per_process), per_process)
    if per_process % micro:
        raise ConfigError(
            f"config key 'train.micro_batch_size': {micro} must divide the {per_process} SFT samples each "
            f"process handles per update"
        )
    kwargs = common_args(resolved, output_dir, report_to=report_to, use_cpu=use_cpu, run_name=run_name)
    kwargs.update(
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=per_process // micro,
        # prompt + reference target; the target is short, the prompt carries the image tokens
        max_length=None,
        completion_only_loss=True,
        packing=False,
        train_sampling_strategy="sequential",  # the mix's category-balanced order, as in RL
        dataset_kwargs={"skip_prepare_dataset": False},
    )
    return kwargs


def build_sft_config(resolved: Mapping, output_dir: str, **kwargs):
    from trl import SFTConfig

    return SFTConfig(**sft_config_kwargs(resolved, output_dir, **kwargs))
