"""VeroMini: determinism, coverage of categories and reward types, split separation, and every
task's stored answer graded through vero.rewards (a perfect completion scores 1, a wrong one less)."""

from __future__ import annotations

import json
import re

import pytest

from vero.categories import CATEGORIES
from vero.data.schema import check_record, image_hash, normalize_question, single_image_hashes, to_pil_images
from vero.data.veromini import TASKS, generate_veromini, reward_types_covered
from vero.data.veromini.captioning import compliant_response
from vero.rewards import REWARD_TYPES, JudgeResult, compute_reward

N_TASKS = max(len(t) for t in TASKS.values())


@pytest.fixture(scope="module")
def train_rows():
    return list(generate_veromini(2 * N_TASKS, seed=11, split="train"))


@pytest.fixture(scope="module")
def heldout_rows():
    return list(generate_veromini(2 * N_TASKS, seed=11, split="heldout"))


def test_every_category_and_reward_type_is_covered(train_rows):
    assert reward_types_covered() == set(REWARD_TYPES)
    assert {r["category"] for r in train_rows} == set(CATEGORIES)
    assert {r["reward_type"] for r in train_rows} == set(REWARD_TYPES)
    for cat in CATEGORIES:
        rows = [r for r in train_rows if r["category"] == cat]
        assert len(rows) == 2 * N_TASKS
        assert {r["data_source"] for r in rows} == {f"veromini/{t.name}" for t in TASKS[cat]}


def test_rows_are_valid_records_with_small_images(train_rows, heldout_rows):
    for r in train_rows + heldout_rows:
        assert check_record(r) == [], r["id"]
        w, h = r["image_size"]
        assert 64 <= w <= 200 and 64 <= h <= 200
        assert to_pil_images(r)[0].size == (w, h)
    assert len({r["id"] for r in train_rows}) == len(train_rows)


def test_deterministic_by_seed():
    a = list(generate_veromini(3, seed=5, split="train", categories=["stem", "chart_ocr"]))
    b = list(generate_veromini(3, seed=5, split="train", categories=["stem", "chart_ocr"]))
    c = list(generate_veromini(3, seed=6, split="train", categories=["stem", "chart_ocr"]))
    assert a == b
    assert [r["images"] for r in a] != [r["images"] for r in c]


@pytest.mark.parametrize("seeds", [(11, 11), (11, 12)])
def test_train_and_heldout_never_share_an_image_or_a_question(seeds, train_rows):
    train = train_rows if seeds[0] == 11 else list(generate_veromini(2 * N_TASKS, seeds[0], "train"))
    held = list(generate_veromini(2 * N_TASKS, seed=seeds[1], split="heldout"))
    train_imgs = {h for r in train for h in single_image_hashes(r["images"])}
    held_imgs = {h for r in held for h in single_image_hashes(r["images"])}
    assert not train_imgs & held_imgs
    assert not {normalize_question(r["question"]) for r in train} & {
        normalize_question(r["question"]) for r in held
    }
    assert all(r["split"] == "heldout" for r in held)


def test_no_duplicate_samples_within_a_split(train_rows):
    keys = [(image_hash(r["images"]), normalize_question(r["question"])) for r in train_rows]
    assert len(set(keys)) == len(keys)


# ---- graded through vero.rewards ---------------------------------------------------------------


def _wrap(answer_text: str) -> str:
    return f"<think>I look at the image and work it out.</think><answer>{answer_text}</answer>"


def _boxed(value: str) -> str:
    return _wrap(f"The answer is \\boxed{{{value}}}.")


_GENERIC_REFERENCE = "The picture has a plain white background. A red circle is at the top left."
_VIOLATES_ALL = ("very, beautiful, stunning, amazing, gorgeous, lovely, really, nice, " * 20).strip()


def perfect_completion(row) -> str:
    rt, ans = row["reward_type"], row["answer"]
    if rt in ("string_match", "counting", "search", "multiple_choice", "numeric"):
        return _boxed(ans)
    if rt == "list_string_match":
        return _boxed(json.loads(ans)[-1])
    if rt in ("number_list", "web_action"):
        return _boxed(ans)
    if rt == "grounding":
        return _wrap(ans)
    if rt == "clicking":
        x1, y1, x2, y2 = json.loads(ans)[0]["bbox_2d"]
        return _wrap(json.dumps([{"point_2d": [(x1 + x2) // 2, (y1 + y2) // 2]}]))
    if rt == "instruction_following":
        return _wrap(compliant_response(ans, _GENERIC_REFERENCE))
    if rt == "llm_judge":
        return _wrap(ans)
    if rt == "instruction_following_llm_judge":
        return _wrap(compliant_response(ans, json.loads(ans)["reference"]))
    raise AssertionError(rt)


def wrong_completion(row) -> str:
    rt, ans = row["reward_type"], row["answer"]
    if rt == "numeric":
        return _boxed(str(float(ans) + 1000))
    if rt == "counting":
        return _boxed(str(int(ans) + 1))
    if rt == "multiple_choice":
        return _boxed("B" if ans != "B" else "C")
    if rt in ("string_match", "search", "list_string_match"):
        return _boxed("zebra crossing")
    if rt == "number_list":
        return _boxed(json.dumps(list(reversed(json.loads(ans)))))
    if rt == "web_action":
        return _boxed('{"ACTION": "SCROLL", "MARK": 99, "VALUE": "nothing"}')
    if rt == "grounding":
        return _wrap(json.dumps([{"bbox_2d": [0, 0, 3, 3], "label": "x"}]))
    if rt == "clicking":
        return _wrap(json.dumps([{"point_2d": [0, 0]}]))
    if rt in ("instruction_following", "instruction_following_llm_judge"):
        return _wrap(_VIOLATES_ALL)
    if rt == "llm_judge":
        return _wrap("A photograph of a busy street at night.")
    raise AssertionError(rt)


class ShapePairJudge:
    """A stand-in judge: full score when the response names every "<color> <shape>" of the reference."""

    _PAIR = re.compile(r"\b(\w+) (circle|square|triangle|star|diamond|hexagon)\b", re.IGNORECASE)

    def score(self, question: str, reference: str, response: str) -> JudgeResult:
        wanted = {m.group(0).lower() for m in self._PAIR.finditer(reference)}
        found = {m.group(0).lower() for m in self._PAIR.finditer(response)}
        ok = bool(wanted) and wanted <= found
        return JudgeResult(score=1.0 if ok else 0.0, raw_score=10 if ok else 1)


def _reward(row, completion):
    return compute_reward(
        completion,
        reward_type=row["reward_type"],
        answer=row["answer"],
        tolerance=row["tolerance"],
        image_size=tuple(row["image_size"]),
        coords=row["coords"],
        judge=ShapePairJudge(),
        question=row["question"],
    )


def test_every_task_perfect_completion_scores_one_and_wrong_scores_less(train_rows):
    failures = []
    for row in train_rows:
        good, bad = _reward(row, perfect_completion(row)), _reward(row, wrong_completion(row))
        if good.accuracy != pytest.approx(1.0) or not bad.accuracy < good.accuracy:
            failures.append((row["data_source"], row["answer"][:80], good.accuracy, bad.accuracy))
    assert failures == []


def test_numeric_tolerance_is_honoured():
    row = next(r for r in generate_veromini(8, 3, "train", ["stem"]) if r["tolerance"])
    gold = float(row["answer"])
    assert _reward(row, _boxed(f"{gold * 1.005:.4f}")).accuracy == 1.0
    assert _reward(row, _boxed(f"{gold * 1.05:.4f}")).accuracy == 0.0


def test_multiple_choice_gold_a_is_gradable():
    # "A" is also an English article, which answer normalization removes; the letter must survive.
    rows = [
        r for r in generate_veromini(40, 2, "train", ["knowledge_recognition", "stem"]) if r["answer"] == "A"
    ]
    assert rows and all(r["reward_type"] == "multiple_choice" for r in rows)
    assert all(_reward(r, perfect_completion(r)).accuracy == 1.0 for r in rows)
