"""Vero-600K as published, through the real readers and data steps: both layouts
(tests/fixtures/published_vero600k.py), every row accounted for, image bytes and answers unchanged,
the splits as read, the release's ability names, and the prompt the model sees."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.published_vero600k import SYSTEM_MESSAGE, build_published_sample, expected_outcome
from vero.categories import CATEGORIES
from vero.config import REPO_ROOT, deep_merge, load_config
from vero.data.ingest import UnknownAbilityError, split_by_category, write_json
from vero.data.io import read_parquet_records, write_records
from vero.data.readers import iter_source_records
from vero.data.stages import filter_report_stage, filter_stage, raw_stage
from vero.prompts import SYSTEM_PROMPT, TrainingPrompt

PRIVATE = ("_origin", "_where")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """Both layouts written, the hub copy read once (train and val) and ingested by the raw stage."""
    root = tmp_path_factory.mktemp("published")
    hub = build_published_sample(root / "hub", "hub")
    verl = build_published_sample(root / "verl", "verl")
    manifest = json.loads((root / "hub" / "manifest.json").read_text())["rows"]
    cfg = paper_config({**hub, "split": ["train", "val"]}, root / "results")
    hub_records = list(iter_source_records(cfg["data"]))
    raw = root / "results" / "data" / "raw"
    ingest = split_by_category(iter(hub_records), raw)
    write_json(raw / "ingest_report.json", ingest)
    return {
        "hub": hub,
        "verl": verl,
        "manifest": manifest,
        "root": root,
        "cfg": cfg,
        "records": [{k: v for k, v in r.items() if k not in PRIVATE} for r in hub_records],
        "raw": raw,
        "ingest": ingest,
    }


def paper_config(source: dict, results: Path, **data) -> dict:
    """The paper config with only the data location (and results_dir) changed."""
    return load_config(
        REPO_ROOT / "config" / "config.yaml",
        overrides={"results_dir": str(results), "data": deep_merge({"source": source}, data)},
    )


def records(cfg: dict) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in PRIVATE} for r in iter_source_records(cfg["data"])]


def test_both_layouts_read_to_the_same_records_with_splits_as_read(sample, tmp_path):
    hub = sample["records"]
    verl = records(paper_config(sample["verl"], tmp_path))
    key = lambda r: (r["id"], r["split"], r["answer"])  # noqa: E731
    assert sorted(hub, key=key) == sorted(verl, key=key)
    manifest = sample["manifest"]
    assert len(hub) == len(manifest) == 62
    assert (
        Counter(r["split"] for r in hub) == Counter(m["split"] for m in manifest) == {"train": 47, "val": 15}
    )
    assert {r["category"] for r in hub} == set(CATEGORIES)  # the release's six ability names map
    assert all(r["curated"] for r in hub)
    by_id = {(r["id"], r["split"]): r for r in hub}
    for m in manifest:
        r = by_id[(m["id"], m["split"])]
        assert r["category"] == m["category"] and r["reward_type"] == m["reward_type"]
        assert r["answer"] == m["answer"]  # unchanged, whatever its form
        assert [hashlib.sha256(b).hexdigest() for b in r["images"]] == [m["image_sha256"]]
        assert r["image_size"] == m["image_size"]
        assert r["question"] == m["question"].removeprefix("<image>\n")
        assert json.loads(r["messages"]) == [
            {"role": "system", "content": SYSTEM_MESSAGE},
            {"role": "user", "content": m["question"]},
        ]
    chart = {r["id"]: r["tolerance"] for r in hub if r["data_source"] == "chartqa_difficulty"}
    # tolerance as the release's script parses it: text -> float, not a number -> None, negative kept
    assert chart["chartqa_difficulty_train_0000"] == 0.05 and chart["chartqa_difficulty_train_0001"] is None
    assert chart["chartqa_difficulty_train_0002"] == -1.0
    assert {r["id"] for r in hub if r["data_source"] == "kvqa"} == {  # no id column: the release's form
        "kvqa_train_0",
        "kvqa_train_1",
        "kvqa_train_2",
        "kvqa_val_0",
    }


def test_every_row_accounted_for_per_category_source_and_reason(sample):
    cfg, raw = sample["cfg"], sample["raw"]
    d = raw.parent
    reports = []
    for cat in CATEGORIES:  # no held-out references: contamination is the workflow test's business
        filter_stage(cfg, cat, raw / f"{cat}.parquet", d / f"f/{cat}.parquet", d / f"f/{cat}.json", [])
        reports.append(d / f"f/{cat}.json")
    agg = filter_report_stage(cfg, reports, raw / "ingest_report.json", d / "fr.json", d / "fr.md")
    manifest = sample["manifest"]
    expected = Counter((m["category"], expected_outcome(m)) for m in manifest)
    for cat in CATEGORIES:
        line = agg["categories"][cat]
        assert line["read"] == sum(n for (c, _), n in expected.items() if c == cat)
        assert line["kept"] == expected[(cat, "kept")] > 0, cat
        assert line["unaccounted"] == 0
        assert line["dropped"] == {r: n for (c, r), n in expected.items() if c == cat and r != "kept"}, cat
    assert agg["total"]["read"] == sample["ingest"]["rows_read"] == len(manifest)
    assert agg["total"]["kept"] + agg["total"]["dropped_total"] == len(manifest)
    rejected = sum(expected_outcome(m) == "reward_rejects_gold" for m in manifest)
    assert agg["total"]["dropped"] == {
        "duplicate_row": 1,  # at ingestion: the same vqav2 row twice
        "unknown_reward_type": 1,  # exact_match, a name of the release's DATA.md its code does not take
        "answer_invalid": 2,  # a number_list that repeats an item, a box with 3 numbers
        "ifeval_args_missing": 2,  # the release would draw num_words, and CopySpanIdxChecker's n_start 0
        **(
            {"reward_rejects_gold": rejected} if rejected else {}
        ),  # golds the release grades and vero.rewards would not (none now)
    }
    assert agg["passed"] and agg["splits"] == {"train": 47, "val": 15}  # rows read, per split
    # per source: mmk12's 264x102 px rows stay (the published set is curated)
    assert agg["sources"]["mmk12"] == {**agg["sources"]["mmk12"], "read": 4, "kept": 4, "curated": True}
    assert agg["sources"]["vqav2"]["dropped"] == {"duplicate_row": 1}
    md = (d / "fr.md").read_text()
    assert "| captioning_if | 13 |" in md and "| mmk12 | stem | yes | 4 |" in md and "Status: passed" in md
    # the tables reach the HTML report as tables
    from vero.report.build import ReportInputs, build_report

    (d / "comparison.csv").write_text("experiment,benchmark,score\nbase,x,0.5\n")
    page = build_report(
        ReportInputs(d / "comparison.csv", filter_report_md=d / "fr.md"), d / "r.html"
    ).read_text()
    section = page[page.index('id="data-filtering"') :]
    assert (
        "<th>category</th><th>read</th>" in section
        and "<td>mmk12</td><td>stem</td><td>yes</td><td>4</td>" in section
    )
    assert "|---|" not in section
    # what came through: image bytes and answers unchanged
    kept = {
        (r["id"], r["split"]): r for cat in CATEGORIES for r in read_parquet_records(d / f"f/{cat}.parquet")
    }
    assert len(kept) == agg["total"]["kept"]
    for m in manifest:
        if expected_outcome(m) == "kept":
            r = kept[(m["id"], m["split"])]
            assert r["answer"] == m["answer"]
            assert hashlib.sha256(r["images"][0]).hexdigest() == m["image_sha256"]


def test_unknown_ability_values_fail_ingestion_naming_them_and_the_key(sample, tmp_path):
    train = Path(sample["verl"]["paths"][0])
    lines = train.read_text().splitlines()
    relabelled = [line.replace('"ability": "stem"', '"ability": "geometry_puzzles"') for line in lines]
    bad = tmp_path / "relabelled.jsonl"
    bad.write_text("\n".join(relabelled) + "\n")
    source = {**sample["verl"], "paths": [str(bad)]}
    with pytest.raises(UnknownAbilityError, match=r"data\.source\.ability_map") as err:
        raw_stage(paper_config(source, tmp_path), tmp_path / "raw", tmp_path / "ingest.json")
    assert "'geometry_puzzles' (6 rows, e.g." in str(err.value) and str(bad) in str(err.value)
    assert not (tmp_path / "raw" / "stem.parquet").exists()  # nothing half-written
    cfg = paper_config({**source, "ability_map": {"geometry_puzzles": "stem"}}, tmp_path)
    report = raw_stage(cfg, tmp_path / "raw", tmp_path / "ingest.json")
    assert report["by_category"]["stem"]["read"] == 6


def test_the_dataset_level_heuristics_screen_only_sources_that_are_not_curated(sample, tmp_path):
    stem = [{**r, "curated": False} for r in read_parquet_records(sample["raw"] / "stem.parquet")]
    write_records(tmp_path / "stem.parquet", stem)  # as if the same rows came from a source you add
    cfg = paper_config(sample["hub"], tmp_path, filter={"min_source_rows": 1})
    report = filter_stage(
        cfg, "stem", tmp_path / "stem.parquet", tmp_path / "out.parquet", tmp_path / "r.json", []
    )
    # 200K px mean: the 264x102 px source goes, the 512x512 px one stays
    assert report["dropped"] == {"source_low_resolution": 4} and report["kept"] == 4
    assert report["by_source"]["mmk12"]["dropped"] == {"source_low_resolution": 4}


def test_the_prompt_the_model_sees_is_a_config_choice(sample, tmp_path):
    row = next(r for r in sample["records"] if r["data_source"] == "mmk12")
    question = json.loads(row["messages"])[1]["content"]
    user = {
        "role": "user",
        "content": [{"type": "image"}, {"type": "text", "text": question[len("<image>") :]}],
    }
    own = {"role": "system", "content": [{"type": "text", "text": SYSTEM_MESSAGE}]}

    def seen(prompt_cfg, project=None):
        return TrainingPrompt.from_config(prompt_cfg, project).messages(row["question"], 1, row["messages"])

    assert seen({"system": "dataset"}) == [own, user]
    assert seen({"system": "project"}) == [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
        user,
    ]
    assert seen({"system": "project"}, "Be brief.")[0]["content"][0]["text"] == "Be brief."
    assert seen({"system": "none"}) == [user]
    prompt_file = tmp_path / "my_prompt.txt"
    prompt_file.write_text("Think first.\nThen answer.\n")
    mine = {"role": "system", "content": [{"type": "text", "text": "Think first.\nThen answer.\n"}]}
    assert seen({"system": "file", "file": str(prompt_file), "placement": "prepend"}) == [mine, own, user]
    assert seen({"system": "file", "file": str(prompt_file)}) == [mine, user]
    # a row without chat messages (VeroMini, canonical files): images first, then the question
    assert TrainingPrompt.from_config({"system": "dataset"}).messages("How many?", 2, "") == [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "How many?"}],
        }
    ]


def test_training_rows_carry_the_dataset_prompt_through_load_mix(sample, tmp_path):
    from vero.data.mixing import build_mix
    from vero.train.data import load_mix

    cfg = paper_config(sample["hub"], tmp_path, prompt={"system": "dataset"})
    build_mix({"stem": sample["raw"] / "stem.parquet"}, ["stem"], 6, 6, None, 0, tmp_path / "mix.parquet")
    ds, report = load_mix(
        tmp_path / "mix.parquet", mix_batch_size=6, single_category=True, prompt=cfg["data"]["prompt"]
    )
    assert len(ds) == 6 and not report.dropped
    for row in ds:
        assert row["prompt"][0]["content"][0]["text"] == SYSTEM_MESSAGE
        assert [p["type"] for p in row["prompt"][1]["content"]] == ["image", "text"]
        assert row["prompt"][1]["content"][1]["text"] == "\n" + row["question"]


def test_a_truncated_hub_shard_fails_naming_the_config_and_the_file(sample, tmp_path):
    import shutil

    from vero.data.readers import SourceError, iter_hub_records

    hub = tmp_path / "hub"
    shutil.copytree(sample["hub"]["hub_id"], hub)
    shard = hub / "mmk12" / "train-00000-of-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:3000])
    with pytest.raises(SourceError, match=r"config 'mmk12' split 'train'") as err:
        list(iter_hub_records(str(hub), ["mmk12"], "train", streaming=True))
    assert f"unreadable: {shard} (ArrowInvalid" in str(err.value)
