"""Where a benchmark's published rows come from, and how a row's fields are read.

Sources: a local copy in the published layout (Parquet, JSON, JSONL; for `layout: annotations`
a directory of annotations/*.json + images/), or the hub (`datasets.load_dataset`, rows read and
images decoded only when indexed; `layout: annotations` from a snapshot of the dataset repo).
Rows of a benchmark made of several configs or datasets are labelled with their part
(`__config__`, and `__hub_id__` for images fetched from the part's repo).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


class SampleLoadError(ValueError):
    """The rows of a benchmark cannot be read at all (missing file, unknown format, bad mapping)."""


def row_value(row: Mapping, path: str | None) -> Any:
    """A row field by name; "a.b" reaches into a struct, "a.0.b" into a list. None when absent.

    >>> row_value({"prompt": [{"content": "<image>Why?"}]}, "prompt.0.content")
    '<image>Why?'
    """
    if not path:
        return None
    if path in row:
        return row[path]
    value: Any = row
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif hasattr(value, "tolist") and part.isdigit():  # numpy arrays from Parquet
            items = value.tolist()
            value = items[int(part)] if int(part) < len(items) else None
        else:
            return None
    return value


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:  # one unreadable line is a malformed row, counted later
            rows.append({"__unreadable__": f"line {i}: {e}"})
    return rows


def read_local_rows(path: Path) -> list[dict]:
    """Rows of a local file in the published format (.parquet, .jsonl, .json)."""
    if not path.exists():
        raise SampleLoadError(f"{path}: benchmark data file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        if suffix == ".jsonl":
            return _read_jsonl(path)
        if suffix == ".json":
            doc = json.loads(path.read_text())
            if isinstance(doc, Mapping):
                # some benchmarks publish {"id": {...row...}} or {"data": [...]}
                doc = doc.get("data", doc.get("rows", list(doc.values())))
            if not isinstance(doc, list):
                raise SampleLoadError(f"{path}: expected a JSON list of rows")
            return doc
    except SampleLoadError:
        raise
    except Exception as e:
        raise SampleLoadError(f"{path}: cannot read benchmark rows: {type(e).__name__}: {e}") from e
    raise SampleLoadError(f"{path}: unsupported file type {suffix!r} (use .parquet, .jsonl or .json)")


def annotation_rows(root: Path, where: str) -> list[dict]:
    """Rows of a dataset published as annotations/*.json (lists of entries naming their image in
    `img_filename`) and images/, as the release rebuilds ScreenSpot-Pro (screenspotpro/
    utils_point.py `_build_screenspotpro_dataset`): entries whose image file is missing or whose
    box has fewer than four numbers are skipped, as there."""
    root = root.resolve()
    ann_dir, image_dir = root / "annotations", root / "images"
    if not ann_dir.is_dir():
        raise SampleLoadError(f"{where}: no annotations/ directory under {root}")
    rows = []
    for ann in sorted(ann_dir.glob("*.json")):
        try:
            entries = json.loads(ann.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise SampleLoadError(f"{ann}: not valid JSON: {e}") from e
        for entry in entries if isinstance(entries, list) else []:
            name = entry.get("img_filename") or ""
            bbox = entry.get("bbox") or [0.0, 0.0, 0.0, 0.0]
            if not name or not (image_dir / name).is_file() or len(bbox) < 4:
                continue
            platform = str(entry.get("platform") or "").lower()
            application = str(entry.get("application") or "").lower()
            rows.append(
                {
                    "image": str(image_dir / name),
                    "instruction": str(entry.get("instruction") or entry.get("instruction_cn") or ""),
                    "bbox": [float(v) for v in bbox[:4]],
                    "file_name": str(entry.get("id") or name),
                    "data_type": "text" if str(entry.get("ui_type") or "").lower() == "text" else "icon",
                    "data_source": f"{platform}_{application}"
                    if platform and application
                    else platform or application,
                }
            )
    return rows


class HubRows(Sequence):
    """The rows of one or more configs (or datasets) of the hub, read (and images decoded) only
    when indexed, so a seeded subset of a large benchmark never decodes the rest."""

    def __init__(self, spec: Any):
        import datasets

        self.parts = []
        multi = len(spec.hub_parts) > 1 and len(set(spec.hub_configs)) == 1
        for hub_id, config in spec.hub_parts:
            try:
                ds = datasets.load_dataset(hub_id, config, split=spec.split)
            except Exception as e:
                raise SampleLoadError(
                    f"benchmark {spec.key}: cannot load hub dataset {hub_id!r} (config {config!r}, "
                    f"split {spec.split!r}): {type(e).__name__}: {e}. Set eval.local_data.{spec.key} to a "
                    "local copy when the hub is unreachable."
                ) from e
            # rows are labelled by config, or by dataset when the parts are separate datasets
            label = hub_id.rsplit("/", 1)[-1] if multi else config
            self.parts.append((label, hub_id, ds))
        self.column_names = sorted({c for _, _, ds in self.parts for c in ds.column_names})

    def __len__(self) -> int:
        return sum(len(ds) for _, _, ds in self.parts)

    def __getitem__(self, i: int) -> dict:
        for label, hub_id, ds in self.parts:
            if i < len(ds):
                return {**ds[i], "__config__": label, "__hub_id__": hub_id}
            i -= len(ds)
        raise IndexError(i)

    def columns(self, names: Sequence[str]) -> list[dict]:
        """Only the named columns of every row (no image decoding): what a row expansion reads."""
        out = []
        for label, hub_id, ds in self.parts:
            keep = [c for c in names if c in ds.column_names]
            for row in ds.select_columns(keep):
                out.append({**row, "__config__": label, "__hub_id__": hub_id})
        return out


def hub_snapshot(hub_id: str, where: str) -> Path:
    """A local snapshot of a dataset repo (the hub cache, or a download)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=hub_id, repo_type="dataset"))
    except Exception as e:
        raise SampleLoadError(
            f"{where}: cannot get a snapshot of dataset repo {hub_id!r}: {type(e).__name__}: {e}. "
            f"Set eval.local_data.{where.split()[-1]} to a local copy when the hub is unreachable."
        ) from e


def source_rows(spec: Any) -> tuple[Sequence[dict], Path | None]:
    """The rows of a benchmark and the directory relative image paths are resolved against."""
    where = f"benchmark {spec.key}"
    if spec.source_kind in ("local", "canonical"):
        path = Path(spec.local_path)
        if spec.layout == "annotations":
            if not path.is_dir():
                raise SampleLoadError(
                    f"{path}: benchmark data directory not found ({where}, layout annotations)"
                )
            return annotation_rows(path, where), path
        return read_local_rows(path), path.parent
    if spec.layout == "annotations":
        root = hub_snapshot(spec.hub_id, where)
        return annotation_rows(root, where), root
    return HubRows(spec), None
