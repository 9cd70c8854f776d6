"""Training semantics of the Vero release that TRL's GRPOTrainer does not offer as settings.

- `advantage_epsilon`: the group-normalised advantage A_i = (r_i - mean_g) / (std_g + ε) with the
  release's ε = 1e-6 (verl `compute_grpo_outcome_advantage`); TRL writes ε = 1e-4 into its code.
  TRL gathers every process's rewards (`_calculate_rewards`) and normalises them per group of
  `num_generations`; the mixin keeps that gathered tensor and recomputes this process's slice of
  the advantages with ε, exactly as TRL does otherwise (same std: Bessel-corrected, NaN-aware;
  unscored completions get advantage 0).
- A judge sharing the training GPUs (`reward.judge.serve.layout: shared`): vLLM's server sleeps
  (level 1) except while rewards are scored; the first process wakes it before the reward call
  and puts it back to sleep afterwards, every process waiting for both.

`VeroGRPOConfig` is TRL's GRPOConfig with these two fields, and the validation sampling settings
(`validation_temperature`, `validation_top_p`) that `vero.train.trainer.VeroGRPOTrainer.evaluate`
applies to TRL's evaluation rollouts (TRL samples them at the training temperature).
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass, field

import torch
from trl import GRPOConfig
from trl.trainer.utils import nanstd


@dataclass
class VeroGRPOConfig(GRPOConfig):
    advantage_epsilon: float = field(
        default=1e-4,
        metadata={"help": "ε of (r - mean) / (std + ε); 1e-4 is TRL's constant, 1e-6 the release's."},
    )
    validation_temperature: float | None = field(
        default=None,
        metadata={"help": "Sampling temperature of evaluation (validation) rollouts; None = temperature."},
    )
    validation_top_p: float | None = field(
        default=None,
        metadata={"help": "top_p of evaluation (validation) rollouts; None = top_p."},
    )
    judge_sleep_level: int | None = field(
        default=None,
        metadata={
            "help": "Wake the judge server for each reward call and sleep it at this level "
            "after (shared GPUs)."
        },
    )


def group_advantages(rewards: torch.Tensor, num_generations: int, epsilon: float) -> torch.Tensor:
    """(r - group mean) / (group std + ε) over consecutive groups of `num_generations`; NaN rewards
    (unscored) are left out of mean and std and get advantage 0 (TRL's sum_then_normalize, group)."""
    grouped = rewards.view(-1, num_generations)
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(num_generations)
    std = nanstd(grouped, dim=1).repeat_interleave(num_generations)
    return torch.nan_to_num((rewards - mean) / (std + epsilon), nan=0.0)


def _post(url: str, timeout_s: float = 600.0) -> None:
    req = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        resp.read()


class ReleaseSemanticsMixin:
    """Mix into GRPOTrainer (before it): advantage ε and the shared judge's wake/sleep."""

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        level = getattr(self.args, "judge_sleep_level", None)
        root = os.environ.get("VERO_JUDGE_BASE_URL", "").removesuffix("/v1").rstrip("/")
        shared = level is not None and bool(root)  # validation rollouts (eval mode) need it awake too
        if shared:
            if self.accelerator.is_main_process:
                _post(f"{root}/wake_up")
            self.accelerator.wait_for_everyone()
        try:
            rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        finally:
            if shared:
                self.accelerator.wait_for_everyone()
                if self.accelerator.is_main_process:
                    _post(f"{root}/sleep?level={int(level)}")
        self._vero_gathered_rewards = rewards
        return rewards

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        eps = float(getattr(self.args, "advantage_epsilon", 1e-4))
        rewards_per_func = getattr(self, "_vero_gathered_rewards", None)
        if not self.model.training or rewards_per_func is None or eps == 1e-4:
            return output  # TRL's own advantages are already these
        if self.scale_rewards != "group" or self.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError(
                "config key 'train.advantage_epsilon': implemented for group-scaled rewards summed over "
                f"reward functions (scale_rewards='group'), not {self.scale_rewards!r} / "
                f"{self.multi_objective_aggregation!r}"
            )
        device = rewards_per_func.device
        unscorable = torch.isnan(rewards_per_func).all(dim=1)
        rewards = (rewards_per_func * self.reward_weights.to(device).unsqueeze(0)).nansum(dim=1)
        rewards[unscorable] = torch.nan
        advantages = group_advantages(rewards, self.num_generations, eps)
        n_local = output["advantages"].shape[0]
        start = self.accelerator.process_index * n_local
        output["advantages"] = advantages[start : start + n_local].to(output["advantages"].dtype)
        return output
