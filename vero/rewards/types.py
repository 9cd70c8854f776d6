"""Reward types, the reward breakdown and the reward settings (RECIPE.md §3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Every reward type a sample may carry, in the order of the architecture page.
REWARD_TYPES: tuple[str, ...] = (
    "string_match",
    "counting",
    "search",
    "multiple_choice",
    "numeric",
    "list_string_match",
    "number_list",
    "web_action",
    "grounding",
    "clicking",
    "instruction_following",
    "llm_judge",
    "instruction_following_llm_judge",
)

# Types graded on the last non-empty \boxed{...} of the answer; exactly one box gives format 1.
BOXED_REWARD_TYPES: frozenset[str] = frozenset(
    {
        "string_match",
        "multiple_choice",
        "number_list",
        "web_action",
        "numeric",
        "list_string_match",
        "counting",
        "search",
    }
)

# Types whose answer is a JSON array (boxed or bare); more than one \boxed gives format 0.5.
SPATIAL_REWARD_TYPES: frozenset[str] = frozenset({"grounding", "clicking"})

# Types that need the LLM judge endpoint.
JUDGE_REWARD_TYPES: frozenset[str] = frozenset({"llm_judge", "instruction_following_llm_judge"})

COORDS: tuple[str, ...] = ("absolute", "qwen1000")


class UnknownRewardType(ValueError):
    """A sample names a reward type this library has no route for."""


def check_reward_type(reward_type: object) -> str:
    """Return `reward_type` if it is known, else raise `UnknownRewardType` listing the valid ones."""
    if not isinstance(reward_type, str) or reward_type not in REWARD_TYPES:
        raise UnknownRewardType(
            f"unknown reward_type {reward_type!r}; expected one of {', '.join(REWARD_TYPES)}"
        )
    return reward_type


def check_coords(coords: object) -> str:
    if coords not in COORDS:
        raise ValueError(f"unknown coords {coords!r}; expected one of {', '.join(COORDS)}")
    return coords  # type: ignore[return-value]


@dataclass(frozen=True)
class RewardBreakdown:
    """One scored completion: R = (1 - α)·accuracy + α·format + overlong.

    `accuracy` is the value used in the total (forced to 0 when `format` is 0); `raw_accuracy` is what the
    route gave before that gate, which evaluation may report. `judged` is False for judge-type samples scored
    without a judge (their accuracy is then the rule-based part alone and training skips them). `extracted`
    is the graded answer text. Whether the judge part is gated by format, and every other choice, follows
    `reward.semantics` (vero/rewards/semantics.py).
    """

    total: float
    accuracy: float
    format: float
    overlong: float
    raw_accuracy: float = 0.0
    extracted: str | None = None
    judged: bool = True
    flags: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class RewardConfig:
    """Settings of the reward (config section `reward`; config/schema/reward.yaml describes each key).
    The dataclass defaults equal the schema's, for callers that pass no config."""

    alpha: float = 0.2
    overlong_enabled: bool = True
    overlong_buffer: int = 2048
    overlong_penalty: float = 1.0
    math_verify_timeout_s: float = 5.0
    math_verify_workers: int = 1
    semantics: str = "corrected"
    overlong_max_length: int | None = None

    def __post_init__(self) -> None:
        from vero.rewards.semantics import check_semantics

        check_semantics(self.semantics)
        if self.overlong_max_length is not None and self.overlong_max_length < 1:
            raise ValueError(f"reward.overlong.max_length must be >= 1, got {self.overlong_max_length!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"reward.alpha must be in [0, 1], got {self.alpha!r}")
        if self.overlong_buffer < 1:
            raise ValueError(f"reward.overlong.buffer must be >= 1, got {self.overlong_buffer!r}")
        if self.overlong_penalty < 0:
            raise ValueError(f"reward.overlong.penalty must be >= 0, got {self.overlong_penalty!r}")
        if not self.math_verify_timeout_s > 0:
            raise ValueError(f"reward.math_verify_timeout_s must be > 0, got {self.math_verify_timeout_s!r}")
        if self.math_verify_workers < 1:
            raise ValueError(f"reward.math_verify_workers must be >= 1, got {self.math_verify_workers!r}")

    @classmethod
    def from_config(cls, reward_cfg: Mapping[str, Any] | None) -> RewardConfig:
        """Build from the validated `reward` config section (missing keys take the defaults)."""
        reward_cfg = reward_cfg or {}
        overlong = reward_cfg.get("overlong") or {}
        default = cls()
        return cls(
            alpha=float(reward_cfg.get("alpha", default.alpha)),
            overlong_enabled=bool(overlong.get("enabled", default.overlong_enabled)),
            overlong_buffer=int(overlong.get("buffer", default.overlong_buffer)),
            overlong_penalty=float(overlong.get("penalty", default.overlong_penalty)),
            math_verify_timeout_s=float(
                reward_cfg.get("math_verify_timeout_s", default.math_verify_timeout_s)
            ),
            math_verify_workers=int(reward_cfg.get("math_verify_workers", default.math_verify_workers)),
            semantics=str(reward_cfg.get("semantics", default.semantics)),
            overlong_max_length=(None if overlong.get("max_length") is None else int(overlong["max_length"])),
        )
