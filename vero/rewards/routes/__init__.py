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

__all__ = ["ROUTES", "Route", "RouteContext"]
