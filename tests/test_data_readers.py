"""Readers: the hub path (datasets.load_dataset) on a local dataset in the published Vero-600K schema,
verl-style JSONL/Parquet files with images as bytes or paths, canonical files, and ingestion."""

from __future__ import annotations

import base64
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from vero.categories import CATEGORIES, CATEGORY_NAMES
from vero.data.ingest import split_by_category
from vero.data.io import read_parquet_records, write_records
from vero.data.readers import (
    SourceError,
    is_dropped,
    iter_file_records,
    iter_hub_records,
    iter_source_records,
    map_ability,
    verl_row_to_record,
)
from vero.data.schema import validate_record


def png(w=80, h=60, color=(10, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def published_row(i: int, ability: str, source: str, image: bytes, *, answer="12", reward_type="numeric"):
    """One row exactly as the Vero-600K release lays it out (verl style)."""
    return {
        "id": f"{source}-{i}",
        "data_source": source,
        "prompt": [{"role": "user", "content": f"<image>What is the value {i}?"}],
        "images": [{"bytes": image, "path": None}],
        "ability": ability,
        "reward_model": {"style": "rule", "ground_truth": answer},
        "extra_info": {
            "answer": answer,
            "reward_type": reward_type,
            "tolerance": 0.05 if reward_type == "numeric" else None,
            "question": f"What is the value {i}?",
            "index": i,
            "id": f"{source}-{i}",
        },
    }


@pytest.fixture(scope="module")
def hub_dir(tmp_path_factory):
    """A local dataset directory with two configs (source datasets), as on the hub."""
    import datasets

    root = tmp_path_factory.mktemp("vero600k")
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "data_source": datasets.Value("string"),
            "prompt": datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")}),
            "images": datasets.List(datasets.Image()),
            "ability": datasets.Value("string"),
            "reward_model": {"style": datasets.Value("string"), "ground_truth": datasets.Value("string")},
            "extra_info": {
                "answer": datasets.Value("string"),
                "reward_type": datasets.Value("string"),
                "tolerance": datasets.Value("float64"),
                "question": datasets.Value("string"),
                "index": datasets.Value("int64"),
                "id": datasets.Value("string"),
            },
        }
    )
    configs = {"chartqa": "Chart & OCR", "geoqa": "math"}
    yaml_lines = ["---", "configs:"]
    for name, ability in configs.items():
        rows = [published_row(i, ability, name, png(80 + i, 60)) for i in range(3)]
        ds = datasets.Dataset.from_list(rows, features=features)
        (root / name).mkdir()
        ds.to_parquet(str(root / name / "train-00000-of-00001.parquet"))
        yaml_lines += [
            f"- config_name: {name}",
            "  data_files:",
            "  - split: train",
            f"    path: {name}/train-*.parquet",
        ]
    (root / "README.md").write_text("\n".join([*yaml_lines, "---", ""]))
    return root


@pytest.mark.parametrize("streaming", [False, True])
def test_hub_reader_on_a_local_dataset_in_the_published_schema(hub_dir, streaming):
    recs = list(iter_hub_records(str(hub_dir), [], "train", streaming=streaming))
    assert len(recs) == 6
    assert {r["category"] for r in recs} == {"chart_ocr", "stem"}
    for r in recs:
        assert validate_record(r) == [], r
        assert r["images"][0].startswith(b"\x89PNG")  # the encoded bytes, not a decoded image
        assert r["question"].startswith("What is the value")
        assert r["tolerance"] == 0.05 and r["reward_type"] == "numeric" and r["answer"] == "12"
    assert recs[1]["image_size"] == [81, 60]


def test_hub_reader_one_config_and_a_bad_one(hub_dir):
    recs = list(iter_hub_records(str(hub_dir), ["geoqa"], "train", streaming=True))
    assert {r["data_source"] for r in recs} == {"geoqa"}
    with pytest.raises(SourceError, match="nosuch"):
        list(iter_hub_records(str(hub_dir), ["nosuch"], "train"))


def test_source_dispatch_reads_the_hub_kind(hub_dir):
    data_cfg = {
        "source": {
            "kind": "hub",
            "hub_id": str(hub_dir),
            "configs": ["chartqa"],
            "split": "train",
            "streaming": True,
        },
        "synthetic": {"train_per_category": 1, "seed": 0, "add_to_train": True},
    }
    recs = list(iter_source_records(data_cfg))
    assert len(recs) == 3 + len(CATEGORIES)  # the hub rows, then one VeroMini row per category
    assert recs[-1]["data_source"].startswith("veromini/")


def test_ability_mapping_aliases_overrides_and_pass_through():
    # the release's six domain names, the paper's category names and the project's ids
    release = {
        "chart_ocr": "chart_ocr",
        "knowledge_recognition": "knowledge_recognition",
        "spatial_action": "spatial_action",
        "counting_grounding_search": "grounding_counting_search",
        "stem": "stem",
        "visual_alignment": "captioning_if",
    }
    for ability, category in release.items():
        assert map_ability(ability) == category
    for category, name in CATEGORY_NAMES.items():
        assert map_ability(name) == category and map_ability(category) == category
    assert map_ability("Grounding, Counting & Visual Search") == "grounding_counting_search"
    assert map_ability("captioning_if") == "captioning_if"
    assert map_ability("GUI") == "spatial_action"
    assert map_ability("chemistry", {"Chemistry": "stem"}) == "stem"
    assert map_ability("cooking") == "cooking"  # ingestion fails naming it (test_data_published.py)


def test_prompt_is_the_question_when_extra_info_has_none():
    row = published_row(0, "stem", "s", png())
    row["extra_info"]["question"] = ""
    row["prompt"] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "<image>\nHow many?"}]},
    ]
    assert verl_row_to_record(row)["question"] == "How many?"
    row["prompt"] = json.dumps([{"role": "user", "content": "<image>How many now?"}])
    assert verl_row_to_record(row)["question"] == "How many now?"


def test_jsonl_with_base64_images_paths_and_a_broken_line(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(png(70, 50))
    rows = [
        published_row(0, "stem", "files", b""),
        published_row(1, "knowledge", "files", b"", answer='["red"]', reward_type="list_string_match"),
        published_row(2, "stem", "files", b""),
    ]
    rows[0]["images"] = [{"bytes": base64.b64encode(png(90, 40)).decode(), "path": None}]
    rows[1]["images"] = [{"bytes": None, "path": "imgs/a.png"}]
    rows[2]["images"] = ["imgs/missing.png"]
    path = tmp_path / "train.jsonl"
    path.write_text(
        "\n".join(json.dumps(r) for r in rows[:2]) + "\n{broken json\n" + json.dumps(rows[2]) + "\n"
    )
    recs = list(iter_file_records([path]))
    assert len(recs) == 4
    assert recs[0]["image_size"] == [90, 40] and validate_record(recs[0]) == []
    assert recs[1]["image_size"] == [70, 50] and recs[1]["category"] == "knowledge_recognition"
    assert is_dropped(recs[2]) and recs[2]["_drop"] == "json_invalid"  # the broken line, counted
    assert recs[2]["_detail"].startswith(f"{path}:3: invalid JSON (")
    assert "no_image" in validate_record(recs[3])  # the missing image file


def test_verl_parquet_with_image_root(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "b.png").write_bytes(png(64, 64))
    rows = [published_row(0, "chart_ocr", "pq", png()), published_row(1, "chart_ocr", "pq", png())]
    rows[1]["images"] = [{"bytes": None, "path": "b.png"}]
    path = tmp_path / "data" / "x.parquet"
    path.parent.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), path)
    recs = list(iter_file_records([path], image_root=tmp_path / "root"))
    assert [r["image_size"] for r in recs] == [[80, 60], [64, 64]]
    assert all(validate_record(r) == [] for r in recs)


def test_canonical_parquet_passes_through(tmp_path):
    from vero.data.veromini import generate_veromini

    rows = list(generate_veromini(2, 0, "train", ["stem"]))
    write_records(tmp_path / "c.parquet", rows)
    back = [
        {k: v for k, v in r.items() if not k.startswith("_")}
        for r in iter_file_records([tmp_path / "c.parquet"])
    ]
    assert back == rows


def test_missing_or_unsupported_files_are_named(tmp_path):
    with pytest.raises(SourceError, match=r"nothere\.jsonl"):
        list(iter_file_records([tmp_path / "nothere.jsonl"]))
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(SourceError, match="unsupported"):
        list(iter_file_records([tmp_path / "x.csv"]))
    with pytest.raises(SourceError, match=r"data\.source\.paths"):
        list(iter_file_records([]))


def test_ingest_splits_by_category_and_counts_what_it_sets_aside(tmp_path):
    recs = [verl_row_to_record(published_row(i, "stem", "s", png())) for i in range(4)]
    recs.append(verl_row_to_record({"id": "empty"}))
    report = split_by_category(recs, tmp_path, max_per_category=3)
    assert report["rows_read"] == 5
    assert report["written"]["stem"] == 3 and report["written"]["chart_ocr"] == 0
    assert report["dropped"] == {"over_max_per_category": 1, "no_category": 1}
    assert report["by_category"]["stem"] == {"read": 4, "written": 3, "dropped": {"over_max_per_category": 1}}
    assert report["unattributed"] == {"read": 1, "dropped": {"no_category": 1}}
    assert len(list(read_parquet_records(tmp_path / "stem.parquet"))) == 3
    assert all((tmp_path / f"{c}.parquet").exists() for c in CATEGORIES)


def test_ingest_stops_reading_once_every_category_is_full(tmp_path):
    def endless():
        i = 0
        while True:
            yield verl_row_to_record(published_row(i, CATEGORIES[i % len(CATEGORIES)], "s", png()))
            i += 1

    report = split_by_category(endless(), tmp_path, max_per_category=2)
    assert report["stopped_early"] and report["rows_read"] == 2 * len(CATEGORIES)
    assert set(report["written"].values()) == {2}
