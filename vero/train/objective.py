"""A plain reference of the clipped policy objectives the ablation compares (GSPO, GRPO, DAPO).

Training uses TRL's implementation; this module states the maths independently so tests can
check that the TRL configuration built by `vero.train.trl_config` really optimises GSPO:

  GSPO (sequence level):  s_i = exp( (1/|y_i|) * sum_t [log pi(y_i,t) - log pi_old(y_i,t)] )
                          L   = -(1/G) sum_i min( s_i A_i, clip(s_i, 1 - eps_low, 1 + eps_high) A_i )
  GRPO (token level):     r_i,t = exp(log pi - log pi_old) per token,
                          L = -(1/G) sum_i (1/|y_i|) sum_t min( r A, clip(r) A )
  DAPO:                   the token-level term averaged over all tokens of the batch at once.
"""

from __future__ import annotations

import torch


def importance_ratio(
    per_token_logps: torch.Tensor, old_per_token_logps: torch.Tensor, mask: torch.Tensor, *, level: str
) -> torch.Tensor:
    """Token ratios (B, T) or sequence ratios (B, 1): the exponential of the mean token log-ratio."""
    log_ratio = per_token_logps - old_per_token_logps
    if level == "token":
        return torch.exp(log_ratio)
    if level == "sequence":
        mean_log_ratio = (log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        return torch.exp(mean_log_ratio).unsqueeze(-1)
    raise ValueError(f"unknown importance sampling level {level!r}; expected 'token' or 'sequence'")


def clipped_policy_loss(
    per_token_logps: torch.Tensor,
    old_per_token_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    level: str,
    eps_low: float,
    eps_high: float,
    aggregation: str = "sequence_mean",
) -> torch.Tensor:
    """The pessimistic clipped surrogate, negated (a loss to minimise).

    aggregation: "sequence_mean" = mean over tokens per sequence, then over sequences (GSPO, GRPO);
    "token_mean" = mean over every unmasked token of the batch (DAPO).
    """
    mask = mask.to(per_token_logps.dtype)
    ratio = importance_ratio(per_token_logps, old_per_token_logps, mask, level=level)
    adv = advantages.reshape(-1, 1)
    clipped = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high)
    per_token = -torch.minimum(ratio * adv, clipped * adv).expand_as(per_token_logps)
    if aggregation == "sequence_mean":
        return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if aggregation == "token_mean":
        return (per_token * mask).sum() / mask.sum().clamp(min=1.0)
    raise ValueError(f"unknown aggregation {aggregation!r}; expected 'sequence_mean' or 'token_mean'")
