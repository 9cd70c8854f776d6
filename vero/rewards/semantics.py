"""Reward semantics: the release's reward as it trained the paper's models, or with corrections.

`release` reproduces the training reward of the Vero release (zlab-princeton/vero at commit 8c81e37:
`vero-rl/vero_reward/math_verify_reward_type_boxed.py::compute_score` and the modules it imports, with
the judge combination and overlong penalty of `verl/workers/reward_manager/vero_vllm_judge.py`),
including the places where it scores against mathematics. `corrected` is the same reward with each
correction below switched on; vero/rewards/README.md has one line per correction and
tests/test_rewards_semantics.py shows both behaviours of each.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

SEMANTICS: tuple[str, ...] = ("release", "corrected")


@dataclass(frozen=True)
class Corrections:
    """Which deliberate corrections of the release's reward are on (all off = `release`)."""

    numeric_latex: bool = (
        False  # a numeric answer is also read as LaTeX: \\sqrt{4} = 2, equal matrices and sets match
    )
    casefold: bool = False  # text matching folds case the Unicode way (ß = ss), not str.lower
    list_gold_json: bool = False  # list_string_match reads a JSON gold list (with null/true) as a list
    number_list_repeats: bool = False  # a number_list gold with repeated numbers can be matched
    web_action_numbers: bool = False  # two numeric web_action values compare as numbers (12 = 12.0)
    box_corner_order: bool = False  # boxes written with swapped corners are put in order
    click_any_gold_box: bool = False  # a click inside any gold box scores, not only the first box
    judge_format_gate: bool = False  # format 0 forces the judge part of the accuracy to 0 too
    judge_reference_only: bool = False  # the judge sees the payload's "reference", not the whole JSON
    overlong_clip: bool = False  # the overlong penalty stops at -λ (length clipped at the maximum)
    ifeval_instruction_ids: bool = False  # IFEval checkers may be named by instruction id (VeroMini's form)
    ifeval_regex_sentences: bool = False  # without nltk's punkt data, sentences/words are counted by regex

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


RELEASE = Corrections()
CORRECTED = Corrections(**{name: True for name in Corrections.names()})


def check_semantics(name: object) -> str:
    if name not in SEMANTICS:
        raise ValueError(f"unknown reward semantics {name!r}; expected one of {', '.join(SEMANTICS)}")
    return name  # type: ignore[return-value]


def corrections_for(name: str) -> Corrections:
    """The corrections of a semantics name (`release` → none, `corrected` → all)."""
    return RELEASE if check_semantics(name) == "release" else CORRECTED
