"""The raw stage: split a source's records into one Parquet file per category, accounting for
every row read.

Rows are set aside here, each counted under one reason code (`INGEST_REASONS`), per category when
the row has one and per source (its `data_source`, or the file / hub config it came from):

- `encoding_error`, `json_invalid`, `row_group_unreadable`, `row_unreadable`: the reader could not
  turn it into a record (`vero.data.readers`; the detail names the file and line or row group);
- `no_category`: the row has no `ability` (nor `extra_info.domain`);
- `duplicate_row`: the id was read before with the same content (one copy is kept);
- `duplicate_id_conflict`: the id was read before with different content (the first row read
  keeps the id; the detail names where both were read);
- `over_max_per_category`: over `data.source.max_per_category`, a cap you set (not a loss: the
  drop limit does not count it).

A non-empty `ability` that maps to no category is not a row fault: the source is mislabelled or
needs `data.source.ability_map`, so ingestion fails (`UnknownAbilityError`) once the file or hub
config holding it has been read, naming every unmapped value with its row count.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vero.categories import CATEGORIES
from vero.data.io import RecordWriter
from vero.data.readers import (
    ABILITY_ALIASES,
    ENCODING_ERROR,
    JSON_INVALID,
    ROW_GROUP_UNREADABLE,
    ROW_UNREADABLE,
    SourceError,
    is_dropped,
)

NO_CATEGORY = "no_category"
DUPLICATE_ROW = "duplicate_row"
DUPLICATE_ID_CONFLICT = "duplicate_id_conflict"
OVER_CAP = "over_max_per_category"

INGEST_REASONS: tuple[str, ...] = (
    ENCODING_ERROR,
    JSON_INVALID,
    ROW_GROUP_UNREADABLE,
    ROW_UNREADABLE,
    NO_CATEGORY,
    DUPLICATE_ROW,
    DUPLICATE_ID_CONFLICT,
    OVER_CAP,
)
# Set aside by choice, not lost: the drop limit does not count these.
NOT_LOSSES: frozenset[str] = frozenset({OVER_CAP})

_EXAMPLES = 5
_CONTENT_FIELDS = (
    "data_source",
    "category",
    "question",
    "reward_type",
    "answer",
    "tolerance",
    "split",
    "messages",
)


class UnknownAbilityError(SourceError):
    """A source whose `ability` values map to no category; the message names them and the key."""


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def content_digest(rec: Mapping[str, Any]) -> int:
    """A 64-bit digest of everything in a record but its id (images included, byte for byte)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(json.dumps([rec.get(k) for k in _CONTENT_FIELDS], default=str).encode())
    for b in rec.get("images") or []:
        h.update(hashlib.blake2b(b, digest_size=16).digest())
    return int.from_bytes(h.digest(), "big")


def _bucket() -> dict[str, Any]:
    return {"read": 0, "written": 0, "dropped": Counter()}


class _Ledger:
    """Counts of rows read, written and set aside, per category, per source and in total."""

    def __init__(self) -> None:
        self.read = 0
        self.written: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.by_category = {c: _bucket() for c in CATEGORIES}
        self.by_source: dict[str, dict[str, Any]] = defaultdict(
            lambda: {**_bucket(), "categories": Counter()}
        )
        self.unattributed = {"read": 0, "dropped": Counter()}
        self.splits: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = defaultdict(list)

    def seen(self, source: str, category: str, n: int = 1) -> None:
        self.read += n
        src = self.by_source[source]
        src["read"] += n
        if category in self.by_category:
            self.by_category[category]["read"] += n
            src["categories"][category] += n
        else:
            self.unattributed["read"] += n

    def drop(self, source: str, category: str, reason: str, detail: str, n: int = 1) -> None:
        self.dropped[reason] += n
        self.by_source[source]["dropped"][reason] += n
        bucket = self.by_category.get(category, self.unattributed)
        bucket["dropped"][reason] += n
        if len(self.examples[reason]) < _EXAMPLES:
            self.examples[reason].append(detail)

    def wrote(self, source: str, category: str) -> None:
        self.written[category] += 1
        self.by_category[category]["written"] += 1
        self.by_source[source]["written"] += 1

    def as_dict(self) -> dict[str, Any]:
        def plain(bucket: Mapping[str, Any]) -> dict[str, Any]:
            out = dict(bucket)
            out["dropped"] = dict(bucket["dropped"])
            if "categories" in bucket:
                out["categories"] = dict(bucket["categories"])
            return out

        return {
            "rows_read": self.read,
            "written": {c: self.written[c] for c in CATEGORIES},
            "dropped": dict(self.dropped),
            "by_category": {c: plain(b) for c, b in self.by_category.items()},
            "by_source": {s: plain(b) for s, b in sorted(self.by_source.items())},
            "unattributed": plain(self.unattributed),
            "splits": dict(self.splits),
            "examples": dict(self.examples),
        }


def _unknown_ability_error(origin: str, unknown: Mapping[str, list]) -> UnknownAbilityError:
    values = ", ".join(
        f"{value!r} ({count} rows, e.g. {example})" for value, (count, example) in sorted(unknown.items())
    )
    first = next(iter(sorted(unknown)))
    return UnknownAbilityError(
        f"{origin}: `ability` values that map to no category: {values}. Map each to one of "
        f"{', '.join(CATEGORIES)} with the config key 'data.source.ability_map' (e.g. "
        f"ability_map: {{{first!r}: stem}}); names known already: {', '.join(ABILITY_ALIASES)}"
    )


def split_by_category(
    records: Iterable[Mapping[str, Any]],
    out_dir: str | Path,
    *,
    max_per_category: int | None = None,
    row_group_size: int = 256,
    progress: bool = False,
) -> dict[str, Any]:
    """Write `out_dir/{category}.parquet` for all six categories (empty files included) and return
    the ingestion report: rows read, written and set aside per reason code, in total, per category
    and per source. Raises `UnknownAbilityError` (writing nothing) for unmapped `ability` values."""
    out_dir = Path(out_dir)
    writers = {c: RecordWriter(out_dir / f"{c}.parquet", row_group_size) for c in CATEGORIES}
    ledger = _Ledger()
    # id digest -> content digest << 20 | origin number: two ints per row read (~120 bytes)
    ids: dict[int, int] = {}
    origins: dict[str, int] = {}
    unknown: dict[str, list] = {}  # ability -> [rows, example] for the origin being read
    origin = None
    stopped_early = False
    try:
        for rec in tqdm(records, desc="ingest", disable=not progress, unit="rows"):
            here = rec.get("_origin", "")
            if here != origin:
                if unknown:
                    raise _unknown_ability_error(origin or "the source", unknown)
                origin = here
            cat = rec.get("category") or ""
            source = rec.get("data_source") or here or "(unnamed source)"
            where = rec.get("_where") or str(rec.get("id"))
            if is_dropped(rec):
                n = int(rec.get("_count", 1))
                ledger.seen(source, cat, n)
                ledger.drop(source, cat, rec["_drop"], rec["_detail"], n)
                continue
            if cat not in writers:
                ability = rec.get("_ability", cat)
                if ability:
                    entry = unknown.setdefault(ability, [0, f"{where} (id {rec.get('id')!r})"])
                    entry[0] += 1
                    continue
                ledger.seen(source, "")
                ledger.drop(source, "", NO_CATEGORY, f"{where} (id {rec.get('id')!r}): no ability")
                continue
            ledger.seen(source, cat)
            ledger.splits[rec.get("split") or ""] += 1
            key, content = _digest(str(rec.get("id")).encode()), content_digest(rec)
            previous = ids.get(key)
            if previous is not None:
                same = previous >> 20 == content
                first = next(o for o, k in origins.items() if k == previous & 0xFFFFF)
                reason = DUPLICATE_ROW if same else DUPLICATE_ID_CONFLICT
                how = "the same content as" if same else "different content from"
                detail = (
                    f"{where}: id {rec.get('id')!r} has {how} a row read before in {first or 'the source'}"
                )
                ledger.drop(source, cat, reason, detail)
                continue
            ids[key] = content << 20 | origins.setdefault(here, len(origins) % 0x100000)
            if max_per_category is not None and ledger.written[cat] >= max_per_category:
                ledger.drop(source, cat, OVER_CAP, f"{where} (id {rec.get('id')!r})")
                continue
            writers[cat].write(rec)
            ledger.wrote(source, cat)
            full = max_per_category is not None
            if full and all(ledger.written[c] >= max_per_category for c in CATEGORIES):
                stopped_early = True  # every category is full: no need to stream the rest
                break
        if unknown:
            raise _unknown_ability_error(origin or "the source", unknown)
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    for w in writers.values():
        w.close()
    return {**ledger.as_dict(), "stopped_early": stopped_early}


def write_json(path: str | Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
