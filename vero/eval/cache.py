"""The generation-output cache of an evaluation job, keyed on what the outputs depend on.

A job keeps its generated outputs beside its JSONL (`<out>.generated.json`) until scoring has
succeeded, so a rerun after a scoring failure (a judge outage) does not generate again. The key
(`generation_key`) is a hash of:
- the model's content (`model_fingerprint`): for a model directory, the SHA-256 of every file that
  shapes generation (weights, config, tokenizer, processor, chat template; not optimizer or trainer
  state), or with `eval.cache.weights_hash: stat` the weight files' size and mtime plus the SHA-256
  of the small files; for a hub id, the cached snapshot's commit and files, or the id alone when
  the model is not in the local hub cache (then a new upload under the same id is not seen);
- the samples: ids, prompt texts and turns, SHA-256 of every image;
- the generation settings (sampling, system turn, backend and its model-facing arguments);
- the code: the package version and the source of the modules that build prompts and generate.
So a retrain into the same run directory, a changed prompt or a new sampling setting never reuses
outputs. Content hashes are remembered per (path, size, mtime, inode) in
`<results_dir>/eval/.cache/file_sha256.json`, so the 30 jobs of one checkpoint hash it once
(jobs running at the same moment may each hash it).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vero.config import config_hash

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".msgpack", ".h5")
# files of a checkpoint directory that do not shape generation (trainer and optimizer state)
IGNORED = ("optimizer", "scheduler", "rng_state", "trainer_state", "training_args", "scaler")
CODE_MODULES = ("backends.py", "prompting.py", "samples.py", "images.py", "rows.py", "expand.py", "cache.py")
CACHE_FORMAT = 2


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


class _Memo:
    """SHA-256 of files, remembered by (path, size, mtime_ns, inode) in a JSON file."""

    def __init__(self, path: Path | None):
        self.path = path
        self.data: dict = {}
        if path and path.exists():
            try:
                self.data = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                self.data = {}
        self.dirty = False

    def sha(self, f: Path) -> str:
        st = f.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        key = str(f.resolve())
        hit = self.data.get(key)
        if hit and hit[:3] == stamp:
            return hit[3]
        digest = _sha256(f)
        self.data[key] = [*stamp, digest]
        self.dirty = True
        return digest

    def save(self) -> None:
        if self.path and self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.data, indent=0, sort_keys=True))
            os.replace(tmp, self.path)


def _model_files(root: Path) -> list[Path]:
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    return [
        p for p in files if not any(p.name.startswith(ign) for ign in IGNORED) and ".cache" not in p.parts
    ]


def directory_fingerprint(root: Path, *, mode: str = "content", memo: _Memo | None = None) -> dict:
    """Per file (relative path): SHA-256 of its bytes; in `stat` mode weight files give
    [size, mtime_ns] instead."""
    memo = memo or _Memo(None)
    out: dict[str, Any] = {}
    for f in _model_files(root):
        rel = str(f.relative_to(root))
        if mode == "stat" and f.suffix in WEIGHT_SUFFIXES:
            st = f.stat()
            out[rel] = [st.st_size, st.st_mtime_ns]
        else:
            out[rel] = memo.sha(f)
    return out


def model_fingerprint(model: str, *, mode: str = "content", memo_path: Path | None = None) -> dict:
    """What the model a job generates with is, as content (see the module docstring)."""
    memo = _Memo(memo_path)
    path = Path(model)
    try:
        if path.is_dir():
            return {
                "kind": "directory",
                "mode": mode,
                "files": directory_fingerprint(path, mode=mode, memo=memo),
            }
        try:
            from huggingface_hub import snapshot_download

            snap = Path(snapshot_download(repo_id=model, local_files_only=True))
        except Exception:
            return {"kind": "hub_id", "id": model, "resolved": False}
        files = directory_fingerprint(snap, mode=mode, memo=memo)
        return {"kind": "hub_snapshot", "id": model, "revision": snap.name, "mode": mode, "files": files}
    finally:
        memo.save()


def code_version() -> dict:
    """The package version and a hash of the generation path's source files."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg = version("vero")
    except PackageNotFoundError:
        pkg = "unknown"
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in CODE_MODULES:
        h.update(name.encode() + b"\0" + (here / name).read_bytes())
    return {"package": pkg, "source_sha256": h.hexdigest(), "cache_format": CACHE_FORMAT}


def samples_fingerprint(samples: Sequence) -> str:
    """Hash of what the model is shown: ids, prompt texts, turns, image bytes."""
    h = hashlib.sha256()
    for s in samples:
        h.update(json.dumps([s.id, s.question, s.messages], sort_keys=True, default=str).encode())
        for img in s.images:
            h.update(hashlib.sha256(img).digest())
    return h.hexdigest()


def generation_key(
    *, model: Mapping, samples: Sequence, settings: Mapping, benchmark: Mapping
) -> tuple[str, dict]:
    """(key, the parts it hashes) of one job's generated outputs."""
    parts = {
        "model": model,
        "samples": samples_fingerprint(samples),
        "settings": dict(settings),
        "benchmark": dict(benchmark),
        "code": code_version(),
    }
    return config_hash(parts), parts


def read_generated(path: Path, key: str) -> tuple[list[str], list[int | None], float] | None:
    """Outputs an earlier attempt generated under the same key; None otherwise (and the reason
    is logged when a file is there but its key differs)."""
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if doc.get("key") != key:
        print(
            f"[eval] {path}: outputs of another model, prompt or setting; generating again", file=sys.stderr
        )
        return None
    return list(doc["texts"]), list(doc["completion_tokens"]), float(doc.get("seconds", 0.0))


def write_generated(path: Path, key: str, parts: Mapping, texts, counts, seconds: float) -> None:
    from vero.eval.writers import write_json

    summary = {k: v for k, v in parts.items() if k != "model"}
    summary["model"] = {k: v for k, v in parts["model"].items() if k != "files"}
    summary["model"]["files_sha256"] = config_hash(parts["model"].get("files", {}))
    write_json(
        path,
        {
            "key": key,
            "parts": summary,
            "texts": list(texts),
            "completion_tokens": list(counts),
            "seconds": seconds,
        },
    )
