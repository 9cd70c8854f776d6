"""Filtering: one reason code per dropped row, dedup, contamination, reports and the drop limit."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from vero.data import filtering as F
from vero.data import schema as S
from vero.data.io import read_parquet_records, write_records


def png(w=64, h=64, color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def row(i=0, **over):
    base = S.make_record(
        id=f"r{i}",
        data_source="src",
        category="stem",
        question=f"What is {i} plus three?",
        images=[png(64, 64, (i % 250, 10, 10))],
        reward_type="numeric",
        answer=str(i + 3),
    )
    base.update(over)
    return base


SETTINGS = F.FilterSettings(min_image_side=28, min_image_pixels=1000, min_source_rows=1, min_question_chars=5)


def reason_of(r, settings=SETTINGS, **kw):
    return F.RowChecker(settings, category="stem", **kw).check(r)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"id": 5}, S.SCHEMA_INVALID),
        ({"category": "chart_ocr"}, S.SCHEMA_INVALID),  # a row in another category's file
        ({"category": "cooking"}, S.UNKNOWN_CATEGORY),
        ({"reward_type": "vibes"}, S.UNKNOWN_REWARD_TYPE),
        ({"images": []}, S.NO_IMAGE),
        ({"answer": "[1, 2]", "reward_type": "grounding"}, S.ANSWER_INVALID),
        ({"images": [b"\x89PNG\r\n\x1a\nnot really"]}, S.IMAGE_UNDECODABLE),
        ({"images": [png()[:60]]}, S.IMAGE_UNDECODABLE),  # truncated
        ({"image_size": [10, 10]}, S.IMAGE_SIZE_MISMATCH),
        ({"images": [png(20, 200)], "image_size": [20, 200]}, F.LOW_RESOLUTION),
        ({"images": [png(30, 30)], "image_size": [30, 30]}, F.LOW_RESOLUTION),
        ({"question": "Why?"}, F.QUESTION_TOO_SHORT),
        ({"question": "x" * 5000}, F.QUESTION_TOO_LONG),
    ],
)
def test_single_row_reasons(change, code):
    assert reason_of(row(**change))[0] == code
    assert reason_of(row()) is None


def test_source_rules_use_the_whole_file_statistics():
    settings = F.FilterSettings(
        min_source_rows=3, min_source_mean_pixels=5000, min_image_pixels=1, drop_binary_only_sources=True
    )
    stats = {
        "small": F.SourceStats(2, 9999.0, False),
        "blurry": F.SourceStats(10, 4000.0, False),
        "yesno": F.SourceStats(10, 9999.0, True),
        "fine": F.SourceStats(10, 6000.0, False),
    }
    check = F.RowChecker(settings, category="stem", source_stats=stats).check
    assert check(row(data_source="small"))[0] == F.SOURCE_TOO_SMALL
    assert check(row(data_source="blurry"))[0] == F.SOURCE_LOW_RESOLUTION
    assert check(row(data_source="yesno"))[0] == F.SOURCE_BINARY_ONLY
    assert check(row(data_source="fine")) is None
    # curated rows (the published set) are not screened by the dataset-level heuristics
    for i, name in enumerate(("small", "blurry", "yesno")):
        assert check(row(50 + i, data_source=name, curated=True)) is None


def test_source_statistics_and_the_curated_flag_through_a_file(tmp_path):
    rows = [row(i, data_source="tiny", images=[png(264, 102)], image_size=[264, 102]) for i in range(3)]
    rows += [
        row(10 + i, data_source="yesno", answer="yes", reward_type="string_match", images=[png(200, 200)])
        for i in range(2)
    ]
    for r in rows:
        r["image_size"] = list(S.image_dimensions(r["images"][0]))
    rows += [dict(r, id=r["id"] + "-c", curated=True, question=r["question"] + " (copy)") for r in rows]
    write_records(tmp_path / "raw.parquet", rows)
    stats = F.source_statistics(tmp_path / "raw.parquet")
    assert stats["tiny"] == F.SourceStats(6, 264 * 102, False) and stats["yesno"].binary_only
    # 264 x 102 px (a published mmk12 row) is under 30K px: only the copies marked curated stay
    settings = F.FilterSettings(
        min_source_mean_pixels=30_000, min_image_pixels=1, drop_binary_only_sources=True
    )
    report = F.filter_file(tmp_path / "raw.parquet", tmp_path / "out.parquet", settings, category="stem")
    assert report["kept"] == 5 and report["dropped"] == {F.SOURCE_LOW_RESOLUTION: 3, F.SOURCE_BINARY_ONLY: 2}
    assert report["by_source"]["tiny"] == {
        "input_rows": 6,
        "kept": 3,
        "dropped": {F.SOURCE_LOW_RESOLUTION: 3},
        "curated": True,
    }


def test_duplicates_need_same_images_and_normalized_question():
    checker = F.RowChecker(SETTINGS, category="stem")
    assert checker.check(row(1)) is None
    assert checker.check(row(1, id="copy", question="WHAT is 1 plus three")) == (
        F.DUPLICATE,
        "same images and normalized question as an earlier row",
    )
    assert checker.check(row(1, id="other-image", images=[png(64, 64, (1, 99, 9))])) is None
    assert checker.check(row(1, id="other-question", question="What is 1 minus three?")) is None
    off = F.RowChecker(F.FilterSettings(min_source_rows=1, deduplicate=False), category="stem")
    assert off.check(row(1)) is None and off.check(row(1)) is None


def test_contamination_by_image_hash_or_normalized_question(tmp_path):
    evaluation = [row(100, question="How many sides does a hexagon have?"), row(101)]
    write_records(tmp_path / "heldout.parquet", evaluation)
    index = F.ContaminationIndex.from_files([tmp_path / "heldout.parquet"])
    check = F.RowChecker(SETTINGS, category="stem", contamination=index).check
    same_image = row(7, images=evaluation[0]["images"])
    same_question = row(8, question="how many SIDES does a hexagon have")
    assert check(same_image)[0] == F.CONTAMINATED
    assert check(same_question) == (F.CONTAMINATED, "question appears in an evaluation set")
    assert check(row(9)) is None
    multi = row(10, images=[png(64, 64, (5, 5, 5)), evaluation[1]["images"][0]])
    assert check(multi)[0] == F.CONTAMINATED  # any one shared image is enough
    with pytest.raises(FileNotFoundError, match="eval_sets"):
        F.ContaminationIndex.from_files([tmp_path / "missing.parquet"])


def test_contamination_reference_may_be_verl_jsonl(tmp_path):
    line = {
        "id": "e1",
        "data_source": "bench",
        "prompt": [{"role": "user", "content": "<image>What is 3 plus three?"}],
        "images": [],
        "ability": "stem",
        "extra_info": {"answer": "6", "reward_type": "numeric"},
    }
    (tmp_path / "bench.jsonl").write_text(json.dumps(line) + "\n")
    index = F.ContaminationIndex.from_files([tmp_path / "bench.jsonl"])
    assert F.RowChecker(SETTINGS, category="stem", contamination=index).check(row(3))[0] == F.CONTAMINATED


def test_filter_file_writes_kept_rows_and_a_report(tmp_path):
    rows = [row(i) for i in range(10)]
    rows[3] = row(3, images=[])
    rows[5] = dict(rows[4], id="dup")
    rows[7] = row(7, answer="seven")
    write_records(tmp_path / "raw.parquet", rows, row_group_size=3)
    report = F.filter_file(tmp_path / "raw.parquet", tmp_path / "out.parquet", SETTINGS, category="stem")
    kept = list(read_parquet_records(tmp_path / "out.parquet"))
    assert [r["id"] for r in kept] == ["r0", "r1", "r2", "r4", "r6", "r8", "r9"]
    assert report["input_rows"] == 10 and report["kept"] == 7
    assert report["dropped"] == {S.NO_IMAGE: 1, S.ANSWER_INVALID: 1, F.DUPLICATE: 1}
    assert report["drop_fraction"] == pytest.approx(0.3)
    assert report["examples"][F.DUPLICATE] == ["dup: same images and normalized question as an earlier row"]
    assert report["settings"]["min_image_pixels"] == 1000


def test_question_scorer_sees_only_surviving_rows_and_its_verdicts_count(tmp_path):
    seen = []

    def scorer(batch):
        seen.extend(r["id"] for r in batch)
        return [("question_filter_rejected", "low") if r["id"] == "r2" else None for r in batch]

    write_records(tmp_path / "raw.parquet", [row(i) for i in range(4)] + [row(9, images=[])])
    report = F.filter_file(
        tmp_path / "raw.parquet", tmp_path / "out.parquet", SETTINGS, category="stem", question_scorer=scorer
    )
    assert seen == ["r0", "r1", "r2", "r3"]
    assert report["dropped"] == {S.NO_IMAGE: 1, F.QUESTION_FILTER_REJECTED: 1}


def _report(category, n, dropped, source="src"):
    kept = n - sum(dropped.values())
    return {
        "category": category,
        "input_rows": n,
        "kept": kept,
        "dropped_total": sum(dropped.values()),
        "drop_fraction": sum(dropped.values()) / n,
        "dropped": dropped,
        "examples": {r: [f"x: {r} detail"] for r in dropped},
        "by_source": {source: {"input_rows": n, "kept": kept, "dropped": dropped, "curated": False}},
    }


def _ingest(by_category, unattributed=None):
    """An ingest report: {category: (read, {reason: n})}; what was not dropped was written."""
    out = {"rows_read": 0, "dropped": {}, "by_category": {}, "by_source": {}, "examples": {}}
    for cat, (read, dropped) in by_category.items():
        written = read - sum(dropped.values())
        out["by_category"][cat] = {"read": read, "written": written, "dropped": dropped}
        out["by_source"][f"{cat}-src"] = {
            "read": read,
            "written": written,
            "dropped": dropped,
            "categories": {cat: read},
        }
        out["rows_read"] += read
        for r, n in dropped.items():
            out["dropped"][r] = out["dropped"].get(r, 0) + n
    if unattributed:
        out["unattributed"] = {"read": sum(unattributed.values()), "dropped": unattributed}
        out["rows_read"] += sum(unattributed.values())
        for r, n in unattributed.items():
            out["dropped"][r] = out["dropped"].get(r, 0) + n
    return out


def test_aggregate_table_and_drop_limit():
    reports = {
        "chart_ocr": _report("chart_ocr", 10, {"duplicate": 1}, "chart-src"),
        "stem": _report("stem", 10, {"no_image": 6}, "stem-src"),
    }
    agg = F.aggregate_reports(reports, max_drop_fraction=0.5)
    assert agg["over_limit"] == ["stem"] and not agg["passed"]
    assert agg["total"]["kept"] == 13 and agg["total"]["dropped"] == {"no_image": 6, "duplicate": 1}
    table = F.report_table(agg)
    assert "| category | read | no_image | duplicate | kept | lost % |" in table
    assert "| stem **over limit** | 10 | 6 | 0 | 4 | 60.0 |" in table
    assert "| total | 20 | 6 | 1 | 13 | 35.0 |" in table
    md = F.report_markdown(agg)
    assert "| stem-src | stem | no | 10 | 6 | 0 | 4 | 60.0 |" in md and "FAILED" in md
    with pytest.raises(F.FilterDropError, match="max_drop_fraction") as err:
        F.check_drop_limit(agg)
    assert table in str(err.value)
    F.check_drop_limit(F.aggregate_reports(reports, max_drop_fraction=0.6))


def test_ingestion_losses_count_against_the_limit_and_every_row_is_accounted_for():
    ingest = _ingest(
        {"chart_ocr": (14, {"duplicate_id_conflict": 4}), "stem": (12, {"over_max_per_category": 2})},
        unattributed={"json_invalid": 3},
    )
    reports = {"chart_ocr": _report("chart_ocr", 10, {"duplicate": 1}), "stem": _report("stem", 10, {})}
    agg = F.aggregate_reports(reports, 0.3, ingest, ["chart_ocr", "stem"])
    chart = agg["categories"]["chart_ocr"]
    assert chart["read"] == 14 and chart["kept"] == 9 and chart["unaccounted"] == 0
    assert chart["dropped"] == {"duplicate_id_conflict": 4, "duplicate": 1}
    assert chart["lost_fraction"] == pytest.approx(5 / 14)  # over 0.3 only because ingestion counts
    stem = agg["categories"]["stem"]
    assert stem["lost"] == 0 and stem["lost_fraction"] == 0.0  # the cap is a choice, not a loss
    assert agg["total"]["read"] == 29 and agg["total"]["kept"] == 19 and agg["total"]["unaccounted"] == 0
    assert agg["over_limit"] == ["chart_ocr"] and agg["unattributed"]["dropped"] == {"json_invalid": 3}
    md = F.report_markdown(agg)
    assert "| chart_ocr **over limit** | 14 | 0 | 4 | 0 | 1 | 9 | 35.7 |" in md
    assert "Rows with no category (counted in the total only): 3 (json_invalid: 3)." in md
    # a filter report from another run leaves rows unaccounted for: the stage fails
    stale = {**reports, "stem": _report("stem", 8, {})}
    agg = F.aggregate_reports(stale, 0.9, ingest, ["chart_ocr", "stem"])
    assert agg["unaccounted"] == {"stem": 2, "total": 2} and not agg["passed"]
    with pytest.raises(F.FilterDropError, match="different runs"):
        F.check_drop_limit(agg)


def test_an_empty_category_fails_naming_it_and_the_reason():
    reports = {
        "stem": _report("stem", 4, {"low_resolution": 4}),
        "chart_ocr": _report("chart_ocr", 4, {}),
    }
    ingest = _ingest({"stem": (4, {}), "chart_ocr": (4, {})})
    agg = F.aggregate_reports(reports, 1.0, ingest, ["stem", "chart_ocr", "spatial_action"])
    assert set(agg["empty"]) == {"stem", "spatial_action"}
    assert "4 of them as low_resolution" in agg["empty"]["stem"]
    assert "no row read maps to spatial_action" in agg["empty"]["spatial_action"]
    with pytest.raises(F.CategoryEmptyError, match=r"stem: all 4 rows read were dropped") as err:
        F.check_drop_limit(agg)
    assert "data.source.ability_map" in str(err.value)
    # a category no experiment trains on may stay empty
    F.check_drop_limit(F.aggregate_reports(reports | {"stem": _report("stem", 4, {})}, 1.0, ingest, ["stem"]))


def test_settings_from_config_ignore_other_sections():
    s = F.FilterSettings.from_config(
        {"min_image_side": 10, "eval_sets": ["a"], "question_filter": {"enabled": False}}
    )
    assert s.min_image_side == 10 and s.eval_sets == ("a",)
