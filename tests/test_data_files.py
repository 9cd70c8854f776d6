"""Files that name themselves: every fault in a source file is counted with the file and the line
or row group (and the parser's message), or fails ingestion naming the file; duplicate ids."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from vero.config import REPO_ROOT, load_config
from vero.data.ingest import split_by_category
from vero.data.readers import SourceError, iter_file_records


def png(w=64, h=48, color=(10, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def line(i: int, *, answer: str = "12", rid: str | None = None, image: bytes | None = None) -> dict:
    return {
        "id": rid or f"s-{i}",
        "data_source": "s",
        "prompt": [{"role": "user", "content": f"<image>\nWhat is value {i}?"}],
        "images": [{"bytes": base64.b64encode(image or png(64 + i, 48)).decode(), "path": None}],
        "ability": "stem",
        "reward_model": {"style": "rule", "ground_truth": answer},
        "extra_info": {"answer": answer, "reward_type": "numeric", "tolerance": None},
    }


def test_jsonl_faults_are_counted_with_file_line_and_message(tmp_path):
    path = tmp_path / "src.jsonl"
    good = [json.dumps(line(i)).encode() for i in range(4)]
    body = [
        good[0],
        b'{"id": "bad-bytes", "note": "caf\xe9"}',  # Latin-1, not UTF-8
        good[1],
        b'{"id": "broken", "ability": ',
        b"[1, 2, 3]",
        b"",
        good[2],
        good[3],
    ]
    path.write_bytes(b"\n".join(body) + b"\n")
    items = list(iter_file_records([path]))
    drops = [r for r in items if "_drop" in r]
    assert [d["_drop"] for d in drops] == ["encoding_error", "json_invalid", "row_unreadable"]
    assert drops[0]["_detail"].startswith(f"{path}:2: not UTF-8 (") and "0xe9" in drops[0]["_detail"]
    assert drops[1]["_detail"] == f"{path}:4: invalid JSON (Expecting value: line 1 column 29 (char 28))"
    assert drops[2]["_detail"] == f"{path}:5: a list, not an object"
    report = split_by_category(items, tmp_path / "raw")
    assert report["rows_read"] == 7 and report["written"]["stem"] == 4
    assert report["dropped"] == {"encoding_error": 1, "json_invalid": 1, "row_unreadable": 1}
    assert report["by_source"]["src"]["dropped"] == report["dropped"]  # counted against the file
    assert report["unattributed"]["read"] == 3


def test_a_utf8_byte_order_mark_on_the_first_line_is_fine(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(line(0)).encode() + b"\n")
    (rec,) = iter_file_records([path])
    assert rec["id"] == "s-0"


def test_a_truncated_gzip_fails_naming_the_file_and_the_last_line(tmp_path):
    path = tmp_path / "src.jsonl.gz"
    data = gzip.compress(b"\n".join(json.dumps(line(i)).encode() for i in range(40)) + b"\n")
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"src\.jsonl\.gz: unreadable after line \d+ .*truncated"):
        list(iter_file_records([path]))


def _parquet(path: Path, rows: list[dict], group: int) -> None:
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=group, compression="zstd")


def test_a_truncated_parquet_fails_naming_the_file(tmp_path):
    path = tmp_path / "src.parquet"
    _parquet(path, [line(i) for i in range(6)], 2)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(
        SourceError, match=r"src\.parquet: not a readable Parquet file \(.*\); is it truncated"
    ):
        list(iter_file_records([path]))


def test_an_undecodable_row_group_drops_its_rows_and_names_it(tmp_path):
    path = tmp_path / "src.parquet"
    _parquet(path, [line(i, image=os.urandom(3000)) for i in range(6)], 2)  # incompressible pages
    meta = pq.ParquetFile(path).metadata
    col = meta.row_group(1).column(0)
    start = col.dictionary_page_offset or col.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + 8 : start + 40] = b"\xff" * 32  # garble the second row group's first page
    path.write_bytes(bytes(data))
    items = list(iter_file_records([path]))
    drops = [r for r in items if "_drop" in r]
    assert len(drops) == 1 and drops[0]["_drop"] == "row_group_unreadable" and drops[0]["_count"] == 2
    assert drops[0]["_detail"].startswith(f"{path} row group 1 of 3 (2 rows): ")
    report = split_by_category(items, tmp_path / "raw")
    assert report["rows_read"] == 6 and report["dropped"] == {"row_group_unreadable": 2}
    assert report["written"]["stem"] == 4  # the other row groups are read


def test_duplicate_ids_identical_or_conflicting(tmp_path):
    path = tmp_path / "src.jsonl"
    rows = [line(0), line(1), line(0), line(2, rid="s-1", answer="13"), line(3)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    report = split_by_category(iter_file_records([path]), tmp_path / "raw")
    assert report["dropped"] == {"duplicate_row": 1, "duplicate_id_conflict": 1}
    assert report["written"]["stem"] == 3  # one copy of s-0, the first s-1, s-3
    (same,) = report["examples"]["duplicate_row"]
    (conflict,) = report["examples"]["duplicate_id_conflict"]
    assert same == f"{path}:3: id 's-0' has the same content as a row read before in {path}"
    assert conflict == f"{path}:4: id 's-1' has different content from a row read before in {path}"


def test_the_raw_script_names_an_unreadable_file_without_a_traceback(tmp_path):
    path = tmp_path / "src.parquet"
    _parquet(path, [line(i) for i in range(4)], 2)
    path.write_bytes(path.read_bytes()[:50])
    cfg = load_config(REPO_ROOT / "config" / "demo.yaml")
    cfg["data"]["source"].update(kind="files", paths=[str(path)])
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    script = REPO_ROOT / "workflow_scripts" / "data_raw.py"
    cmd = [sys.executable, str(script), "--config-json", str(tmp_path / "cfg.json")]
    cmd += ["--out-dir", str(tmp_path / "raw"), "--report", str(tmp_path / "r.json")]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1].startswith(f"data_raw: {path}: not a readable Parquet file")
    assert "Traceback" not in run.stderr and not (tmp_path / "r.json").exists()
