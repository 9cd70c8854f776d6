"""The raw stage: split a source's records into one Parquet file per category."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vero.categories import CATEGORIES
from vero.data.io import RecordWriter
from vero.data.schema import SCHEMA_INVALID, UNKNOWN_CATEGORY

OVER_CAP = "over_max_per_category"
_EXAMPLES = 5


def split_by_category(
    records: Iterable[Mapping[str, Any]],
    out_dir: str | Path,
    *,
    max_per_category: int | None = None,
    row_group_size: int = 256,
    progress: bool = False,
) -> dict[str, Any]:
    """Write `out_dir/{category}.parquet` for all six categories (empty files included) and return
    an ingestion report: rows read, rows written per category, rows set aside per reason code."""
    out_dir = Path(out_dir)
    writers = {c: RecordWriter(out_dir / f"{c}.parquet", row_group_size) for c in CATEGORIES}
    written: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    n_read = 0
    stopped_early = False
    try:
        for rec in tqdm(records, desc="ingest", disable=not progress, unit="rows"):
            n_read += 1
            cat = rec.get("category")
            reason = None
            if not cat:
                reason = SCHEMA_INVALID
            elif cat not in writers:
                reason = UNKNOWN_CATEGORY
            elif max_per_category is not None and written[cat] >= max_per_category:
                reason = OVER_CAP
            if reason:
                dropped[reason] += 1
                if len(examples[reason]) < _EXAMPLES:
                    examples[reason].append(f"{rec.get('id')} (category {cat!r})")
                continue
            writers[cat].write(rec)
            written[cat] += 1
            if max_per_category is not None and all(written[c] >= max_per_category for c in CATEGORIES):
                stopped_early = True  # every category is full: no need to stream the rest
                break
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    for w in writers.values():
        w.close()
    return {
        "rows_read": n_read,
        "written": {c: written[c] for c in CATEGORIES},
        "dropped": dict(dropped),
        "examples": dict(examples),
        "stopped_early": stopped_early,
    }


def write_json(path: str | Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
