"""Caches are keyed on the content they depend on (issue 11 item 3): the skill-extraction reply
cache (model weights, prompts, sampling settings, parser) and the datasets cache of local data."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vero.analysis.skills import get_extractor
from vero.analysis.skills.llm import model_dir_fingerprint

REPLY = '[{"label": "Chart reading", "description": "reads the bars"}]'


class Stub(BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        Stub.calls += 1
        body = json.dumps({"choices": [{"message": {"content": REPLY}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Stub.calls = 0
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


TRACE = "The bars read 10, 20 and 30; adding them gives 60."


def _extractor(url, cache, **kw):
    return get_extractor("llm", base_url=url, model=kw.pop("model", "m"), cache_dir=cache, **kw)


@pytest.mark.parametrize(
    "change",
    [
        {"model": "other-model"},
        {"temperature": 0.7},
        {"max_tokens": 64},
        {"max_trace_chars": 200},  # the prompt shows the trace's head and tail only
        {"extra_body": {"chat_template_kwargs": {"enable_thinking": True}}},
    ],
    ids=lambda c: next(iter(c)),
)
def test_skill_cache_is_never_reused_across_a_change(endpoint, tmp_path, change):
    first = _extractor(endpoint, tmp_path)
    assert first.extract_with_status(TRACE * 10, "stem")[1] == "ok"
    assert _extractor(endpoint, tmp_path).extract_with_status(TRACE * 10, "stem")[1] == "cached"
    changed = _extractor(endpoint, tmp_path, **change)
    assert changed.extract_with_status(TRACE * 10, "stem")[1] == "ok" and changed.calls == 1


def test_skill_cache_hits_are_parsed_again_by_the_current_parser(endpoint, tmp_path, monkeypatch):
    ex = _extractor(endpoint, tmp_path)
    ex.extract_with_status(TRACE, "stem")
    import vero.analysis.skills.llm as llm

    monkeypatch.setattr(llm, "parse_skill_reply", lambda raw: None)  # a parser that now rejects it
    again = _extractor(endpoint, tmp_path)
    assert again.extract_with_status(TRACE, "stem") == ([], "unparseable") and again.calls == 1


def test_local_model_identity_is_its_content(tmp_path):
    """The local backend's key follows the weights: a file rewritten in place (even with its old
    modification time put back) is another model; an untouched copy elsewhere is the same."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 8}')
    weights = model / "model.safetensors"
    weights.write_bytes(b"\x00" * 1000)
    memo = tmp_path / "memo.json"
    before = model_dir_fingerprint(model, memo)
    assert model_dir_fingerprint(model, memo) == before  # served from the memo
    stat = weights.stat()
    weights.write_bytes(b"\x01" * 1000)  # same size
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime
    after = model_dir_fingerprint(model, memo)
    assert after != before
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in model.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    assert model_dir_fingerprint(copy) == after
    ex_a = get_extractor("llm", backend="transformers", model=str(model), cache_dir=tmp_path / "c")
    ex_b = get_extractor("llm", backend="transformers", model=str(copy), cache_dir=tmp_path / "c")
    assert ex_a.cache_key(TRACE) == ex_b.cache_key(TRACE)


def test_a_local_dataset_is_read_directly_never_from_a_stale_datasets_cache(tmp_path, monkeypatch):
    """datasets keys its Arrow cache of local files on path and mtime: files swapped for others
    with the same times would be served from the old copy. A local directory is streamed."""
    import datasets

    from vero.data.readers import iter_hub_records

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))

    def write(answer: str):
        rows = [
            {
                "id": f"r{i}",
                "data_source": "src",
                "prompt": [{"role": "user", "content": f"<image>What is {i}?"}],
                "images": [{"bytes": _png(), "path": None}],
                "ability": "stem",
                "reward_model": {"style": "rule", "ground_truth": answer},
                "extra_info": {"answer": answer, "reward_type": "numeric", "question": f"What is {i}?"},
            }
            for i in range(3)
        ]
        shard = tmp_path / "ds" / "src" / "train-00000-of-00001.parquet"
        shard.parent.mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_list(rows).to_parquet(str(shard))
        readme = ["---", "configs:", "- config_name: src", "  data_files:", "  - split: train"]
        readme += ["    path: src/train-*.parquet", "---", ""]
        (tmp_path / "ds" / "README.md").write_text("\n".join(readme))
        return shard

    shard = write("1")
    first = [r["answer"] for r in iter_hub_records(str(tmp_path / "ds"), ["src"], "train", streaming=False)]
    stat = shard.stat()
    write("2")
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = [r["answer"] for r in iter_hub_records(str(tmp_path / "ds"), ["src"], "train", streaming=False)]
    assert first == ["1"] * 3 and second == ["2"] * 3
    assert not any((tmp_path / "hf-cache").rglob("*.arrow"))  # nothing was copied into the cache


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()
