"""The reward against the data contract: every VeroMini ground truth passes `check_ground_truth`, and a
completion that answers it exactly earns the full reward, in both coordinate systems."""

from __future__ import annotations

import json

import pytest

from vero.rewards import JUDGE_REWARD_TYPES, check_ground_truth, compute_reward

veromini = pytest.importorskip("vero.data.veromini")


@pytest.fixture(scope="module")
def records():
    return list(veromini.generate_veromini(6, seed=3))


def _perfect_answer(record: dict, coords: str) -> str:
    rt, gold = record["reward_type"], record["answer"]
    w, h = record["image_size"]
    sx, sy = (1000 / w, 1000 / h) if coords == "qwen1000" else (1.0, 1.0)
    if rt == "instruction_following":
        from vero.data.veromini.captioning import compliant_response

        return compliant_response(gold, "A red circle. A blue square")
    if rt == "grounding":
        boxes = [
            [b["bbox_2d"][0] * sx, b["bbox_2d"][1] * sy, b["bbox_2d"][2] * sx, b["bbox_2d"][3] * sy]
            for b in json.loads(gold)
        ]
        return json.dumps([{"bbox_2d": b} for b in boxes])
    if rt == "clicking":
        x1, y1, x2, y2 = json.loads(gold)[0]["bbox_2d"]
        return json.dumps([{"point_2d": [(x1 + x2) / 2 * sx, (y1 + y2) / 2 * sy]}])
    if rt == "list_string_match":
        return "\\boxed{" + json.loads(gold)[0] + "}"
    return "\\boxed{" + gold + "}"


def test_veromini_ground_truths_pass_the_load_time_check(records):
    assert {r["reward_type"] for r in records} >= {
        "numeric",
        "grounding",
        "clicking",
        "instruction_following",
    }
    for r in records:
        check_ground_truth(
            r["reward_type"], r["answer"], tolerance=r["tolerance"], image_size=r["image_size"]
        )


@pytest.mark.parametrize("coords", ["absolute", "qwen1000"])
def test_exact_answers_earn_the_full_reward(records, coords):
    for r in records:
        if r["reward_type"] in JUDGE_REWARD_TYPES:
            continue
        completion = f"<think>Looking at the image.</think>\n<answer>{_perfect_answer(r, coords)}</answer>"
        result = compute_reward(
            completion,
            reward_type=r["reward_type"],
            answer=r["answer"],
            tolerance=r["tolerance"],
            image_size=r["image_size"],
            coords=coords,
        )
        assert result.total == pytest.approx(1.0), (r["id"], r["reward_type"], r["answer"], result)
