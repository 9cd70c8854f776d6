"""Heuristic filtering with reason codes, deduplication and contamination checks.

Every dropped row is counted under exactly one reason code (the first check it fails, in the
order of `REASONS`), and a few example ids per reason are kept for the report. Rows stream through
a record batch at a time; only fixed-size digests of kept rows stay in memory for deduplication.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tqdm import tqdm

from vero.categories import CATEGORIES
from vero.data import schema as S
from vero.data.io import RecordWriter, read_parquet_records

# Reason codes in the order the checks run; a row is counted under the first one it fails.
SOURCE_TOO_SMALL = "source_too_small"
SOURCE_LOW_RESOLUTION = "source_low_resolution"
LOW_RESOLUTION = "low_resolution"
QUESTION_TOO_SHORT = "question_too_short"
QUESTION_TOO_LONG = "question_too_long"
DUPLICATE = "duplicate"
CONTAMINATED = "contaminated"
QUESTION_FILTER_REJECTED = "question_filter_rejected"
QUESTION_FILTER_ERROR = "question_filter_error"

REASONS: tuple[str, ...] = (
    S.SCHEMA_INVALID,
    S.UNKNOWN_CATEGORY,
    S.UNKNOWN_REWARD_TYPE,
    S.NO_IMAGE,
    S.ANSWER_INVALID,
    S.IMAGE_UNDECODABLE,
    S.IMAGE_SIZE_MISMATCH,
    LOW_RESOLUTION,
    SOURCE_TOO_SMALL,
    SOURCE_LOW_RESOLUTION,
    QUESTION_TOO_SHORT,
    QUESTION_TOO_LONG,
    DUPLICATE,
    CONTAMINATED,
    QUESTION_FILTER_REJECTED,
    QUESTION_FILTER_ERROR,
)

_EXAMPLES_PER_REASON = 5


class FilterDropError(RuntimeError):
    """More rows were dropped than `data.filter.max_drop_fraction` allows; the message holds the table."""


@dataclass(frozen=True)
class FilterSettings:
    """Thresholds of `data.filter` (config/schema/data.yaml describes each)."""

    min_image_side: int = 28
    min_image_pixels: int = 3136
    min_source_rows: int = 1
    min_source_mean_pixels: float = 0.0
    min_question_chars: int = 3
    max_question_chars: int = 4000
    deduplicate: bool = True
    contamination: bool = True
    eval_sets: tuple[str, ...] = ()
    max_drop_fraction: float = 0.5
    question_filter: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> FilterSettings:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in section.items() if k in known}
        if "eval_sets" in kwargs:
            kwargs["eval_sets"] = tuple(kwargs["eval_sets"])
        return cls(**kwargs)


@dataclass
class ContaminationIndex:
    """Image hashes and normalized questions of the evaluation sets."""

    image_hashes: set[str] = field(default_factory=set)
    questions: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)

    def add(self, row: Mapping[str, Any]) -> None:
        images = row.get("images") or []
        if images and all(isinstance(b, bytes | bytearray) for b in images):
            self.image_hashes.update(S.single_image_hashes(list(images)))
        q = row.get("question")
        if isinstance(q, str) and q.strip():
            self.questions.add(S.normalize_question(q))

    def match(self, row: Mapping[str, Any]) -> str | None:
        """Why `row` counts as contaminated, or None."""
        for h in S.single_image_hashes(list(row["images"])):
            if h in self.image_hashes:
                return f"image {h[:12]} appears in an evaluation set"
        if S.normalize_question(row["question"]) in self.questions:
            return "question appears in an evaluation set"
        return None

    @classmethod
    def from_files(cls, paths: Iterable[str | Path]) -> ContaminationIndex:
        """Read canonical Parquet files, or any file `vero.data.readers` understands."""
        from vero.data.readers import iter_file_records

        index = cls()
        for p in paths:
            p = Path(p)
            if not p.is_file():
                raise FileNotFoundError(
                    f"contamination reference {p} does not exist (config key 'data.filter.eval_sets')"
                )
            if p.suffix == ".parquet" and set(S.COLUMNS) <= set(pq.ParquetFile(p).schema_arrow.names):
                rows = read_parquet_records(p, columns=["images", "question"])
            else:
                rows = iter_file_records([p])
            for row in rows:
                index.add(row)
            index.sources.append(str(p))
        return index


def source_statistics(path: str | Path) -> dict[str, tuple[int, float]]:
    """Per data_source: (rows, mean pixels of the first image), reading only two columns."""
    counts: Counter[str] = Counter()
    pixels: defaultdict[str, float] = defaultdict(float)
    for row in read_parquet_records(path, columns=["data_source", "image_size"], batch_size=4096):
        src = row["data_source"]
        counts[src] += 1
        size = row["image_size"] or [0, 0]
        pixels[src] += size[0] * size[1] if len(size) == 2 else 0
    return {s: (n, pixels[s] / n) for s, n in counts.items()}


def _digest(*parts: str) -> bytes:
    h = hashlib.blake2b(digest_size=12)
    for p in parts:
        h.update(p.encode())
        h.update(b"\0")
    return h.digest()


class RowChecker:
    """The per-row checks, with the state they need (dedup digests, source statistics)."""

    def __init__(
        self,
        settings: FilterSettings,
        *,
        category: str | None = None,
        contamination: ContaminationIndex | None = None,
        source_stats: Mapping[str, tuple[int, float]] | None = None,
    ):
        self.settings = settings
        self.category = category
        self.contamination = contamination if settings.contamination else None
        self.source_stats = source_stats or {}
        self._seen: set[bytes] = set()

    def check(self, row: Mapping[str, Any]) -> tuple[str, str] | None:
        """(reason code, detail) for the first failed check, or None if the row is kept."""
        st = self.settings
        problems = S.check_record(row)
        if problems:
            return min(problems, key=lambda p: REASONS.index(p[0]))
        if self.category is not None and row["category"] != self.category:
            return S.SCHEMA_INVALID, f"category {row['category']!r} in the {self.category} file"
        try:
            decoded = [S.decode_image(b) for b in row["images"]]
        except Exception as e:
            return S.IMAGE_UNDECODABLE, f"{type(e).__name__}: {e}"
        w, h = decoded[0].size
        if list(row["image_size"]) != [w, h]:
            return S.IMAGE_SIZE_MISMATCH, f"image_size {row['image_size']} but the image is {w}x{h}"
        for im in decoded:
            iw, ih = im.size
            if min(iw, ih) < st.min_image_side or iw * ih < st.min_image_pixels:
                return LOW_RESOLUTION, (
                    f"{iw}x{ih} below min side {st.min_image_side} / min pixels {st.min_image_pixels}"
                )
        n_src, mean_px = self.source_stats.get(row["data_source"], (math.inf, math.inf))
        if n_src < st.min_source_rows:
            return SOURCE_TOO_SMALL, f"source {row['data_source']!r} has {n_src} rows < {st.min_source_rows}"
        if mean_px < st.min_source_mean_pixels:
            return SOURCE_LOW_RESOLUTION, (
                f"source {row['data_source']!r} averages {mean_px:.0f} px < {st.min_source_mean_pixels:.0f}"
            )
        n_chars = len(row["question"].strip())
        if n_chars < st.min_question_chars:
            return QUESTION_TOO_SHORT, f"{n_chars} chars < {st.min_question_chars}"
        if n_chars > st.max_question_chars:
            return QUESTION_TOO_LONG, f"{n_chars} chars > {st.max_question_chars}"
        if st.deduplicate:
            key = _digest(S.image_hash(list(row["images"])), S.normalize_question(row["question"]))
            if key in self._seen:
                return DUPLICATE, "same images and normalized question as an earlier row"
            self._seen.add(key)
        if self.contamination is not None:
            why = self.contamination.match(row)
            if why:
                return CONTAMINATED, why
        return None


# A question scorer takes kept rows and returns, per row, None (keep) or (reason code, detail).
QuestionScorer = Callable[[Sequence[Mapping[str, Any]]], list[tuple[str, str] | None]]


@dataclass
class FilterReport:
    category: str
    input_rows: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def drop(self, reason: str, row_id: Any, detail: str) -> None:
        self.dropped[reason] += 1
        if len(self.examples[reason]) < _EXAMPLES_PER_REASON:
            self.examples[reason].append(f"{row_id}: {detail}")

    def to_dict(self, settings: FilterSettings | None = None) -> dict[str, Any]:
        total = sum(self.dropped.values())
        out = {
            "category": self.category,
            "input_rows": self.input_rows,
            "kept": self.kept,
            "dropped_total": total,
            "drop_fraction": (total / self.input_rows) if self.input_rows else 0.0,
            "dropped": {r: self.dropped[r] for r in REASONS if self.dropped[r]},
            "examples": {r: list(v) for r, v in self.examples.items() if v},
        }
        if settings is not None:
            out["settings"] = {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(settings).items()
            }
        return out


def filter_records(
    rows: Iterable[Mapping[str, Any]],
    writer: RecordWriter,
    settings: FilterSettings,
    *,
    category: str,
    contamination: ContaminationIndex | None = None,
    source_stats: Mapping[str, tuple[int, float]] | None = None,
    question_scorer: QuestionScorer | None = None,
    scorer_batch: int = 32,
    progress: bool = False,
    total: int | None = None,
) -> FilterReport:
    """Check every row, write the kept ones to `writer`, and count the rest by reason."""
    checker = RowChecker(settings, category=category, contamination=contamination, source_stats=source_stats)
    report = FilterReport(category)
    pending: list[Mapping[str, Any]] = []

    def flush() -> None:
        verdicts = question_scorer(pending) if question_scorer else [None] * len(pending)
        for row, verdict in zip(pending, verdicts, strict=True):
            if verdict is None:
                writer.write(row)
                report.kept += 1
            else:
                report.drop(verdict[0], row.get("id"), verdict[1])
        pending.clear()

    for row in tqdm(rows, desc=f"filter {category}", total=total, disable=not progress, unit="rows"):
        report.input_rows += 1
        failed = checker.check(row)
        if failed:
            report.drop(failed[0], row.get("id") if isinstance(row, Mapping) else None, failed[1])
            continue
        pending.append(row)
        if len(pending) >= scorer_batch:
            flush()
    flush()
    return report


def filter_file(
    in_path: str | Path,
    out_path: str | Path,
    settings: FilterSettings,
    *,
    category: str,
    contamination: ContaminationIndex | None = None,
    question_scorer: QuestionScorer | None = None,
    scorer_batch: int = 32,
    row_group_size: int = 256,
    progress: bool = False,
) -> dict[str, Any]:
    """Filter one canonical Parquet file into another; returns the report as a dict."""
    in_path = Path(in_path)
    stats = source_statistics(in_path)
    total = sum(n for n, _ in stats.values())
    with RecordWriter(out_path, row_group_size) as writer:
        report = filter_records(
            read_parquet_records(in_path, batch_size=row_group_size),
            writer,
            settings,
            category=category,
            contamination=contamination,
            source_stats=stats,
            question_scorer=question_scorer,
            scorer_batch=scorer_batch,
            progress=progress,
            total=total,
        )
    return report.to_dict(settings)


# ---- the aggregate report ----------------------------------------------------------------------


def aggregate_reports(
    reports: Mapping[str, Mapping[str, Any]],
    max_drop_fraction: float,
    ingest: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Combine per-category reports; flags every category (and the total) over the limit."""
    total_in = sum(r["input_rows"] for r in reports.values())
    total_kept = sum(r["kept"] for r in reports.values())
    dropped: Counter[str] = Counter()
    for r in reports.values():
        dropped.update(r["dropped"])
    total_drop = total_in - total_kept
    over = [c for c, r in reports.items() if r["input_rows"] and r["drop_fraction"] > max_drop_fraction]
    if total_in and total_drop / total_in > max_drop_fraction:
        over.append("total")
    return {
        "max_drop_fraction": max_drop_fraction,
        "categories": {c: dict(reports[c]) for c in reports},
        "total": {
            "input_rows": total_in,
            "kept": total_kept,
            "dropped_total": total_drop,
            "drop_fraction": total_drop / total_in if total_in else 0.0,
            "dropped": {r: dropped[r] for r in REASONS if dropped[r]},
        },
        "ingest": dict(ingest or {}),
        "over_limit": over,
        "passed": not over,
    }


def report_table(agg: Mapping[str, Any]) -> str:
    """The kept/dropped counts per reason and category as a Markdown table."""
    reasons = [r for r in REASONS if agg["total"]["dropped"].get(r)]
    head = ["category", "input", "kept", "dropped %", *reasons]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]

    def line(name: str, r: Mapping[str, Any]) -> str:
        flag = " **over limit**" if name in agg["over_limit"] else ""
        cells = [
            f"{name}{flag}",
            str(r["input_rows"]),
            str(r["kept"]),
            f"{100 * r['drop_fraction']:.1f}",
            *(str(r["dropped"].get(x, 0)) for x in reasons),
        ]
        return "| " + " | ".join(cells) + " |"

    for cat in [c for c in CATEGORIES if c in agg["categories"]]:
        lines.append(line(cat, agg["categories"][cat]))
    lines.append(line("total", agg["total"]))
    return "\n".join(lines)


def report_markdown(agg: Mapping[str, Any]) -> str:
    limit = 100 * agg["max_drop_fraction"]
    parts = [
        "# Data filter report",
        "",
        f"Rows dropped per reason code (first failed check) and category; limit {limit:.1f} % dropped.",
        "",
        report_table(agg),
        "",
    ]
    ingest = agg.get("ingest") or {}
    if ingest.get("dropped"):
        set_aside = ", ".join(f"{k}: {v}" for k, v in ingest["dropped"].items())
        parts += [f"Set aside at ingestion (no category file): {set_aside}.", ""]
    examples = [
        (cat, reason, ex)
        for cat, r in agg["categories"].items()
        for reason, exs in r.get("examples", {}).items()
        for ex in exs[:2]
    ]
    if examples:
        parts += ["## Examples", ""]
        parts += [f"- {cat} / {reason}: {ex}" for cat, reason, ex in examples]
        parts.append("")
    parts.append(
        "Status: "
        + ("passed" if agg["passed"] else "FAILED, over the limit: " + ", ".join(agg["over_limit"]))
    )
    return "\n".join(parts) + "\n"


def check_drop_limit(agg: Mapping[str, Any]) -> None:
    """Raise `FilterDropError` with the table when a category or the total is over the limit."""
    if agg["passed"]:
        return
    raise FilterDropError(
        f"data filter dropped more than {100 * agg['max_drop_fraction']:.1f} % of the rows "
        f"(config key 'data.filter.max_drop_fraction') in: {', '.join(agg['over_limit'])}\n\n"
        + report_table(agg)
    )
