"""Prompt construction shared by training and evaluation."""

import pytest

from vero.prompts import (
    SYSTEM_PROMPT,
    build_messages,
    question_with_options,
    render_options,
    split_think_answer,
    think_text,
)


def test_system_prompt_states_the_output_format():
    for needle in ("<think>", "</think>", "<answer>", "</answer>", "\\boxed{}", "bbox_2d", "point_2d"):
        assert needle in SYSTEM_PROMPT


def test_build_messages_puts_images_before_the_text():
    msgs = build_messages("How many cats?", 2)
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[0]["content"] == [{"type": "text", "text": SYSTEM_PROMPT}]
    assert msgs[1]["content"] == [
        {"type": "image"},
        {"type": "image"},
        {"type": "text", "text": "How many cats?"},
    ]


def test_build_messages_custom_and_empty_system_prompt():
    assert build_messages("q", 1, system_prompt="Be brief.")[0]["content"][0]["text"] == "Be brief."
    no_system = build_messages("q", 0, system_prompt="")
    assert [m["role"] for m in no_system] == ["user"]
    assert no_system[0]["content"] == [{"type": "text", "text": "q"}]


def test_build_messages_returns_fresh_lists():
    a, b = build_messages("q", 1), build_messages("q", 1)
    a[1]["content"].append({"type": "text", "text": "extra"})
    assert len(b[1]["content"]) == 2


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_build_messages_rejects_bad_image_counts(bad):
    with pytest.raises(ValueError, match="n_images"):
        build_messages("q", bad)


def test_build_messages_rejects_non_string_question():
    with pytest.raises(TypeError, match="question"):
        build_messages(None, 1)


def test_render_options_letters_each_line():
    assert render_options(["red", " blue ", "green"]) == "A. red\nB. blue\nC. green"
    assert render_options([]) == ""
    assert question_with_options("Which color?", ["red", "blue"]) == "Which color?\nA. red\nB. blue"
    assert question_with_options("Free form?", []) == "Free form?"


def test_render_options_limit():
    with pytest.raises(ValueError, match="at most 26"):
        render_options([str(i) for i in range(27)])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>look</think>\n<answer>\\boxed{3}</answer>", ("look", "\\boxed{3}")),
        ("<think>\n a \n</think><answer> b </answer>  ", ("a", "b")),
        ("no tags at all", (None, None)),
        ("<think>only thinking, truncated", (None, None)),
        ("<think>t</think><answer>cut off", ("t", None)),
        ("<answer>1</answer><answer>2</answer>", (None, "2")),
        (None, (None, None)),
    ],
)
def test_split_think_answer(text, expected):
    assert split_think_answer(text) == expected


def test_think_text_falls_back_to_text_before_the_answer():
    assert think_text("<think>step one</think><answer>x</answer>") == "step one"
    assert think_text("step one then <answer>x</answer>") == "step one then"
    assert think_text("<think>never closed") == "never closed"
    assert think_text(None) == ""
