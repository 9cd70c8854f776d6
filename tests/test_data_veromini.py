"""VeroMini: determinism, coverage of categories and reward types at every difficulty, separation
of the held-out / pretrain / train partitions, every task's stored answer graded through vero.rewards
(a perfect completion scores 1, a wrong one less), warm-start targets that earn the reward, and
text-only baselines that stay near chance (the answers need the image)."""

from __future__ import annotations

import json
import re
from itertools import combinations

import pytest

from vero.categories import CATEGORIES
from vero.data.schema import check_record, image_hash, normalize_question, single_image_hashes, to_pil_images
from vero.data.veromini import DIFFICULTIES, TASKS, generate_veromini, reward_types_covered
from vero.data.veromini.baselines import TEXT_TASKS, text_only_scores
from vero.data.veromini.captioning import compliant_response
from vero.rewards import REWARD_TYPES, JudgeResult, compute_reward

N_TASKS = max(len(t) for t in TASKS.values())


@pytest.fixture(scope="module", params=DIFFICULTIES)
def difficulty(request):
    return request.param


@pytest.fixture(scope="module")
def train_rows(difficulty):
    return list(generate_veromini(2 * N_TASKS, seed=11, split="train", difficulty=difficulty))


@pytest.fixture(scope="module")
def heldout_rows(difficulty):
    return list(generate_veromini(2 * N_TASKS, seed=11, split="heldout", difficulty=difficulty))


def test_every_category_and_reward_type_is_covered(train_rows):
    assert reward_types_covered() == set(REWARD_TYPES)
    assert {r["category"] for r in train_rows} == set(CATEGORIES)
    assert {r["reward_type"] for r in train_rows} == set(REWARD_TYPES)
    for cat in CATEGORIES:
        rows = [r for r in train_rows if r["category"] == cat]
        assert len(rows) == 2 * N_TASKS
        assert {r["data_source"] for r in rows} == {f"veromini/{t.name}" for t in TASKS[cat]}


def test_rows_are_valid_records_with_small_images(train_rows, heldout_rows, difficulty):
    for r in train_rows + heldout_rows:
        assert check_record(r) == [], r["id"]
        w, h = r["image_size"]
        assert 64 <= w <= 200 and 64 <= h <= 200
        if difficulty == "easy":  # the tiny model's whole image budget: never resized
            assert (w, h) == (112, 112), r["data_source"]
        assert to_pil_images(r)[0].size == (w, h)
    assert len({r["id"] for r in train_rows}) == len(train_rows)


def test_deterministic_by_seed(difficulty):
    def draw(seed):
        return list(
            generate_veromini(
                3, seed=seed, split="train", categories=["stem", "chart_ocr"], difficulty=difficulty
            )
        )

    a, b, c = draw(5), draw(5), draw(6)
    assert a == b
    assert [r["images"] for r in a] != [r["images"] for r in c]


def test_the_difficulties_draw_different_scenes_with_the_same_reward_types():
    easy = list(generate_veromini(N_TASKS, seed=3, split="train", difficulty="easy"))
    hard = list(generate_veromini(N_TASKS, seed=3, split="train", difficulty="hard"))
    assert [(r["data_source"], r["reward_type"], r["category"]) for r in easy] == [
        (r["data_source"], r["reward_type"], r["category"]) for r in hard
    ]
    assert not {image_hash(r["images"]) for r in easy} & {image_hash(r["images"]) for r in hard}
    with pytest.raises(ValueError, match="difficulty"):
        list(generate_veromini(1, seed=3, difficulty="trivial"))


def _partition(n, seed, split, difficulty):
    return list(generate_veromini(n, seed=seed, split=split, difficulty=difficulty))


@pytest.mark.parametrize(
    "seeds, levels",
    [
        ((11, 11, 11), ("easy", "easy", "easy")),
        ((11, 12, 13), ("easy", "hard", "easy")),
        ((3, 3, 3), ("hard",) * 3),
    ],
)
def test_partitions_never_share_an_image_and_heldout_never_a_question(seeds, levels):
    """held-out vs pretrain vs train, whatever the seeds and difficulties of each."""
    parts = {
        split: _partition(2 * N_TASKS, seed, split, level)
        for split, seed, level in zip(("heldout", "pretrain", "train"), seeds, levels, strict=True)
    }
    images = {s: {h for r in rows for h in single_image_hashes(r["images"])} for s, rows in parts.items()}
    questions = {s: {normalize_question(r["question"]) for r in rows} for s, rows in parts.items()}
    for a, b in combinations(parts, 2):
        assert not images[a] & images[b], (a, b)
    for other in ("pretrain", "train"):
        assert not questions["heldout"] & questions[other], other
    assert all(r["split"] == "heldout" for r in parts["heldout"])
    assert all(r["split"] == "train" and "-pretrain-" in r["id"] for r in parts["pretrain"])


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


# ---- warm-start targets -----------------------------------------------------------------------


def test_warm_start_targets_earn_the_full_reward(difficulty):
    """Every pretrain row's target (rationale + answer) is well formed and answers correctly."""
    from vero.models.warm_start import target_text

    rows = list(
        generate_veromini(2 * N_TASKS, seed=4, split="pretrain", difficulty=difficulty, with_targets=True)
    )
    failures = []
    for r in rows:
        assert r["rationale"].strip(), r["data_source"]
        result = _reward(r, target_text(r, "absolute"))
        if result.format != 1.0 or result.accuracy != pytest.approx(1.0):
            failures.append((r["data_source"], r["answer"][:60], result.format, result.accuracy))
    assert failures == []


# ---- text-only baselines ----------------------------------------------------------------------

# What a guess without the image scores, from each easy task's answer space (the demo's level).
# The easy level has small answer spaces, so chance is high; the bound is chance + MARGIN.
EASY_CHANCE = {
    "bar_value": 1 / 4,  # values 1-4
    "bar_compute": 1 / 7,
    "bar_extreme": 0.4,  # one of the 2-3 letters drawn
    "read_code": 1 / 16,  # two digits of four
    "arithmetic": 1 / 7,
    "rectangle_measure": 0.25,
    "circle_measure": 1 / 3,  # three radii
    "triangle_angle_choice": 0.25,
    "panel_order": 0.25,  # one of six orders, partial credit for the others
    "click_target": 0.25,  # one of four cells
    "relation": 0.5,
    "color_name": 1 / 4,
    "shape_name": 1 / 3,
    "object_name": 1 / 4,
    "object_choice": 0.25,
    "counting": 1 / 3,
    "ground_single": 0.25,
    "ground_multi": 0.4,  # one box of one or two, partial credit
    "search": 1 / 4,
}
MARGIN = 0.15


@pytest.fixture(scope="module")
def easy_text_only():
    train = list(generate_veromini(400, seed=1234, split="train", difficulty="easy"))
    held = list(generate_veromini(192, seed=1234, split="heldout", difficulty="easy"))
    return text_only_scores(train, held)


def test_text_only_baselines_stay_near_chance_on_the_easy_tasks(easy_text_only):
    assert set(easy_text_only) == set(EASY_CHANCE) | {"web_action"}
    too_high = {}
    for task, chance in EASY_CHANCE.items():
        s = easy_text_only[task]
        assert s["n"] >= 40
        if max(s["majority"], s["question"]) > chance + MARGIN:
            too_high[task] = (round(s["majority"], 2), round(s["question"], 2), chance)
    # web_action: the instruction names the action and the text to type; the element is in the image
    web = easy_text_only["web_action"]
    if max(web["majority_mark"], web["question_mark"]) > 1 / 4 + MARGIN:
        too_high["web_action (mark)"] = (web["majority_mark"], web["question_mark"], 1 / 4)
    assert too_high == {}


def test_text_only_baseline_catches_an_answer_written_into_the_question():
    """The check can fail: give the question the answer and the question baseline finds it."""
    rows = list(
        generate_veromini(240, seed=7, split="train", categories=["knowledge_recognition"], difficulty="easy")
    )
    leaky = [
        {**r, "question": f"{r['question']} (hint: {json.loads(r['answer'])[0]})"}
        for r in rows
        if r["data_source"] == "veromini/color_name"
    ]
    scores = text_only_scores(leaky[:40], leaky[40:])["color_name"]
    assert scores["question"] > 0.8 and scores["majority"] < 0.3
    assert TEXT_TASKS.isdisjoint(EASY_CHANCE)
