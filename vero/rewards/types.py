"""Reward types (one table, `REWARD_TYPE_SPECS`), the reward breakdown and the reward settings
(docs/recipe.md#4-reward)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

_RELEASE_REWARD = "vero-rl/vero_reward/math_verify_reward_type_boxed.py"


@dataclass(frozen=True)
class RewardTypeSpec:
    """What a reward type is, in one row: every module that asks reads it from `REWARD_TYPE_SPECS`.

    `family` groups the types whose gold has the same form (text, list, numeric, structured,
    spatial, instruction, judge). `answer_format` is what the answer block must hold: "boxed" (the
    last non-empty \\boxed{...} is graded, exactly one box gives format 1), "json" (a JSON array,
    boxed or bare; more than one box gives format 0.5) or "text" (the answer block as it is).
    `judge` says the accuracy needs the LLM judge endpoint; `constraints` that the gold carries
    IFEval-style instructions scored by their satisfied fraction. `sft_target` is what a reference
    answer for supervised warm-up is made of: "boxed" (the gold in a box), "boxes" or "point" (JSON
    from the gold boxes), "text" (the gold as it is), "reference" (the payload's reference text) or
    None (the gold holds no answer text). `scores` says what the accuracy measures and `source`
    where the release computes it.
    """

    name: str
    family: str
    answer_format: str
    scores: str
    source: str
    judge: bool = False
    constraints: bool = False
    sft_target: str | None = "boxed"

    @property
    def grader(self) -> str:
        """ "rule", "judge" or "rule+judge" (the constraint rate and the judge, half each)."""
        if self.judge:
            return "rule+judge" if self.constraints else "judge"
        return "rule"


FAMILIES: tuple[str, ...] = ("text", "list", "numeric", "structured", "spatial", "instruction", "judge")
ANSWER_FORMATS: tuple[str, ...] = ("boxed", "json", "text")

# The one table of reward types, in the order of the architecture page
# (docs/recipe.md#4-reward lists the rules).
REWARD_TYPE_SPECS: dict[str, RewardTypeSpec] = {
    s.name: s
    for s in (
        RewardTypeSpec(
            "string_match",
            "text",
            "boxed",
            "normalized exact match of the answer and the gold",
            "vero-rl/vero_reward/string_match.py",
        ),
        RewardTypeSpec(
            "counting",
            "text",
            "boxed",
            "normalized exact match (a count written as text)",
            "vero-rl/vero_reward/string_match.py",
        ),
        RewardTypeSpec(
            "search",
            "text",
            "boxed",
            "normalized exact match (the found item named as text)",
            "vero-rl/vero_reward/string_match.py",
        ),
        RewardTypeSpec(
            "multiple_choice",
            "text",
            "boxed",
            "the predicted option letter equals the gold letter",
            _RELEASE_REWARD,
        ),
        RewardTypeSpec(
            "numeric",
            "numeric",
            "boxed",
            "math-verify equivalence, or |pred - gold| <= tolerance * |gold| when a tolerance is set",
            _RELEASE_REWARD,
        ),
        RewardTypeSpec(
            "list_string_match",
            "list",
            "boxed",
            "the answer matches any item of the gold list",
            _RELEASE_REWARD,
        ),
        RewardTypeSpec(
            "number_list",
            "structured",
            "boxed",
            "1 for the exact order; the same set reordered: 0.2 * fraction of positions right",
            _RELEASE_REWARD,
        ),
        RewardTypeSpec(
            "web_action",
            "structured",
            "boxed",
            "fraction of the gold's ACTION / MARK / VALUE fields matched",
            _RELEASE_REWARD,
        ),
        RewardTypeSpec(
            "grounding",
            "spatial",
            "json",
            "mean IoU of Hungarian matches at IoU >= 0.5 + 0.75 * F1 - 0.5 * mean(FP rate, FN rate)",
            "vero-rl/vero_reward/grounding_reward.py",
            sft_target="boxes",
        ),
        RewardTypeSpec(
            "clicking",
            "spatial",
            "json",
            "1 when the predicted point lies in a gold box",
            "vero-rl/vero_reward/click_reward.py",
            sft_target="point",
        ),
        RewardTypeSpec(
            "instruction_following",
            "instruction",
            "text",
            "fraction of the IFEval constraints satisfied",
            "vero-rl/vero_reward/instructions.py",
            constraints=True,
            sft_target=None,
        ),
        RewardTypeSpec(
            "llm_judge",
            "judge",
            "text",
            "the judge's score s in 1..10 mapped to (s - 1) / 9",
            "vero-rl/verl/workers/reward_manager/vero_vllm_judge.py",
            judge=True,
            sft_target="text",
        ),
        RewardTypeSpec(
            "instruction_following_llm_judge",
            "judge",
            "text",
            "0.5 * constraint rate + 0.5 * judge score",
            "vero-rl/verl/workers/reward_manager/vero_vllm_judge.py",
            judge=True,
            constraints=True,
            sft_target="reference",
        ),
    )
}


class _TypeSet(Set):
    """The names of the registered reward types that satisfy `keep`, in table order; a live view of
    `REWARD_TYPE_SPECS`, so a type registered later (vero.rewards.register_reward_type) is in it."""

    def __init__(self, keep: Callable[[RewardTypeSpec], bool], doc: str) -> None:
        self._keep = keep
        self.__doc__ = doc

    def _names(self) -> tuple[str, ...]:
        return tuple(n for n, s in REWARD_TYPE_SPECS.items() if self._keep(s))

    def __contains__(self, name: object) -> bool:
        spec = REWARD_TYPE_SPECS.get(name) if isinstance(name, str) else None
        return spec is not None and self._keep(spec)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __getitem__(self, i: int) -> str:
        return self._names()[i]

    def __repr__(self) -> str:
        return f"{{{', '.join(map(repr, self._names()))}}}"

    __hash__ = Set._hash

    @classmethod
    def _from_iterable(cls, it):  # set operations (|, &, -) give a plain frozenset
        return frozenset(it)


# Views of the table (sets that iterate in table order): every reward type a sample may carry; those
# graded on the last \boxed{}; those with a JSON array answer; those needing the judge; those whose
# gold carries IFEval-style constraints.
REWARD_TYPES = _TypeSet(lambda s: True, "every reward type a sample may carry")
BOXED_REWARD_TYPES = _TypeSet(lambda s: s.answer_format == "boxed", "graded on the last \\boxed{}")
SPATIAL_REWARD_TYPES = _TypeSet(lambda s: s.answer_format == "json", "a JSON array answer (boxes, points)")
JUDGE_REWARD_TYPES = _TypeSet(lambda s: s.judge, "need the LLM judge endpoint")
IF_REWARD_TYPES = _TypeSet(lambda s: s.constraints, "gold with IFEval-style constraints")


def reward_type_spec(reward_type: str) -> RewardTypeSpec:
    """The table row of `reward_type`; raises `UnknownRewardType` for a name not in the table.

    >>> reward_type_spec("grounding").answer_format
    'json'
    >>> reward_type_spec("instruction_following_llm_judge").grader
    'rule+judge'
    """
    return REWARD_TYPE_SPECS[check_reward_type(reward_type)]


def reward_type_table() -> str:
    """The table as Markdown (one row a type), for the docs: name, family, answer format, grader,
    what the accuracy scores and the release file computing it."""
    rows = ["| reward_type | family | answer | grader | accuracy | release |", "|---|---|---|---|---|---|"]
    for s in REWARD_TYPE_SPECS.values():
        scores = s.scores.replace("|", "\\|")  # a table cell cannot hold a bare |
        rows.append(f"| `{s.name}` | {s.family} | {s.answer_format} | {s.grader} | {scores} | `{s.source}` |")
    return "\n".join(rows) + "\n"


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
