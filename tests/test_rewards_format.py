"""Format reward, layout parsing, \\boxed extraction, overlong penalty and the total (RECIPE.md §3)."""

from __future__ import annotations

import pytest

from vero.rewards import (
    REWARD_TYPES,
    RewardConfig,
    UnknownRewardType,
    check_reward_type,
    compute_reward,
    extract_answer,
    format_reward,
    overlong_penalty,
)
from vero.rewards.text import boxed_contents, last_boxed, normalize_text, parse_layout


def out(answer: str, think: str = "reasoning") -> str:
    return f"<think>{think}</think>\n<answer>{answer}</answer>"


@pytest.mark.parametrize(
    ("completion", "reward_type", "expected"),
    [
        (out(r"\boxed{4}"), "numeric", 1.0),
        (out("4"), "numeric", 0.5),  # no box
        (out(r"\boxed{4} or \boxed{5}"), "numeric", 0.5),  # two boxes
        (out(r"\boxed{}"), "string_match", 0.5),  # empty box
        (out(r"\boxed{ }"), "string_match", 0.5),
        (out(r"\boxed{\frac{1}{2}}"), "numeric", 1.0),  # nested braces: one box
        ("<think>r</think><answer>\\boxed{4}</answer>", "numeric", 1.0),  # no whitespace between blocks
        (out(r"\boxed{4}") + "  \n", "numeric", 1.0),  # trailing whitespace allowed
        ("\n" + out(r"\boxed{4}"), "numeric", 0.0),  # text before <think>, even a newline
        ("x" + out(r"\boxed{4}"), "numeric", 0.0),
        (out(r"\boxed{4}") + "extra", "numeric", 0.0),  # text after </answer>
        ("<think>r</think> text <answer>\\boxed{4}</answer>", "numeric", 0.0),  # text between blocks
        (out(r"\boxed{4}", think="  "), "numeric", 0.0),  # empty think
        (out("   "), "llm_judge", 0.0),  # empty answer
        ("<THINK>r</THINK><answer>\\boxed{4}</answer>", "numeric", 0.0),  # tags are case-sensitive
        ("<think>a <think>b</think></think><answer>\\boxed{4}</answer>", "numeric", 0.0),  # nested think
        ("<think>plan <answer>x</answer></think><answer>\\boxed{4}</answer>", "numeric", 0.0),  # 2nd answer
        ("<answer>\\boxed{4}</answer>", "numeric", 0.0),  # no think
        (out("a caption"), "llm_judge", 1.0),
        (out("free text"), "instruction_following", 1.0),
        (out('[{"bbox_2d": [1, 2, 3, 4]}]'), "grounding", 1.0),
        (out(r'\boxed{[{"bbox_2d": [1, 2, 3, 4]}]}'), "grounding", 1.0),
        (out(r"\boxed{[]} \boxed{[]}"), "grounding", 0.5),  # more than one box
        (out(r"\boxed{[]} \boxed{[]}"), "clicking", 0.5),
        ("", "numeric", 0.0),
    ],
)
def test_format_reward(completion, reward_type, expected):
    assert format_reward(completion, reward_type) == expected


def test_layout_parts():
    layout = parse_layout(out(r"so \boxed{7}", think="t"))
    assert layout.ok and layout.think == "t" and layout.answer == r"so \boxed{7}"
    broken = parse_layout("junk <answer>first</answer> <answer>second</answer>")
    assert not broken.ok and broken.answer == "second"  # last answer block, for logging


@pytest.mark.parametrize(
    ("text", "boxes", "last"),
    [
        (r"\boxed{\frac{1}{2}}", [r"\frac{1}{2}"], r"\frac{1}{2}"),
        (r"\boxed{1} then \boxed{2}", ["1", "2"], "2"),  # two boxes: the last is graded
        (r"\boxed{3} \boxed{}", ["3", ""], "3"),  # last NON-EMPTY box
        (r"\boxed{\text{Paris}}", [r"\text{Paris}"], "Paris"),  # whole-content \text unwrapped
        (r"\boxed{\text{a} + \text{b}}", [r"\text{a} + \text{b}"], r"\text{a} + \text{b}"),
        (r"\boxed {x}", ["x"], "x"),
        (r"\boxed{\{1, 2\}}", [r"\{1, 2\}"], r"\{1, 2\}"),  # escaped braces do not close the box
        (r"\boxed{unbalanced", [], None),
        ("no box", [], None),
    ],
)
def test_boxed_extraction(text, boxes, last):
    assert boxed_contents(text) == boxes
    assert last_boxed(text) == last


def test_extract_answer_grades_last_box_or_whole_answer():
    assert extract_answer(out(r"first \boxed{1}, finally \boxed{2}"), "numeric") == "2"
    assert extract_answer(out("  Paris "), "string_match") == "Paris"  # unboxed: the answer text
    assert extract_answer(out(r"\boxed{x} text"), "llm_judge") == r"\boxed{x} text"  # not a boxed type
    assert extract_answer(r"no tags, \boxed{3}", "numeric") == "3"  # malformed: graded for eval only
    # No answer block: the release grades the whole output (format 0 then forces accuracy 0).
    assert extract_answer("<think>only thinking</think>", "numeric") == "<think>only thinking</think>"
    assert extract_answer(out(r"\boxed{1} \boxed{}"), "numeric") == r"\boxed{1} \boxed{}"  # last box empty
    assert extract_answer(out(r"\boxed{\text{ Paris }}"), "string_match") == "Paris"
    with pytest.raises(UnknownRewardType):
        extract_answer(out("x"), "bogus")


@pytest.mark.parametrize(
    ("text", "norm"),
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("an apple", "apple"),
        ("1,234,567", "1234567"),
        ("3.0", "3"),
        ("3.05", "3 05"),
        ("Café", "cafe"),
        ("“quoted” — text", "quoted text"),
        ("ＡＢＣ", "abc"),  # NFKC full-width
        ("  Hello,   WORLD!! ", "hello world"),
        ("STRASSE", "strasse"),
        ("A", "a"),  # an option letter, not an article
        ("(A)", "a"),
        ("a-frame house", "frame house"),
    ],
)
def test_normalize_text(text, norm):
    assert normalize_text(text) == norm


@pytest.mark.parametrize(
    ("tokens", "limit", "buffer", "penalty", "expected"),
    [
        (100, 4096, 2048, 1.0, 0.0),  # far from the limit
        (2048, 4096, 2048, 1.0, 0.0),  # exactly at L_max - B
        (3072, 4096, 2048, 1.0, -0.5),  # half-way into the buffer
        (4096, 4096, 2048, 1.0, -1.0),  # at L_max: −λ
        (4096, 4096, 2048, 0.5, -0.5),
        (40, 48, 16, 1.0, -0.5),  # the demo setting
        (5000, 4096, 2048, 1.0, -1.0 - 904 / 2048),  # past the limit: the release's line goes on
    ],
)
def test_overlong_penalty(tokens, limit, buffer, penalty, expected):
    assert overlong_penalty(tokens, limit, buffer=buffer, penalty=penalty) == pytest.approx(expected)


def test_overlong_paper_values_reach_minus_two_and_clip_when_corrected():
    # The release: max_resp_len 16,384, buffer 2,048, generation up to 18,432 tokens.
    assert overlong_penalty(14336, 16384, buffer=2048) == 0.0
    assert overlong_penalty(16384, 16384, buffer=2048) == pytest.approx(-1.0)
    assert overlong_penalty(18432, 16384, buffer=2048) == pytest.approx(-2.0)
    assert overlong_penalty(18432, 16384, buffer=2048, clip=True) == pytest.approx(-1.0)
    cfg = {"overlong": {"max_length": 16384, "buffer": 2048}}
    for semantics, expected in (("release", -2.0), ("corrected", -1.0)):
        r = compute_reward(
            out(r"\boxed{1}"),
            reward_type="numeric",
            answer="1",
            completion_tokens=18432,
            max_completion_tokens=18432,  # the generation limit; the reward's own maximum is max_length
            config={**cfg, "semantics": semantics},
        )
        assert r.overlong == pytest.approx(expected)
        assert r.total == pytest.approx(1.0 + expected)


def test_overlong_disabled_or_unknown_length_is_zero():
    assert overlong_penalty(4096, 4096, enabled=False) == 0.0
    assert overlong_penalty(None, 4096) == 0.0
    assert overlong_penalty(4096, None) == 0.0


def test_total_composition_and_format_gate():
    right = compute_reward(out(r"\boxed{4}"), reward_type="counting", answer="4")
    assert (right.total, right.accuracy, right.format, right.overlong) == (1.0, 1.0, 1.0, 0.0)
    unboxed = compute_reward(out("4"), reward_type="counting", answer="4")
    assert unboxed.total == pytest.approx(0.9) and unboxed.format == 0.5  # correct but unboxed
    no_format = compute_reward(r"\boxed{4}", reward_type="counting", answer="4")
    assert no_format.format == 0.0 and no_format.accuracy == 0.0 and no_format.total == 0.0
    assert no_format.raw_accuracy == 1.0  # the route's verdict before the gate, for evaluation
    wrong = compute_reward(out(r"\boxed{5}"), reward_type="counting", answer="4")
    assert wrong.total == pytest.approx(0.2)


def test_total_with_overlong_and_config():
    cfg = RewardConfig(alpha=0.5, overlong_buffer=10, overlong_penalty=2.0)
    r = compute_reward(
        out(r"\boxed{4}"),
        reward_type="counting",
        answer="4",
        completion_tokens=95,
        max_completion_tokens=100,
        config=cfg,
    )
    assert r.overlong == pytest.approx(-1.0)
    assert r.total == pytest.approx(0.5 * 1 + 0.5 * 1 - 1.0)
    as_dict = compute_reward(out(r"\boxed{4}"), reward_type="counting", answer="4", config={"alpha": 0.5})
    assert as_dict.total == 1.0


def test_reward_config_from_config_section():
    cfg = RewardConfig.from_config(
        {
            "alpha": 0.3,
            "overlong": {"enabled": False, "buffer": 16, "penalty": 0.5},
            "math_verify_timeout_s": 2,
        }
    )
    assert (cfg.alpha, cfg.overlong_enabled, cfg.overlong_buffer, cfg.overlong_penalty) == (
        0.3,
        False,
        16,
        0.5,
    )
    assert cfg.math_verify_timeout_s == 2.0
    with pytest.raises(ValueError, match="alpha"):
        RewardConfig(alpha=1.5)


def test_unknown_reward_type_and_arguments_are_clear_errors():
    assert check_reward_type("numeric") == "numeric"
    assert len(REWARD_TYPES) == 13
    with pytest.raises(UnknownRewardType, match=r"'numerik'.*string_match"):
        check_reward_type("numerik")
    with pytest.raises(UnknownRewardType):
        compute_reward(out("x"), reward_type="numerik", answer="1")
    with pytest.raises(ValueError, match="coords"):
        compute_reward(out("x"), reward_type="numeric", answer="1", coords="relative")
    with pytest.raises(ValueError, match="semantics"):
        compute_reward(out("x"), reward_type="numeric", answer="1", semantics="paper")
    # A qwen1000 box without the image size scores as the release scores it (accuracy 0), with a flag.
    r = compute_reward(
        out("[]"), reward_type="grounding", answer='[{"bbox_2d": [0,0,1,1]}]', coords="qwen1000"
    )
    assert (r.accuracy, r.format) == (0.0, 1.0) and "no_image_size" in r.flags
