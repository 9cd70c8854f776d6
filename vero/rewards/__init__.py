"""The task-routed Vero reward (RECIPE.md §3).

    from vero.rewards import compute_reward
    r = compute_reward(completion, reward_type="numeric", answer="0.5")
    r.total, r.accuracy, r.format, r.overlong

`make_trl_reward` wraps it for TRL's GRPOTrainer (and warms every route up when built);
`check_ground_truth` validates samples at load time; `warm_up(reward_types)` pays the routes' one-time
costs at start-up. `semantics="release"` is the Vero release's reward, `"corrected"` the same with the
corrections of vero/rewards/semantics.py.
"""

from vero.rewards.batch import VeroTRLReward, completion_text, make_trl_reward
from vero.rewards.core import (
    check_ground_truth,
    compute_reward,
    extract_answer,
    math_verify_only_accuracy,
    warm_up,
)
from vero.rewards.format import format_reward
from vero.rewards.hacking import HackingMonitor, flag_self_evaluation
from vero.rewards.judge import JudgeClient, JudgeResult, JudgeUnavailable
from vero.rewards.overlong import overlong_penalty
from vero.rewards.semantics import SEMANTICS, Corrections
from vero.rewards.text import normalize_text
from vero.rewards.types import (
    BOXED_REWARD_TYPES,
    JUDGE_REWARD_TYPES,
    REWARD_TYPES,
    SPATIAL_REWARD_TYPES,
    RewardBreakdown,
    RewardConfig,
    UnknownRewardType,
    check_reward_type,
)

__all__ = [
    "BOXED_REWARD_TYPES",
    "JUDGE_REWARD_TYPES",
    "REWARD_TYPES",
    "SEMANTICS",
    "SPATIAL_REWARD_TYPES",
    "Corrections",
    "HackingMonitor",
    "JudgeClient",
    "JudgeResult",
    "JudgeUnavailable",
    "RewardBreakdown",
    "RewardConfig",
    "UnknownRewardType",
    "VeroTRLReward",
    "check_ground_truth",
    "check_reward_type",
    "completion_text",
    "compute_reward",
    "extract_answer",
    "flag_self_evaluation",
    "format_reward",
    "make_trl_reward",
    "math_verify_only_accuracy",
    "normalize_text",
    "overlong_penalty",
    "warm_up",
]
