"""The canonical record: validation reason codes, answer forms, and streaming Parquet IO."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from vero.data import answers as A
from vero.data import schema as S
from vero.data.io import RecordWriter, count_rows, read_parquet_records, write_records


def png(w: int = 64, h: int = 48, color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def record(**over):
    base = S.make_record(
        id="r1",
        data_source="unit",
        category="stem",
        question="What is 2 + 3?",
        images=[png()],
        reward_type="numeric",
        answer="5",
    )
    base.update(over)
    return base


def test_valid_record_and_image_size_from_header():
    r = record()
    assert S.validate_record(r) == []
    assert r["image_size"] == [64, 48]
    assert S.to_pil_images(r)[0].size == (64, 48)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"question": 3}, S.SCHEMA_INVALID),
        ({"split": ""}, S.SCHEMA_INVALID),
        ({"image_size": [64]}, S.SCHEMA_INVALID),
        ({"tolerance": "0.1"}, S.SCHEMA_INVALID),
        ({"category": "cooking"}, S.UNKNOWN_CATEGORY),
        ({"reward_type": "vibes"}, S.UNKNOWN_REWARD_TYPE),
        ({"images": []}, S.NO_IMAGE),
        ({"images": [b""]}, S.NO_IMAGE),
        ({"answer": "five-ish"}, S.ANSWER_INVALID),
        ({"tolerance": float("nan")}, S.TOLERANCE_INVALID),
        ({"tolerance": float("inf")}, S.TOLERANCE_INVALID),
        ({"answer": "   "}, S.ANSWER_INVALID),
    ],
)
def test_reason_codes(change, code):
    assert code in S.validate_record(record(**change))


def test_missing_field_is_schema_invalid():
    r = record()
    del r["answer"]
    assert S.validate_record(r) == [S.SCHEMA_INVALID]
    assert S.validate_record("not a row") == [S.SCHEMA_INVALID]


@pytest.mark.parametrize(
    ("reward_type", "answer", "ok"),
    [
        # every form the release's reward grades is kept, read as it reads them
        ("counting", "7", True),
        ("counting", "seven", True),  # string match: the model must write "seven"
        ("counting", "?!", False),  # normalizes to nothing: no prediction can match
        ("multiple_choice", "A", True),
        ("multiple_choice", "(c)", True),
        ("multiple_choice", "B. cat", True),
        ("multiple_choice", "---", False),
        ("numeric", "3/4", True),
        ("numeric", "\\frac{3}{4}", True),
        ("numeric", "nan", False),
        ("list_string_match", '["red", "crimson"]', True),
        ("list_string_match", "['sofa', 'couch']", True),
        ("list_string_match", "red", True),
        ("list_string_match", "[]", False),  # an empty list: no synonym to match
        ("number_list", "[3, 1, 2]", True),
        ("number_list", "2, 0, 1", True),
        ("number_list", "[1, 1, 2]", False),
        ("number_list", "none", False),
        ("web_action", '{"ACTION": "CLICK", "MARK": 3}', True),
        ("web_action", "{'ACTION': 'TYPE', 'VALUE': 'x'}", True),
        ("web_action", '{"MARK": -1, "VALUE": "None"}', False),
        ("web_action", '{"foo": 1}', False),
        ("grounding", '[{"bbox_2d": [1, 2, 30, 40], "label": "x"}]', True),
        ("grounding", '[{"bbox_2d": [1, 2, 300, 40]}]', True),  # beyond the image: still gradable
        ("grounding", '[{"bbox_2d": [30, 2, 1, 40]}]', False),
        ("grounding", '[{"bbox_2d": [1, 2, 3]}]', False),
        ("clicking", '[{"bbox_2d": [1, 2, 30, 40]}]', True),
        ("clicking", "[1, 2]", False),
        ("instruction_following", '{"instructions": [{"class": "punctuation:no_comma", "args": {}}]}', True),
        (
            "instruction_following",
            json.dumps(json.dumps({"instructions": [{"class": "punctuation:no_comma", "args": {}}]})),
            True,
        ),
        ("instruction_following", '{"instructions": [{"class": "no:such_check", "args": {}}]}', False),
        ("instruction_following", '{"instructions": []}', False),
        ("instruction_following_llm_judge", '{"instructions": [{"class": "punctuation:no_comma"}]}', True),
        ("instruction_following_llm_judge", "plain text", False),
        ("llm_judge", "A cat on a mat.", True),
    ],
)
def test_answer_forms_the_release_grades(reward_type, answer, ok):
    verdict = A.answer_verdict(reward_type, answer, None)
    assert (verdict is None) == ok, verdict


def test_ifeval_missing_arguments_have_their_own_reason():
    gold = json.dumps(
        {"instructions": [{"class": "length_constraints:number_words", "args": {"relation": "at least"}}]}
    )
    code, detail = A.answer_verdict("instruction_following", gold)
    assert code == S.IFEVAL_ARGS_MISSING and "num_words" in detail
    assert S.validate_record(
        record(reward_type="instruction_following", answer=gold, category="captioning_if")
    ) == [S.IFEVAL_ARGS_MISSING]


@pytest.mark.parametrize(
    ("instruction", "code"),
    [
        ({"class": "LowercaseCountingChecker", "args": {"N": 5}}, None),  # IFEvalG's, beyond IFEval
        (
            {"class": "CheckWhetherResponseWordCountInRange", "args": {"lower_bound": 1, "upper_bound": 9}},
            None,
        ),
        ({"class": "count:lowercase_counting", "args": {"N": 5}}, None),  # an IFEvalG id
        (
            {"class": "CheckWhetherResponseWordCountInRange", "args": {"lower_bound": 1}},
            "ifeval_args_missing",
        ),
        (  # a 0 the release tests with `not`: drawn at random at every call
            {
                "class": "CopySpanIdxChecker",
                "args": {"prompt_to_repeat": "abc def", "n_start": 0, "n_end": 3},
            },
            "ifeval_args_missing",
        ),
        ({"class": "Instruction", "args": {}}, "reward_rejects_gold"),  # the base class checks nothing
    ],
)
def test_ifeval_checkers_come_from_the_rewards_table(instruction, code):
    verdict = A.answer_verdict("instruction_following", json.dumps({"instructions": [instruction]}))
    assert (verdict[0] if verdict else None) == code, verdict


def test_every_instruction_the_release_follows_in_the_reward_corpus_is_kept():
    """Single-instruction golds of the reward's differential corpus that the release followed, with no
    value drawn: the data stage keeps every one (it accepts what the reward grades)."""
    from vero.rewards.ifeval import instruction_status, load_instruction_payload

    corpus = Path(__file__).parent / "data" / "reward_corpus" / "cases.jsonl"
    seen = set()
    for line in corpus.read_text().splitlines():
        case = json.loads(line)
        items = load_instruction_payload(case["answer"]).get("instructions") or []
        if (
            case["reward_type"] != "instruction_following"
            or len(items) != 1
            or case["release"]["accuracy"] != 1
        ):
            continue
        item = items[0]
        if not isinstance(item, dict) or instruction_status(item.get("class"), item.get("args")) != "fixed":
            continue
        assert A.answer_verdict("instruction_following", case["answer"]) is None, case["id"]
        seen.add(item["class"])
    assert len(seen) >= 70  # nearly every checker class of the release's library


def test_tolerance_as_the_release_reads_it():
    assert A.effective_tolerance(-0.1) is None and A.effective_tolerance("0.05") == 0.05
    assert A.effective_tolerance("n/a") is None and A.effective_tolerance(None) is None
    assert S.validate_record(record(tolerance=-0.1)) == []  # the release ignores a negative tolerance


def test_normalize_question_ignores_case_accents_punctuation_and_placeholders():
    assert S.normalize_question("<image>What  is the CAFÉ's name?") == S.normalize_question(
        "what is the cafe s name"
    )


def test_write_and_read_in_row_groups(tmp_path):
    rows = [record(id=f"r{i}", answer=str(i)) for i in range(23)]
    path = tmp_path / "x.parquet"
    assert write_records(path, rows, row_group_size=5) == 23
    assert pq.ParquetFile(path).num_row_groups == 5
    assert count_rows(path) == 23
    back = list(read_parquet_records(path, batch_size=4))
    assert back == rows
    assert [r["id"] for r in read_parquet_records(path, columns=["id"])] == [f"r{i}" for i in range(23)]
    assert not (tmp_path / "x.parquet.partial").exists()


def test_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "y.parquet"
    with pytest.raises(RuntimeError), RecordWriter(path) as w:
        w.write(record())
        raise RuntimeError("boom")
    assert not path.exists()
    assert not (tmp_path / "y.parquet.partial").exists()


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.parquet"):
        list(read_parquet_records(tmp_path / "nope.parquet"))


def test_structured_answer_accepts_python_literals():
    assert S.parse_structured("{'ACTION': 'CLICK'}") == {"ACTION": "CLICK"}
    assert S.parse_structured(json.dumps([1, 2])) == [1, 2]
    with pytest.raises(ValueError):
        S.parse_structured("{not valid")


def test_reading_holds_one_row_group_of_arrow_memory(tmp_path):
    import os

    import pyarrow as pa

    blob = os.urandom(10_000)
    rows = [record(id=f"r{i}", images=[blob + i.to_bytes(4, "big")]) for i in range(2000)]  # ~20 MB
    write_records(tmp_path / "big.parquet", rows, row_group_size=50)
    peak = 0
    for _ in read_parquet_records(tmp_path / "big.parquet"):
        peak = max(peak, pa.total_allocated_bytes())
    assert peak < 3_000_000  # one 50-row group is ~0.5 MB; the whole file would be ~20 MB
