"""Table-driven accuracy cases for every route (RECIPE.md §3 semantics)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vero.rewards import check_ground_truth, compute_reward
from vero.rewards.routes import ROUTES, RouteContext
from vero.rewards.routes.spatial import grounding_score
from vero.rewards.semantics import CORRECTED
from vero.rewards.types import JUDGE_REWARD_TYPES, REWARD_TYPES


def route(reward_type: str, pred: str, answer: str, **ctx) -> float:
    """A route under the `corrected` semantics (the release's quirks: tests/test_rewards_semantics.py)."""
    ctx = {"image_size": (640, 480), "fix": CORRECTED, **ctx}
    return ROUTES[reward_type].score(pred, answer, RouteContext(**ctx))


def boxed(content: str) -> str:
    return f"<think>t</think><answer>\\boxed{{{content}}}</answer>"


def test_every_non_judge_type_has_a_route():
    assert set(ROUTES) == set(REWARD_TYPES) - JUDGE_REWARD_TYPES


@pytest.mark.parametrize(
    ("reward_type", "pred", "gold", "expected"),
    [
        ("string_match", "Paris", "paris", 1.0),
        ("string_match", "The Eiffel Tower", "Eiffel Tower", 1.0),  # articles
        ("string_match", "a red car", "red car", 1.0),
        ("string_match", "1,000", "1000", 1.0),  # thousands separators
        ("string_match", "12.0", "12", 1.0),  # trailing .0
        ("string_match", "São Paulo", "Sao Paulo", 1.0),  # accents
        ("string_match", "rock-n-roll", "rock n roll", 1.0),  # punctuation collapsed
        ("string_match", "Paris, France", "Paris", 0.0),
        ("string_match", "", "Paris", 0.0),
        ("counting", "7", "7", 1.0),
        ("counting", "7.0", "7", 1.0),
        ("counting", "seven", "7", 0.0),  # exact match route: no number words
        ("counting", "17", "7", 0.0),
        ("search", "the red mug", "Red mug", 1.0),
        ("multiple_choice", "B", "B", 1.0),
        ("multiple_choice", "A", "A", 1.0),  # the letter "a" is not dropped as an article
        ("multiple_choice", "(a)", "A", 1.0),
        ("multiple_choice", "A. cat", "A", 0.0),
        ("multiple_choice", "B", "A", 0.0),
        ("string_match", "A", "a", 1.0),
        ("string_match", "The The", "the the", 1.0),  # only articles: kept
        ("string_match", "the", "a", 0.0),
        ("multiple_choice", "(B)", "B", 1.0),
        ("multiple_choice", "b", "B", 1.0),
        ("multiple_choice", "B. cat", "B", 0.0),  # option text after the letter does not match
        ("multiple_choice", "C", "B", 0.0),
        ("multiple_choice", "B", "(B)", 1.0),  # gold letter read by math-verify's A–Z extraction
        ("multiple_choice", "D", "Answer: D", 1.0),
        ("list_string_match", "sofa", '["couch", "sofa"]', 1.0),  # any synonym
        ("list_string_match", "Couch", "['couch', 'sofa']", 1.0),  # Python list syntax
        ("list_string_match", "chair", '["couch", "sofa"]', 0.0),
        ("list_string_match", "the couch", "couch", 1.0),  # plain string: one item
        ("number_list", "[3, 1, 2]", "[3, 1, 2]", 1.0),
        ("number_list", "3 -> 1 -> 2", "[3, 1, 2]", 1.0),  # integers pulled out of any text
        ("number_list", "[3, 2, 1]", "[3, 1, 2]", pytest.approx(0.2 * 1 / 3)),  # 1 of 3 positions right
        ("number_list", "[1, 2, 3, 4]", "[1, 2, 4, 3]", pytest.approx(0.2 * 2 / 4)),  # 2 of 4 right
        ("number_list", "[2, 3, 1]", "[3, 1, 2]", 0.0),  # same set, 0 positions right
        ("number_list", "[3, 1, 1]", "[3, 1, 2]", 0.0),  # duplicate
        ("number_list", "[3, 1, 2, 2]", "[3, 1, 2]", 0.0),
        ("number_list", "[3, 1, 4]", "[3, 1, 2]", 0.0),  # different set
        ("number_list", "no numbers", "[3, 1, 2]", 0.0),
    ],
)
def test_text_and_list_routes(reward_type, pred, gold, expected):
    assert route(reward_type, pred, gold) == expected


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        (
            '{"ACTION": "CLICK", "MARK": 5}',
            '{"ACTION": "CLICK", "MARK": 5, "VALUE": null}',
            1.0,
        ),  # VALUE None
        ('{"action": "CLICK", "mark": "5"}', '{"ACTION": "CLICK", "MARK": 5, "VALUE": "None"}', 1.0),
        (
            '{"ACTION": "TYPE", "MARK": 3, "VALUE": "hello"}',
            '{"ACTION": "TYPE", "MARK": 3, "VALUE": "hello"}',
            1.0,
        ),
        (
            '{"ACTION": "TYPE", "MARK": 3, "VALUE": "bye"}',
            '{"ACTION": "TYPE", "MARK": 3, "VALUE": "hello"}',
            2 / 3,
        ),
        ('{"ACTION": "SCROLL"}', '{"ACTION": "SCROLL", "MARK": -1, "VALUE": "down"}', 0.5),  # MARK −1 ignored
        ('{"ACTION": "SCROLL", "VALUE": " down "}', '{"ACTION": "SCROLL", "MARK": -1, "VALUE": "down"}', 1.0),
        ("{'ACTION': 'CLICK', 'MARK': 5.0}", '{"ACTION": "CLICK", "MARK": 5}', 1.0),  # Python dict, 5.0 == 5
        ('{"ACTION": "CLICK", "MARK": 6}', '{"ACTION": "CLICK", "MARK": 5}', 0.5),
        ("CLICK 5", '{"ACTION": "CLICK", "MARK": 5}', 0.0),  # not JSON
        ("[1, 2]", '{"ACTION": "CLICK", "MARK": 5}', 0.0),  # not an object
    ],
)
def test_web_action_route(pred, gold, expected):
    assert route("web_action", pred, gold) == pytest.approx(expected)


def _boxes(*boxes) -> str:
    return json.dumps([{"bbox_2d": list(b), "label": "x"} for b in boxes])


def test_grounding_perfect_and_partial():
    gold = _boxes((10, 10, 50, 50), (60, 60, 100, 100))
    assert route("grounding", gold, gold) == 1.0
    # Both found exactly: 1 + 0.75 − 0 = 1.75, clipped to 1. One found with IoU 0.6 (of two):
    # mean IoU 0.6 + 0.75·F1(2/3) − 0.5·½(FP 0 + FN ½) = 0.975.
    one = route("grounding", _boxes((10, 10, 50, 34)), gold)
    assert one == pytest.approx(0.6 + 0.75 * (2 / 3) - 0.5 * 0.5 * (0 + 0.5))
    assert route("grounding", _boxes((200, 200, 300, 300)), gold) == 0.0  # no overlap
    assert route("grounding", "[]", gold) == 0.0
    assert route("grounding", "not json", gold) == 0.0
    assert route("grounding", '[{"bbox_2d": [1, 2, 3]}]', gold) == 0.0  # malformed box
    assert route("grounding", "\\boxed{" + gold + "}", gold) == 1.0  # inside one box


def test_grounding_iou_exactly_half_counts_as_a_match():
    gold = np.array([[0.0, 0.0, 10.0, 10.0]])
    half = np.array([[0.0, 0.0, 10.0, 5.0]])  # IoU = 50/100 = 0.5 exactly
    assert grounding_score(half, gold) == pytest.approx(min(1.0, 0.5 + 0.75 * 1.0 - 0.0))
    below = np.array([[0.0, 0.0, 10.0, 4.9]])  # IoU 0.49: unmatched → FP and FN
    assert grounding_score(below, gold) == 0.0


def test_grounding_uses_the_optimal_assignment_not_greedy():
    gold = [(0.0, 0.0, 10.0, 10.0), (4.0, 0.0, 14.0, 10.0)]
    pred = [(1.0, 0.0, 11.0, 10.0), (-3.0, 0.0, 7.0, 10.0)]
    # Greedy pairs pred 0 with gold 0 (IoU 0.82) and leaves pred 1 with gold 1 (0.18): one match, 0.94.
    # The Hungarian assignment (max total IoU) pairs 0↔1 and 1↔0 (0.54 each): two matches, clipped to 1.
    assert grounding_score(pred, gold) == 1.0


def test_grounding_false_positives_lower_the_score():
    gold = np.array([[0.0, 0.0, 10.0, 10.0]])
    pred = np.array([[0.0, 0.0, 10.0, 6.0], [50.0, 50.0, 60.0, 60.0], [70.0, 70.0, 80.0, 80.0]])
    # mean IoU 0.6, P = 1/3, R = 1, F1 = 0.5, FP rate 2/3, FN rate 0.
    assert grounding_score(pred, gold) == pytest.approx(0.6 + 0.75 * 0.5 - 0.5 * 0.5 * (2 / 3))


def test_grounding_in_both_coordinate_systems():
    gold = _boxes((100, 50, 300, 150))  # absolute pixels on a 400×200 image
    qwen = _boxes((250, 250, 750, 750))  # the same box in [0, 1000]
    assert route("grounding", gold, gold, coords="absolute", image_size=(400, 200)) == 1.0
    assert route("grounding", qwen, gold, coords="qwen1000", image_size=(400, 200)) == 1.0
    assert route("grounding", gold, gold, coords="qwen1000", image_size=(400, 200)) < 0.5
    full = boxed(qwen.replace("\\", ""))
    r = compute_reward(full, reward_type="grounding", answer=gold, coords="qwen1000", image_size=(400, 200))
    assert r.total == 1.0


@pytest.mark.parametrize(
    ("point", "coords", "expected"),
    [
        ((150, 100), "absolute", 1.0),
        ((100, 100), "absolute", 1.0),  # on the left edge: inside
        ((300, 150), "absolute", 1.0),  # corner
        ((301, 100), "absolute", 0.0),
        ((500, 500), "qwen1000", 1.0),  # centre in [0, 1000]
        ((250, 250), "qwen1000", 1.0),  # top-left corner in [0, 1000]
        ((150, 100), "qwen1000", 0.0),  # absolute numbers read as [0, 1000]: outside
    ],
)
def test_clicking(point, coords, expected):
    gold = _boxes((100, 50, 300, 150))
    pred = json.dumps([{"point_2d": list(point)}])
    assert route("clicking", pred, gold, coords=coords, image_size=(400, 200)) == expected


def test_clicking_grades_the_first_point_and_rejects_bad_json():
    gold = _boxes((100, 50, 300, 150))
    assert route("clicking", '[{"point_2d": [150, 100]}, {"point_2d": [0, 0]}]', gold) == 1.0
    assert route("clicking", '[{"point_2d": [0, 0]}, {"point_2d": [150, 100]}]', gold) == 0.0
    assert route("clicking", "[150, 100]", gold) == 0.0
    assert route("clicking", '[{"point_2d": [150]}]', gold) == 0.0


@pytest.mark.parametrize(
    ("pred", "gold", "tolerance", "expected"),
    [
        ("0.5", r"\frac{1}{2}", None, 1.0),
        (r"\frac{1}{2}", "0.5", None, 1.0),  # nested braces inside the box
        ("1/2", "0.5", None, 1.0),
        ("1,000", "1000", None, 1.0),  # thousands separator
        ("2\\sqrt{3}", "\\sqrt{12}", None, 1.0),  # symbolic equivalence
        ("3.0", "3", None, 1.0),
        ("3.1", "3", None, 0.0),
        ("3.1", "3", 0.05, 1.0),  # within 5 % relative
        ("3.2", "3", 0.05, 0.0),
        ("3.15", "3", 0.05, 1.0),  # the bound is inclusive
        ("0.01", "0", 0.05, 1.0),  # gold 0: absolute tolerance
        ("0.1", "0", 0.05, 0.0),
        ("x = 5", "5", None, 1.0),
        ("cat", "5", None, 0.0),
        ("", "5", None, 0.0),
    ],
)
def test_numeric_route(pred, gold, tolerance, expected):
    assert route("numeric", pred, gold, tolerance=tolerance) == expected


def test_numeric_through_compute_reward_uses_the_last_of_two_boxes():
    two = r"<think>t</think><answer>First \boxed{3}, corrected: \boxed{\frac{1}{2}}</answer>"
    r = compute_reward(two, reward_type="numeric", answer="0.5")
    assert r.format == 0.5 and r.raw_accuracy == 1.0 and r.total == pytest.approx(0.9)
    nested = compute_reward(boxed(r"\frac{1}{2}"), reward_type="numeric", answer="0.5")
    assert nested.total == 1.0


IF_GOLD = json.dumps(
    {
        "instructions": [
            {"class": "NumberOfWords", "args": {"num_words": 5, "relation": "at least"}},
            {"class": "CommaChecker", "args": {}},
            {"class": "punctuation:no_comma", "args": {}},  # an IFEval instruction id works too
            {"class": "NumberOfSentences", "args": {"num_sentences": 2, "relation": "at least"}},
        ]
    }
)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("A red circle sits here. A blue square is next to it.", 1.0),
        ("A red circle, a blue square. Two shapes.", 0.5),  # commas break two of four
        ("Tiny.", 0.5),  # the two no-comma rules hold; too few words and sentences
        ("", 0.0),
    ],
)
def test_instruction_following(response, expected):
    assert route("instruction_following", response, IF_GOLD) == pytest.approx(expected)


def test_instruction_following_sentence_and_word_tokenizers_work_offline():
    gold = json.dumps(
        {
            "instructions": [
                {"class": "NumberOfSentences", "args": {"num_sentences": 3, "relation": "less than"}},
                {
                    "class": "CapitalWordFrequencyChecker",
                    "args": {"capital_frequency": 2, "capital_relation": "at least"},
                },
            ]
        }
    )
    assert route("instruction_following", "The RED box. The BLUE ball.", gold) == 1.0
    assert route("instruction_following", "one. two. three. four.", gold) == 0.0


@pytest.mark.parametrize(
    ("reward_type", "answer", "message"),
    [
        ("numeric", "", "non-empty"),
        ("number_list", "none", "no integers"),
        ("web_action", "CLICK", "web_action"),
        ("web_action", '{"MARK": -1}', "none of ACTION"),
        ("grounding", '{"bbox_2d": [1, 2, 3, 4]}', "JSON array"),
        ("clicking", "[[1, 2, 3, 4]]", "JSON array"),
        ("instruction_following", '{"instructions": [{"class": "NoSuchChecker"}]}', "no known checker"),
        ("instruction_following", '{"instructions": []}', "instructions"),
        ("instruction_following", "be nice", "not a JSON object"),
        ("instruction_following_llm_judge", '{"instructions": []}', "instructions"),
        ("instruction_following_llm_judge", "[1, 2]", "not a JSON object"),
        ("bogus", "1", "unknown reward_type"),
    ],
)
def test_check_ground_truth_rejects_bad_samples(reward_type, answer, message):
    with pytest.raises(ValueError, match=message):
        check_ground_truth(reward_type, answer)


def test_check_ground_truth_accepts_good_samples():
    check_ground_truth("numeric", "0.5", tolerance=float("nan"))  # Parquet's missing tolerance
    check_ground_truth("grounding", _boxes((1, 2, 3, 4)), coords="qwen1000", image_size=[640, 480])
    check_ground_truth("instruction_following", IF_GOLD)
    check_ground_truth("llm_judge", "A cat on a mat.")
    # The release's native forms (RELEASE_PARITY §1): read as the release reads them.
    check_ground_truth("number_list", "2, 0, 1")
    check_ground_truth("number_list", "[1, 1, 2]")  # repeats: gradeable under `corrected`
    check_ground_truth("instruction_following", json.dumps(IF_GOLD))  # JSON-encoded twice
    check_ground_truth("instruction_following", '{"instructions": [{"class": "NumberOfWords", "args": {}}]}')
    check_ground_truth(
        "instruction_following", '{"instructions": [{"class": "CommaChecker", "args": {"x": 1}}]}'
    )
    check_ground_truth("instruction_following_llm_judge", IF_GOLD)  # no "reference": the judge gets it all
    check_ground_truth(" Numeric ", "3")  # reward types are trimmed and lower-cased, as the release does
    with pytest.raises(ValueError, match="image size"):
        check_ground_truth("clicking", _boxes((1, 2, 3, 4)), coords="qwen1000", image_size=None)
