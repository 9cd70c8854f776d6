"""Mix file -> TRL rows: prompts, images, reward columns, dropped rows, SFT targets."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vero.categories import CATEGORIES
from vero.data.io import write_records
from vero.data.mixing import build_mix
from vero.data.veromini import generate_veromini
from vero.prompts import SYSTEM_PROMPT
from vero.train import data as train_data


def write_balanced_mix(path: Path, n_blocks: int = 4, seed: int = 5) -> Path:
    """A VeroMini mix built by the data stage's own mixer (blocks of six, one row per category)."""
    per_category = {}
    for c in CATEGORIES:
        per_category[c] = path.parent / f"{c}.parquet"
        write_records(per_category[c], generate_veromini(n_blocks, seed=seed, categories=[c]))
    build_mix(per_category, list(CATEGORIES), n_blocks, 6, None, seed, path)
    return path


@pytest.fixture(scope="module")
def mix(tmp_path_factory):
    return write_balanced_mix(tmp_path_factory.mktemp("mix") / "mixed.parquet")


def test_rl_rows_carry_prompt_images_and_reward_columns(mix):
    ds, report = train_data.load_mix(mix, mix_batch_size=6, single_category=False)
    assert len(ds) == 24 and report.kept == 24 and not report.dropped, report.as_dict()
    row = ds[0]
    assert row["prompt"][0]["role"] == "system"
    assert row["prompt"][0]["content"][0]["text"] == SYSTEM_PROMPT
    user = row["prompt"][1]["content"]
    assert [p["type"] for p in user] == ["image", "text"]
    assert len(row["images"]) == 1 and row["images"][0].size == tuple(row["image_size"])
    for col in ("reward_type", "answer", "tolerance", "category", "question", "id"):
        assert col in row
    # the mix's order is kept: every block of six has each category once
    cats = ds["category"]
    assert all(Counter(cats[i : i + 6]) == Counter(CATEGORIES) for i in range(0, 24, 6))


def test_custom_or_empty_system_prompt(mix):
    ds, _ = train_data.load_mix(mix, mix_batch_size=6, single_category=False, system_prompt="")
    assert ds[0]["prompt"][0]["role"] == "user"
    ds, _ = train_data.load_mix(mix, mix_batch_size=6, single_category=False, system_prompt="Be brief.")
    assert ds[0]["prompt"][0]["content"][0]["text"] == "Be brief."


def _corrupt_row(src: Path, dst: Path, index: int) -> Path:
    table = pq.read_table(src)
    images = table.column("images").to_pylist()
    images[index] = [b"\x89PNG not really an image"]
    table = table.set_column(
        table.schema.get_field_index("images"), "images", pa.array(images, pa.list_(pa.binary()))
    )
    pq.write_table(table, dst)
    return dst


def test_malformed_row_drops_its_block_in_a_balanced_mix(mix, tmp_path):
    bad = _corrupt_row(mix, tmp_path / "bad.parquet", 8)
    ds, report = train_data.load_mix(bad, mix_batch_size=6, single_category=False)
    assert report.dropped == Counter({"image_undecodable": 1, "block_of_dropped_row": 5}), report.as_dict()
    assert "row 8" in report.examples["image_undecodable"]
    assert len(ds) == 18
    cats = ds["category"]
    assert all(Counter(cats[i : i + 6]) == Counter(CATEGORIES) for i in range(0, 18, 6))
    # a single-category run only loses the row itself
    ds, report = train_data.load_mix(bad, mix_batch_size=6, single_category=True)
    assert len(ds) == 23 and report.dropped == Counter({"image_undecodable": 1})


def test_missing_column_and_missing_file_name_the_path(mix, tmp_path):
    table = pq.read_table(mix).drop_columns(["reward_type"])
    pq.write_table(table, tmp_path / "short.parquet")
    with pytest.raises(ValueError, match=r"short\.parquet: missing columns \['reward_type'\]"):
        train_data.load_mix(tmp_path / "short.parquet", mix_batch_size=6, single_category=False)
    with pytest.raises(FileNotFoundError, match=r"nope\.parquet"):
        train_data.load_mix(tmp_path / "nope.parquet", mix_batch_size=6, single_category=False)


def test_sft_rows_have_reference_targets(mix):
    ds, report = train_data.load_mix(mix, mix_batch_size=6, single_category=False, trainer="sft")
    # instruction_following rows have constraints but no reference text to imitate
    n_if = sum(
        1 for rt in pq.read_table(mix).column("reward_type").to_pylist() if rt == "instruction_following"
    )
    assert report.dropped.get("no_sft_target", 0) == n_if
    assert len(ds) == 24 - n_if, report.as_dict()
    for row in ds:
        target = row["completion"][0]["content"][0]["text"]
        assert target.startswith("<think>") and "</think><answer>" in target and target.endswith("</answer>")


@pytest.mark.parametrize(
    ("row", "coords", "expected"),
    [
        ({"reward_type": "numeric", "answer": "3.5"}, "absolute", "\\boxed{3.5}"),
        ({"reward_type": "list_string_match", "answer": '["sofa", "couch"]'}, "absolute", "\\boxed{sofa}"),
        ({"reward_type": "multiple_choice", "answer": "B"}, "absolute", "\\boxed{B}"),
        (
            {
                "reward_type": "grounding",
                "answer": '[{"bbox_2d": [10, 20, 50, 60], "label": "cat"}]',
                "image_size": [100, 200],
            },
            "qwen1000",
            [{"bbox_2d": [100, 100, 500, 300], "label": "cat"}],
        ),
        (
            {
                "reward_type": "clicking",
                "answer": '[{"bbox_2d": [10, 20, 50, 60]}]',
                "image_size": [100, 200],
            },
            "absolute",
            [{"point_2d": [30, 40]}],
        ),
        ({"reward_type": "llm_judge", "answer": "A red circle."}, "absolute", "A red circle."),
        (
            {
                "reward_type": "instruction_following_llm_judge",
                "answer": '{"instructions": [], "reference": "Hi."}',
            },
            "absolute",
            "Hi.",
        ),
        ({"reward_type": "instruction_following", "answer": '{"instructions": []}'}, "absolute", None),
    ],
)
def test_sft_answer_per_reward_type(row, coords, expected):
    got = train_data.sft_answer(row, coords)
    assert (json.loads(got) if isinstance(expected, list) else got) == expected
