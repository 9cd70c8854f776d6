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
    settings = F.FilterSettings(min_source_rows=3, min_source_mean_pixels=5000, min_image_pixels=1)
    stats = {"small": (2, 9999.0), "blurry": (10, 4000.0), "fine": (10, 6000.0)}
    check = F.RowChecker(settings, category="stem", source_stats=stats).check
    assert check(row(data_source="small"))[0] == F.SOURCE_TOO_SMALL
    assert check(row(data_source="blurry"))[0] == F.SOURCE_LOW_RESOLUTION
    assert check(row(data_source="fine")) is None


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


def _report(category, n, dropped):
    return {
        "category": category,
        "input_rows": n,
        "kept": n - sum(dropped.values()),
        "dropped_total": sum(dropped.values()),
        "drop_fraction": sum(dropped.values()) / n,
        "dropped": dropped,
        "examples": {},
    }


def test_aggregate_table_and_drop_limit():
    reports = {
        "chart_ocr": _report("chart_ocr", 10, {"duplicate": 1}),
        "stem": _report("stem", 10, {"no_image": 6}),
    }
    agg = F.aggregate_reports(reports, max_drop_fraction=0.5, ingest={"dropped": {"unknown_category": 2}})
    assert agg["over_limit"] == ["stem"] and not agg["passed"]
    assert agg["total"]["kept"] == 13 and agg["total"]["dropped"] == {"no_image": 6, "duplicate": 1}
    table = F.report_table(agg)
    assert "| category | input | kept | dropped % | no_image | duplicate |" in table
    assert "| stem **over limit** | 10 | 4 | 60.0 | 6 | 0 |" in table
    assert "| total | 20 | 13 | 35.0 | 6 | 1 |" in table
    md = F.report_markdown(agg)
    assert "unknown_category: 2" in md and "FAILED" in md
    with pytest.raises(F.FilterDropError, match="max_drop_fraction") as err:
        F.check_drop_limit(agg)
    assert table in str(err.value)
    F.check_drop_limit(F.aggregate_reports(reports, max_drop_fraction=0.6))


def test_settings_from_config_ignore_other_sections():
    s = F.FilterSettings.from_config(
        {"min_image_side": 10, "eval_sets": ["a"], "question_filter": {"enabled": False}}
    )
    assert s.min_image_side == 10 and s.eval_sets == ("a",)
