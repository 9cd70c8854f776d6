"""Accuracy routes: one small function per `reward_type`, in a registry.

A route takes the graded text (already extracted from the answer block), the sample's ground truth as
stored in the dataset and a `RouteContext`, and returns a float in [0, 1]. Routes never raise on any
prediction; a malformed ground truth is caught earlier by `check_gold` when data is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vero.rewards.ifeval import check_instruction_gold, instruction_following_reward
from vero.rewards.routes.context import RouteContext
from vero.rewards.routes.numeric import check_numeric_gold, numeric_reward
from vero.rewards.routes.spatial import (
    check_box_gold,
    clicking_reward,
    grounding_reward,
)
from vero.rewards.routes.structured import (
    check_number_list_gold,
    check_web_action_gold,
    number_list_reward,
    web_action_reward,
)
from vero.rewards.routes.text_match import (
    check_list_gold,
    check_text_gold,
    list_string_match_reward,
    multiple_choice_reward,
    string_match_reward,
)
from vero.rewards.types import ANSWER_FORMATS, REWARD_TYPE_SPECS, RewardTypeSpec

RouteFn = Callable[[str, str, RouteContext], float]
GoldCheck = Callable[[str], None]


@dataclass(frozen=True)
class Route:
    score: RouteFn
    check_gold: GoldCheck


ROUTES: dict[str, Route] = {
    "string_match": Route(string_match_reward, check_text_gold),
    "counting": Route(string_match_reward, check_text_gold),
    "search": Route(string_match_reward, check_text_gold),
    "multiple_choice": Route(multiple_choice_reward, check_text_gold),
    "numeric": Route(numeric_reward, check_numeric_gold),
    "list_string_match": Route(list_string_match_reward, check_list_gold),
    "number_list": Route(number_list_reward, check_number_list_gold),
    "web_action": Route(web_action_reward, check_web_action_gold),
    "grounding": Route(grounding_reward, check_box_gold),
    "clicking": Route(clicking_reward, check_box_gold),
    "instruction_following": Route(instruction_following_reward, check_instruction_gold),
}
_BUILT_IN = frozenset(REWARD_TYPE_SPECS)


def register_reward_type(spec: RewardTypeSpec, score: RouteFn, check_gold: GoldCheck) -> None:
    """Add a rule-graded reward type: its row in `REWARD_TYPE_SPECS` and its route.

    `score(prediction, gold, ctx) -> float` grades the extracted answer (`spec.answer_format` says
    what is extracted) against the stored gold with the sample's `RouteContext` (tolerance,
    image_size, coords, corrections) and returns a value in [0, 1] without raising;
    `check_gold(gold)` raises ValueError for a gold no prediction can match (data loading drops
    the row with reason `answer_invalid`). From then on data validation, the training reward,
    evaluation (`scorer: reward` benchmarks) and the registry accept `spec.name`. Types graded by
    the judge or by IFEval constraints combine with the judge inside `vero.rewards.core` and are
    built in only. Registration lives in the process: a job registers its types before it scores.

    >>> from vero.rewards import RewardTypeSpec, compute_reward, unregister_reward_type
    >>> spec = RewardTypeSpec("parity", "text", "boxed", "1 when the parities agree", "(none)")
    >>> def parity(pred, gold, ctx):
    ...     return float(pred.strip().isdigit() and int(pred) % 2 == int(gold) % 2)
    >>> def check(gold):
    ...     int(gold)
    >>> register_reward_type(spec, parity, check)
    >>> out = "<think>t</think><answer>\\\\boxed{7}</answer>"
    >>> compute_reward(out, reward_type="parity", answer="3").accuracy
    1.0
    >>> unregister_reward_type("parity")
    """
    if not isinstance(spec, RewardTypeSpec):
        raise TypeError(f"register_reward_type needs a RewardTypeSpec, got {type(spec).__name__}")
    if spec.name in REWARD_TYPE_SPECS:
        raise ValueError(f"reward type {spec.name!r} is already registered")
    if spec.name != spec.name.strip().lower() or not spec.name:
        raise ValueError(f"reward type names are lower case without surrounding spaces, got {spec.name!r}")
    if spec.judge or spec.constraints:
        raise ValueError(f"{spec.name}: judge and constraint reward types are built in only")
    if spec.answer_format not in ANSWER_FORMATS:
        raise ValueError(f"{spec.name}: answer_format must be one of {', '.join(ANSWER_FORMATS)}")
    if not callable(score) or not callable(check_gold):
        raise TypeError(f"{spec.name}: score and check_gold must be callables")
    REWARD_TYPE_SPECS[spec.name] = spec
    ROUTES[spec.name] = Route(score, check_gold)


def unregister_reward_type(name: str) -> None:
    """Remove a type added by `register_reward_type` (built-in types stay)."""
    if name in _BUILT_IN:
        raise ValueError(f"{name!r} is a built-in reward type")
    REWARD_TYPE_SPECS.pop(name, None)
    ROUTES.pop(name, None)


__all__ = ["ROUTES", "Route", "RouteContext", "register_reward_type", "unregister_reward_type"]
