"""Heuristic filtering with reason codes, deduplication and contamination checks, and the report
that accounts for every row read.

Every dropped row is counted under exactly one reason code (the first check it fails, in the
order of `REASONS`), per category and per source, and a few example ids per reason are kept for
the report. Rows stream through a record batch at a time; only fixed-size digests of kept rows
stay in memory for deduplication.

The dataset-level heuristics of the recipe's curation step (a source with fewer than
`min_source_rows` rows, a mean image area under `min_source_mean_pixels`, only yes/no answers)
apply to rows whose `curated` flag is false: the sources a user adds. The published Vero-600K
went through them when its authors chose its 59 sources (RECIPE.md §2; docs/DATA.md of the
release), so its rows are marked curated by the reader (`data.source.curated`).
"""

from __future__ import annotations

import hashlib
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
SOURCE_BINARY_ONLY = "source_binary_only"
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
    S.IFEVAL_ARGS_MISSING,
    S.REWARD_REJECTS_GOLD,
    S.TOLERANCE_INVALID,
    S.IMAGE_UNDECODABLE,
    S.IMAGE_SIZE_MISMATCH,
    LOW_RESOLUTION,
    SOURCE_TOO_SMALL,
    SOURCE_LOW_RESOLUTION,
    SOURCE_BINARY_ONLY,
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
    drop_binary_only_sources: bool = False
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
                if "_drop" not in row:  # a line of the reference that could not be read
                    index.add(row)
            index.sources.append(str(p))
        return index


_BINARY_ANSWERS = frozenset({"yes", "no", "true", "false"})


@dataclass(frozen=True)
class SourceStats:
    """What the dataset-level heuristics look at, per data_source within one category file."""

    rows: int
    mean_pixels: float
    binary_only: bool


def _is_binary(answer: Any) -> bool:
    return isinstance(answer, str) and answer.strip().strip(".").casefold() in _BINARY_ANSWERS


def source_statistics(path: str | Path) -> dict[str, SourceStats]:
    """Per data_source: rows, mean pixels of the first image, whether every answer is yes/no;
    reads three small columns only."""
    counts: Counter[str] = Counter()
    pixels: defaultdict[str, float] = defaultdict(float)
    non_binary: set[str] = set()
    for row in read_parquet_records(path, columns=["data_source", "image_size", "answer"], batch_size=4096):
        src = row["data_source"]
        counts[src] += 1
        size = row["image_size"] or [0, 0]
        pixels[src] += size[0] * size[1] if len(size) == 2 else 0
        if src not in non_binary and not _is_binary(row["answer"]):
            non_binary.add(src)
    return {s: SourceStats(n, pixels[s] / n, s not in non_binary) for s, n in counts.items()}


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
        source_stats: Mapping[str, SourceStats | tuple[int, float]] | None = None,
    ):
        self.settings = settings
        self.category = category
        self.contamination = contamination if settings.contamination else None
        self.source_stats = source_stats or {}
        self._seen: set[bytes] = set()

    def _source_rule(self, source: str) -> tuple[str, str] | None:
        """The dataset-level heuristics (for sources that are not curated)."""
        st = self.settings
        stats = self.source_stats.get(source)
        if stats is None:
            return None
        if not isinstance(stats, SourceStats):
            stats = SourceStats(int(stats[0]), float(stats[1]), False)
        if stats.rows < st.min_source_rows:
            return SOURCE_TOO_SMALL, f"source {source!r} has {stats.rows} rows < {st.min_source_rows}"
        if stats.mean_pixels < st.min_source_mean_pixels:
            return SOURCE_LOW_RESOLUTION, (
                f"source {source!r} averages {stats.mean_pixels:.0f} px < {st.min_source_mean_pixels:.0f}"
            )
        if st.drop_binary_only_sources and stats.binary_only:
            return SOURCE_BINARY_ONLY, f"every answer of source {source!r} is yes/no"
        return None

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
        if not row.get("curated"):
            why = self._source_rule(row["data_source"])
            if why:
                return why
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
    by_source: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _source(self, row: Any) -> dict[str, Any]:
        name = row.get("data_source") if isinstance(row, Mapping) else None
        name = name if isinstance(name, str) and name else "(unnamed source)"
        if name not in self.by_source:
            self.by_source[name] = {"input_rows": 0, "kept": 0, "dropped": Counter(), "curated": False}
        return self.by_source[name]

    def read(self, row: Any) -> None:
        self.input_rows += 1
        src = self._source(row)
        src["input_rows"] += 1
        src["curated"] = src["curated"] or bool(isinstance(row, Mapping) and row.get("curated"))

    def keep(self, row: Any) -> None:
        self.kept += 1
        self._source(row)["kept"] += 1

    def drop(self, reason: str, row_id: Any, detail: str, row: Any = None) -> None:
        self.dropped[reason] += 1
        if row is not None:
            self._source(row)["dropped"][reason] += 1
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
            "by_source": {
                name: {**src, "dropped": {r: src["dropped"][r] for r in REASONS if src["dropped"][r]}}
                for name, src in sorted(self.by_source.items())
            },
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
    source_stats: Mapping[str, SourceStats] | None = None,
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
                report.keep(row)
            else:
                report.drop(verdict[0], row.get("id"), verdict[1], row)
        pending.clear()

    for row in tqdm(rows, desc=f"filter {category}", total=total, disable=not progress, unit="rows"):
        report.read(row)
        failed = checker.check(row)
        if failed:
            report.drop(failed[0], row.get("id") if isinstance(row, Mapping) else None, failed[1], row)
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
    total = sum(st.rows for st in stats.values())
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


class CategoryEmptyError(FilterDropError):
    """A category an experiment trains on has no row left; the message names it and why."""


def _ingest_reasons() -> tuple[str, ...]:
    from vero.data.ingest import INGEST_REASONS

    return INGEST_REASONS


def _not_losses() -> frozenset[str]:
    from vero.data.ingest import NOT_LOSSES

    return NOT_LOSSES


def _line(read: int, dropped: Mapping[str, int], kept: int) -> dict[str, Any]:
    """One row of the accounting: read = kept + dropped (losses and rows set aside by choice)."""
    order = [*_ingest_reasons(), *REASONS]
    dropped = {
        r: int(dropped[r]) for r in sorted(dropped, key=lambda r: order.index(r) if r in order else 99)
    }
    capped = sum(n for r, n in dropped.items() if r in _not_losses())
    lost = sum(dropped.values()) - capped
    base = read - capped
    return {
        "read": read,
        "kept": kept,
        "dropped": {r: n for r, n in dropped.items() if n},
        "dropped_total": sum(dropped.values()),
        "lost": lost,
        "lost_fraction": lost / base if base > 0 else 0.0,
        "unaccounted": read - kept - sum(dropped.values()),
    }


def aggregate_reports(
    reports: Mapping[str, Mapping[str, Any]],
    max_drop_fraction: float,
    ingest: Mapping[str, Any] | None = None,
    required_categories: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Account for every row read, per category, per source and in total, and check the limits.

    A row is read once and then kept or dropped once, at ingestion (`ingest`, the raw stage's
    report) or by the filter (`reports`, per category); `unaccounted` is the difference and is 0
    unless the inputs come from different runs. `lost_fraction` = dropped rows, leaving out those
    set aside by choice (`over_max_per_category`), over the rows read less those: ingestion losses
    count against `max_drop_fraction` like the filter's. A category in `required_categories` (the
    ones some experiment trains on) with no row kept is reported in `empty` with the reason.
    """
    ingest = ingest or {}
    by_cat_ingest = ingest.get("by_category") or {}
    categories: dict[str, dict[str, Any]] = {}
    for cat in CATEGORIES:
        f = reports.get(cat)
        ing = by_cat_ingest.get(cat)
        if f is None and ing is None:
            continue
        f = f or {"input_rows": 0, "kept": 0, "dropped": {}}
        read = ing["read"] if ing is not None else f["input_rows"]
        dropped = Counter(ing["dropped"] if ing is not None else {})
        dropped.update(f["dropped"])
        line = _line(read, dropped, f["kept"])
        line["filter_input"] = f["input_rows"]
        line["examples"] = {**(ingest.get("examples") or {}), **f.get("examples", {})}
        line["examples"] = {r: v for r, v in line["examples"].items() if r in line["dropped"]}
        categories[cat] = line

    sources: dict[str, dict[str, Any]] = {}
    ingest_sources = ingest.get("by_source") or {}
    filter_sources: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"input_rows": 0, "kept": 0, "dropped": Counter(), "curated": False, "categories": []}
    )
    for cat, f in reports.items():
        for name, src in (f.get("by_source") or {}).items():
            acc = filter_sources[name]
            acc["input_rows"] += src["input_rows"]
            acc["kept"] += src["kept"]
            acc["dropped"].update(src["dropped"])
            acc["curated"] = acc["curated"] or src.get("curated", False)
            acc["categories"].append(cat)
    for name in sorted(set(ingest_sources) | set(filter_sources)):
        ing = ingest_sources.get(name)
        f = filter_sources.get(name) or {"input_rows": 0, "kept": 0, "dropped": Counter(), "categories": []}
        dropped = Counter(ing["dropped"] if ing else {})
        dropped.update(f["dropped"])
        line = _line(ing["read"] if ing else f["input_rows"], dropped, f["kept"])
        cats = list(ing.get("categories", {})) if ing else []
        line["categories"] = [c for c in CATEGORIES if c in cats or c in f["categories"]]
        line["curated"] = bool(f.get("curated"))
        sources[name] = line

    total_dropped: Counter[str] = Counter(ingest.get("dropped") or {})
    for f in reports.values():
        total_dropped.update(f["dropped"])
    total_read = (
        ingest["rows_read"] if "rows_read" in ingest else sum(r["input_rows"] for r in reports.values())
    )
    total = _line(total_read, total_dropped, sum(r["kept"] for r in reports.values()))
    unattributed = ingest.get("unattributed") or {"read": 0, "dropped": {}}

    over = [c for c, r in categories.items() if r["read"] and r["lost_fraction"] > max_drop_fraction]
    if total["read"] and total["lost_fraction"] > max_drop_fraction:
        over.append("total")
    empty = {}
    for cat in required_categories if required_categories is not None else list(categories):
        line = categories.get(cat) or _line(0, {}, 0)
        if line["kept"] == 0:
            empty[cat] = _why_empty(cat, line)
    unaccounted = {c: r["unaccounted"] for c, r in {**categories, "total": total}.items() if r["unaccounted"]}
    return {
        "max_drop_fraction": max_drop_fraction,
        "categories": categories,
        "sources": sources,
        "unattributed": {"read": unattributed["read"], "dropped": dict(unattributed["dropped"])},
        "total": total,
        "splits": dict(ingest.get("splits") or {}),
        "over_limit": over,
        "empty": empty,
        "unaccounted": unaccounted,
        "passed": not over and not empty and not unaccounted,
    }


def _why_empty(category: str, line: Mapping[str, Any]) -> str:
    if line["read"] == 0:
        return (
            f"no row read maps to {category}: the source has no row whose `ability` is one of its names "
            "(vero.data.readers.ABILITY_ALIASES; config key 'data.source.ability_map' adds names)"
        )
    reason, n = max(line["dropped"].items(), key=lambda kv: kv[1])
    example = (line.get("examples") or {}).get(reason, [""])[0]
    return f"all {line['read']} rows read were dropped, {n} of them as {reason}" + (
        f" (e.g. {example})" if example else ""
    )


def _reason_columns(lines: Iterable[Mapping[str, Any]]) -> list[str]:
    seen = {r for line in lines for r in line["dropped"]}
    order = [*_ingest_reasons(), *REASONS]
    return [r for r in order if r in seen] + sorted(seen - set(order))


def _cells(line: Mapping[str, Any], reasons: Sequence[str]) -> list[str]:
    return [
        str(line["read"]),
        *(str(line["dropped"].get(r, 0)) for r in reasons),
        str(line["kept"]),
        f"{100 * line['lost_fraction']:.1f}",
    ]


def report_table(agg: Mapping[str, Any]) -> str:
    """Rows read, dropped per reason code (ingestion, then filter) and kept, per category."""
    lines = [*agg["categories"].values(), agg["total"]]
    reasons = _reason_columns(lines)
    head = ["category", "read", *reasons, "kept", "lost %"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for cat in [c for c in CATEGORIES if c in agg["categories"]]:
        flags = (" **over limit**" if cat in agg["over_limit"] else "") + (
            " **empty**" if cat in agg.get("empty", {}) else ""
        )
        out.append("| " + " | ".join([f"{cat}{flags}", *_cells(agg["categories"][cat], reasons)]) + " |")
    flag = " **over limit**" if "total" in agg["over_limit"] else ""
    out.append("| " + " | ".join([f"total{flag}", *_cells(agg["total"], reasons)]) + " |")
    return "\n".join(out)


def source_table(agg: Mapping[str, Any]) -> str:
    """The same accounting per source (data_source, or the file / hub config of unreadable rows)."""
    sources = agg.get("sources") or {}
    reasons = _reason_columns(sources.values())
    head = ["source", "categories", "curated", "read", *reasons, "kept", "lost %"]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for name, line in sources.items():
        cats = ", ".join(line["categories"]) or "–"
        out.append(
            "| "
            + " | ".join(
                [name.replace("|", "\\|"), cats, "yes" if line["curated"] else "no", *_cells(line, reasons)]
            )
            + " |"
        )
    return "\n".join(out)


def report_markdown(agg: Mapping[str, Any]) -> str:
    limit = 100 * agg["max_drop_fraction"]
    ingest_codes = [r for r in _ingest_reasons() if r in agg["total"]["dropped"]]
    parts = [
        "# Data filter report",
        "",
        f"Every row read, kept or dropped once under a reason code (the first check it failed), per "
        f"category; `lost %` leaves out rows set aside by choice ({', '.join(sorted(_not_losses()))}) "
        f"and is limited to {limit:.1f} % (`data.filter.max_drop_fraction`).",
        "",
        report_table(agg),
        "",
    ]
    if ingest_codes:
        parts += [f"Dropped at ingestion: {', '.join(ingest_codes)}; every other code by the filter.", ""]
    unattributed = agg.get("unattributed") or {}
    if unattributed.get("read"):
        codes = ", ".join(f"{k}: {v}" for k, v in unattributed["dropped"].items())
        parts += [f"Rows with no category (counted in the total only): {unattributed['read']} ({codes}).", ""]
    if agg.get("splits"):
        parts += ["Splits read: " + ", ".join(f"{k}: {v}" for k, v in agg["splits"].items()) + ".", ""]
    if agg.get("sources"):
        parts += ["## Per source", "", source_table(agg), ""]
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
    problems = []
    if agg["over_limit"]:
        problems.append("over the limit: " + ", ".join(agg["over_limit"]))
    for cat, why in (agg.get("empty") or {}).items():
        problems.append(f"{cat} is empty: {why}")
    if agg.get("unaccounted"):
        problems.append(f"rows unaccounted for (inputs from different runs?): {agg['unaccounted']}")
    parts.append("Status: " + ("passed" if agg["passed"] else "FAILED, " + "; ".join(problems)))
    return "\n".join(parts) + "\n"


def check_drop_limit(agg: Mapping[str, Any]) -> None:
    """Raise with the table when a required category is empty (`CategoryEmptyError`), when a
    category or the total lost more than the limit, or when rows are unaccounted for
    (`FilterDropError`)."""
    if agg.get("empty"):
        named = "; ".join(f"{cat}: {why}" for cat, why in agg["empty"].items())
        raise CategoryEmptyError(
            f"no rows left for a category an experiment trains on: {named}\n\n" + report_table(agg)
        )
    if agg["over_limit"]:
        raise FilterDropError(
            f"the data stage lost more than {100 * agg['max_drop_fraction']:.1f} % of the rows read "
            f"(config key 'data.filter.max_drop_fraction'; ingestion and filter drops both count) in: "
            f"{', '.join(agg['over_limit'])}\n\n" + report_table(agg)
        )
    if agg.get("unaccounted"):
        raise FilterDropError(
            f"the ingest and filter reports disagree by {agg['unaccounted']} rows: they come from "
            "different runs (rerun data_raw)\n\n" + report_table(agg)
        )
