"""The task-routed Vero reward (docs/recipe.md#4-reward).

    from vero.rewards import compute_reward
    r = compute_reward(completion, reward_type="numeric", answer="0.5")
    r.total, r.accuracy, r.format, r.overlong

`make_trl_reward` wraps it for TRL's GRPOTrainer (and warms every route up when built);
`check_ground_truth` validates samples at load time; `REWARD_TYPE_SPECS` (vero/rewards/types.py) is
the one table of reward types and their properties, `register_reward_type` adds a rule-graded one;
`warm_up(reward_types)` pays the routes' one-time costs at start-up. `semantics="release"` is the
Vero release's reward, `"corrected"` the same with the corrections of vero/rewards/semantics.py.
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
from vero.rewards.routes import register_reward_type, unregister_reward_type
from vero.rewards.semantics import SEMANTICS, Corrections
from vero.rewards.text import normalize_text
from vero.rewards.types import (
    BOXED_REWARD_TYPES,
    IF_REWARD_TYPES,
    JUDGE_REWARD_TYPES,
    REWARD_TYPE_SPECS,
    REWARD_TYPES,
    SPATIAL_REWARD_TYPES,
    RewardBreakdown,
    RewardConfig,
    RewardTypeSpec,
    UnknownRewardType,
    check_reward_type,
    reward_type_spec,
)

__all__ = [
    "BOXED_REWARD_TYPES",
    "IF_REWARD_TYPES",
    "JUDGE_REWARD_TYPES",
    "REWARD_TYPES",
    "REWARD_TYPE_SPECS",
    "SEMANTICS",
    "SPATIAL_REWARD_TYPES",
    "Corrections",
    "HackingMonitor",
    "JudgeClient",
    "JudgeResult",
    "JudgeUnavailable",
    "RewardBreakdown",
    "RewardConfig",
    "RewardTypeSpec",
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
    "register_reward_type",
    "reward_type_spec",
    "unregister_reward_type",
    "warm_up",
]
