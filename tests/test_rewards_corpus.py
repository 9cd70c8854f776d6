"""The differential corpus: `compute_reward(semantics="release")` against the Vero release's own reward.

tests/data/reward_corpus/cases.jsonl holds inputs and the outputs of the release's reward code, run
unmodified outside this repository (its README says how). Agreement is on (total, accuracy, format),
each within 1e-9 absolute; for the judge types also on what the judge is sent (reference and response).
Cases where a correction of `corrected` changes the score are reported apart: there the release scores
against mathematics (or the recipe), and the named switch must change the score.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from vero.rewards import compute_reward, ifeval
from vero.rewards.core import normalize_reward_type, route_context, score_completion
from vero.rewards.judge import JudgeResult
from vero.rewards.semantics import Corrections
from vero.rewards.types import RewardConfig

CORPUS = Path(__file__).parent / "data" / "reward_corpus" / "cases.jsonl"
TOLERANCE = 1e-9
REQUIRED = 0.99


class StubJudge:
    """A deterministic judge: the case's raw 1–10 score, mapped to (s − 1)/9 as the release scales it."""

    def __init__(self, raw: float) -> None:
        self.raw = raw
        self.sent: tuple[str, str] | None = None

    def score(self, question, reference, response):
        self.sent = (reference, response)
        return JudgeResult((max(1.0, min(10.0, self.raw)) - 1.0) / 9.0, self.raw, "", True, ())


def load_cases() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def score(case: dict, semantics: str = "release", fix: Corrections | None = None):
    judge = StubJudge(case["judge_raw"]) if case["judge_raw"] is not None else None
    kwargs = dict(
        reward_type=case["reward_type"],
        answer=case["answer"],
        tolerance=case["tolerance"],
        image_size=case["image_size"],
        coords=case["coords"],
    )
    if fix is None:
        r = compute_reward(case["completion"], judge=judge, semantics=semantics, **kwargs)
    else:  # one correction alone
        config = RewardConfig(semantics="release")
        ctx = replace(
            route_context(case["tolerance"], case["image_size"], case["coords"], config, "release"), fix=fix
        )
        r = score_completion(
            case["completion"],
            reward_type=normalize_reward_type(case["reward_type"]),
            answer=case["answer"],
            ctx=ctx,
            config=config,
            completion_tokens=None,
            max_completion_tokens=None,
            question="",
            judge_fn=judge.score if judge else None,
        )
    return r, judge


def agrees(case: dict, r, judge) -> bool:
    want = case["release"]
    same = all(
        abs(got - want[key]) <= TOLERANCE
        for got, key in ((r.total, "total"), (r.accuracy, "accuracy"), (r.format, "format"))
    )
    if judge is not None:
        same = same and judge.sent == (want["judge_reference"], want["judge_response"])
    return same


def test_corpus_covers_every_route_and_the_classes_of_difference():
    cases = load_cases()
    assert len(cases) >= 800
    by_type = Counter(c["reward_type"] for c in cases)
    assert len(by_type) == 13 and min(by_type.values()) >= 30, by_type
    assert len({c["cls"] for c in cases}) >= 100


def _instruction_classes(case: dict) -> list[str]:
    payload = ifeval.load_instruction_payload(case["answer"])
    items = payload.get("instructions") if isinstance(payload, dict) else None
    return [i["class"] for i in items or () if isinstance(i, dict) and isinstance(i.get("class"), str)]


def test_every_checker_class_of_the_release_has_its_own_cases():
    """The release's instruction library has 76 checker classes (IFEval's 29, IFEvalG's 28, MM-IFEval's 19);
    each has at least 5 single-instruction cases, some followed and some not."""
    classes = ifeval.release_classes(False, False)
    assert len(classes) == 76
    outcomes: dict[str, list[float]] = {name: [] for name in classes}
    for case in load_cases():
        named = _instruction_classes(case)
        if case["reward_type"] == "instruction_following" and len(named) == 1 and named[0] in outcomes:
            outcomes[named[0]].append(case["release"]["accuracy"])
    thin = {name: len(v) for name, v in outcomes.items() if len(v) < 5}
    assert not thin, thin
    one_sided = [name for name, v in outcomes.items() if not (max(v) == 1.0 and min(v) == 0.0)]
    assert not one_sided, one_sided


def test_without_punkt_the_release_is_matched_too(without_punkt):
    """Where no punkt model can be loaded: `release_without_punkt` holds the release's score run without
    nltk's punkt data, on the cases where it differs; every instruction case agrees with it."""
    cases = [c for c in load_cases() if c["reward_type"].startswith("instruction_following")]
    differing = [c for c in cases if "release_without_punkt" in c]
    assert len(differing) >= 100
    misses = []
    for case in cases:
        r, judge = score(case)
        want = {**case, "release": case.get("release_without_punkt", case["release"])}
        if not agrees(want, r, judge):
            misses.append(case["id"])
        elif "release_without_punkt" in case:
            assert "ifeval_no_punkt" in r.flags, case["id"]
    assert len(misses) <= 0.01 * len(cases), misses


def test_release_semantics_agrees_with_the_release():
    cases = load_cases()
    misses, quirks, quirk_misses = [], 0, 0
    per_type: Counter = Counter()
    for case in cases:
        r, judge = score(case)
        ok = agrees(case, r, judge)
        if case["corrections"]:
            quirks += 1
            quirk_misses += not ok
        if not ok:
            per_type[case["reward_type"]] += 1
            misses.append(
                f"{case['id']} [{case['cls']}] project=({r.total:.4f}, {r.accuracy:.4f}, {r.format})"
                f" release=({case['release']['total']:.4f}, {case['release']['accuracy']:.4f},"
                f" {case['release']['format']}) flags={r.flags} answer={case['answer'][:60]!r}"
            )
    rate = 1 - len(misses) / len(cases)
    print(f"\nagreement {len(cases) - len(misses)}/{len(cases)} = {rate:.4f} (tolerance {TOLERANCE})")
    print(f"cases where a correction changes the score: {quirks}, of them disagreeing: {quirk_misses}")
    print("\n".join(misses))
    assert rate >= REQUIRED, per_type


def test_each_flagged_case_is_covered_by_its_correction():
    """A case tagged with corrections: under `release` it keeps the release's score, and switching the
    named correction on alone changes it (the switch covers the quirk)."""
    report: Counter = Counter()
    for case in load_cases():
        for name in case["corrections"]:
            base, _ = score(case)
            fixed, _ = score(case, fix=Corrections(**{name: True}))
            assert (fixed.total, fixed.accuracy) != (base.total, base.accuracy), (case["id"], name)
            report[name] += 1
    print("\ncases per correction:", dict(report))
    assert set(report) >= {"numeric_latex", "casefold", "box_corner_order", "number_list_repeats"}


def test_judge_types_without_a_judge_give_the_releases_rule_based_part():
    """No judge: the breakdown is what the release's compute_score returns before its reward manager adds
    the judge (0 for llm_judge, the constraint rate for instruction_following_llm_judge)."""
    cases = [c for c in load_cases() if c["judge_raw"] is not None]
    assert len(cases) >= 60
    for case in cases:
        r = compute_reward(
            case["completion"], reward_type=case["reward_type"], answer=case["answer"], semantics="release"
        )
        want = case["release"]["rule"]
        assert not r.judged
        got = (r.total, r.accuracy, r.format)
        assert got == pytest.approx((want["total"], want["accuracy"], want["format"]), abs=TOLERANCE), case[
            "id"
        ]


@pytest.mark.parametrize("semantics", ["release", "corrected"])
def test_no_corpus_case_raises(semantics):
    for case in load_cases()[::7]:
        score(case, semantics)
