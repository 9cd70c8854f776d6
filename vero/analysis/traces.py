"""Reading the inputs of the analysis: evaluation traces, evaluation summaries, training logs.

Every reader is tolerant in the same way: a malformed line or record is dropped with a reason
code, counted in a `Drops` tally (with the first few file:line locations), and never crashes the
analysis. A missing or unreadable *file* is an error that names the file.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vero.categories import CATEGORIES

TRACE_FIELDS = ("id", "category", "output")


class AnalysisInputError(ValueError):
    """An input file of the analysis is missing or unusable; the message names the file."""


@dataclass
class Drops:
    """Counts of dropped rows per reason code, with a few example locations per reason."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 3

    def add(self, reason: str, where: str = "") -> None:
        self.counts[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if where and len(ex) < self.max_examples:
            ex.append(where)

    def merge(self, other: Drops) -> Drops:
        for reason, n in other.counts.items():
            self.counts[reason] += n
            ex = self.examples.setdefault(reason, [])
            ex.extend(other.examples.get(reason, [])[: max(0, self.max_examples - len(ex))])
        return self

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_reason": dict(sorted(self.counts.items())),
            "examples": self.examples,
        }


def read_jsonl(path: str | Path, drops: Drops | None = None) -> list[dict]:
    """The JSON objects of a JSONL file; bad lines are counted in `drops` and skipped."""
    path = Path(path)
    if not path.is_file():
        raise AnalysisInputError(f"{path}: file not found")
    drops = drops if drops is not None else Drops()
    rows = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                drops.add("invalid_json", f"{path}:{lineno}")
                continue
            if not isinstance(obj, dict):
                drops.add("not_an_object", f"{path}:{lineno}")
                continue
            obj["_where"] = f"{path}:{lineno}"
            rows.append(obj)
    return rows


def validate_trace(row: dict) -> str | None:
    """The reason code why an eval record cannot be analysed, or None when it can."""
    for name in TRACE_FIELDS:
        if row.get(name) is None:
            return f"missing_{name}"
    if not isinstance(row["output"], str):
        return "output_not_text"
    if row["category"] not in CATEGORIES:
        return "unknown_category"
    return None


def load_traces(paths: Iterable[str | Path], experiment: str, drops: Drops | None = None) -> list[dict]:
    """Evaluation records of one experiment (eval/{experiment}/{checkpoint}/{benchmark}.jsonl).

    Each kept record gets `experiment` and, when absent, `benchmark` from the file name.
    """
    drops = drops if drops is not None else Drops()
    out = []
    for p in paths:
        for row in read_jsonl(p, drops):
            reason = validate_trace(row)
            if reason:
                drops.add(reason, row["_where"])
                continue
            row["experiment"] = experiment
            row.setdefault("benchmark", Path(p).stem)
            out.append(row)
    return out


def load_eval_summary(path: str | Path) -> dict:
    """An eval summary.json with a `categories` mapping of category -> score."""
    path = Path(path)
    if not path.is_file():
        raise AnalysisInputError(f"{path}: file not found")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise AnalysisInputError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("categories"), dict):
        raise AnalysisInputError(
            f"{path}: expected an object with a 'categories' mapping of category -> score"
        )
    return data


def load_train_log(path: str | Path, drops: Drops | None = None) -> list[dict]:
    """Logged training steps (one JSON object per line, TRL log_history keys), sorted by step.

    Rows without a numeric `step` are dropped (`missing_step`); so are non-numeric values of
    metrics, key by key, because TRL also logs strings (e.g. completion samples).
    """
    drops = drops if drops is not None else Drops()
    rows = []
    for row in read_jsonl(path, drops):
        step = row.get("step", row.get("global_step"))
        if not isinstance(step, int | float) or isinstance(step, bool):
            drops.add("missing_step", row["_where"])
            continue
        clean = {
            k: float(v)
            for k, v in row.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and k not in ("step", "global_step")
        }
        clean["step"] = float(step)
        rows.append(clean)
    rows.sort(key=lambda r: r["step"])
    return rows
