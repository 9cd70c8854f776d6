"""Turn benchmark rows (hub, local file in the published format, or canonical VeroMini rows)
into `EvalSample`s.

Malformed rows are dropped with a reason code and counted (`LoadResult.dropped`), never raised:
one broken row must not cost the other few thousand. Structural problems (a missing file, a
field the registry names that no row has) raise `SampleLoadError` naming the benchmark and file.
"""

from __future__ import annotations

import ast
import base64
import binascii
import io
import json
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vero.eval.registry import BenchmarkSpec
from vero.prompts import OPTION_LETTERS, question_with_options


class SampleLoadError(ValueError):
    """The rows of a benchmark cannot be read at all (missing file, unknown format, bad mapping)."""


@dataclass
class EvalSample:
    """One evaluation sample. `answer` is the gold as text (what the JSONL shows and what
    vero.rewards routes take); `reference` is the scorer's structured gold (a list of accepted
    strings, a pixel box, IFEval instructions) where the scorer needs more than text."""

    id: str
    benchmark: str
    category: str
    question: str
    images: list[bytes]
    image_size: tuple[int, int] | None
    scorer: str
    answer: str
    reward_type: str | None = None
    tolerance: float | None = None
    reference: Any = None
    meta: dict = field(default_factory=dict)

    def public_dict(self) -> dict:
        d = asdict(self)
        d.pop("images")
        d["n_images"] = len(self.images)
        return d


@dataclass
class LoadResult:
    samples: list[EvalSample]
    n_rows: int
    dropped: Counter

    def dropped_dict(self) -> dict[str, int]:
        return dict(sorted(self.dropped.items()))


class _Drop(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ---- row sources ---------------------------------------------------------------------------


def _read_local_rows(path: Path) -> list[dict]:
    if not path.exists():
        raise SampleLoadError(f"{path}: benchmark data file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        if suffix == ".jsonl":
            rows = []
            for i, line in enumerate(path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    # one unreadable line is a malformed row, counted by the caller
                    rows.append({"__unreadable__": f"line {i}: {e}"})
            return rows
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


class _HubRows(Sequence):
    """The rows of one or more configs of a hub dataset, read (and images decoded) only when
    indexed, so a seeded subset of a large benchmark never decodes the rest."""

    def __init__(self, spec: BenchmarkSpec):
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
            self.parts.append((hub_id.rsplit("/", 1)[-1] if multi else config, ds))
        self.column_names = sorted({c for _, ds in self.parts for c in ds.column_names})

    def __len__(self) -> int:
        return sum(len(ds) for _, ds in self.parts)

    def __getitem__(self, i: int) -> dict:
        for config, ds in self.parts:
            if i < len(ds):
                return {**ds[i], "__config__": config}
            i -= len(ds)
        raise IndexError(i)


def iter_rows(spec: BenchmarkSpec) -> tuple[Sequence[dict], Path | None]:
    """The rows of a benchmark and the directory relative image paths are resolved against."""
    if spec.source_kind in ("local", "canonical"):
        path = Path(spec.local_path)
        return _read_local_rows(path), path.parent
    return _HubRows(spec), None


# ---- field conversion ----------------------------------------------------------------------


def image_bytes(value: Any, base_dir: Path | None = None) -> bytes | None:
    """Encoded image bytes from the forms benchmarks publish images in: a PIL image, raw bytes,
    a datasets Image dict ({"bytes", "path"}), a file path, or base64 text. None when absent."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value) if value else None
    if isinstance(value, Mapping):
        if value.get("bytes"):
            return bytes(value["bytes"])
        return image_bytes(value.get("path"), base_dir) if value.get("path") else None
    if isinstance(value, str):
        if not value:
            return None
        p = Path(value)
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        if len(value) < 1024 and p.exists():
            return p.read_bytes()
        try:
            data = base64.b64decode(
                value.split(",", 1)[-1] if value.startswith("data:") else value, validate=True
            )
        except (binascii.Error, ValueError) as e:
            raise _Drop("bad_image") from e
        return data or None
    if hasattr(value, "save"):  # PIL image (datasets decodes Image features)
        buf = io.BytesIO()
        value.convert("RGB").save(buf, format="PNG")
        return buf.getvalue()
    raise _Drop("bad_image")


def decode_size(data: bytes) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(im.size[0]), int(im.size[1])
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise _Drop("bad_image") from e


def _last_if_list(value: Any) -> Any:
    # conversational rows (ChartQA-Pro) keep one entry per turn; the last turn is the one asked
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def parse_options(value: Any) -> list[str]:
    """Options as a list of strings from a list, a JSON/Python list literal or a {letter: text} dict."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError) as e:
                raise _Drop("bad_options") from e
    if isinstance(value, Mapping):
        value = [value[k] for k in sorted(value)]
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise _Drop("bad_options")
    opts = [str(o).strip() for o in value if o is not None and str(o).strip()]
    if len(opts) > len(OPTION_LETTERS):
        raise _Drop("bad_options")
    # options published as "A. text" / "(A) text" keep their text only, rendered our way
    strip = re.compile(r"^\(?([A-Z])[\.\):]\s+")
    if opts and all(
        strip.match(o) and strip.match(o).group(1) == OPTION_LETTERS[i] for i, o in enumerate(opts)
    ):
        opts = [strip.sub("", o, count=1) for o in opts]
    return opts


_LETTER_RE = re.compile(r"^\(?\s*([A-Za-z])\s*\)?[\.\:]?$")


def _letter(value: Any, n_options: int) -> str:
    text = str(value).strip()
    m = _LETTER_RE.match(text)
    if not m:
        raise _Drop("bad_answer")
    letter = m.group(1).upper()
    if n_options and OPTION_LETTERS.index(letter) >= n_options:
        raise _Drop("answer_not_in_options")
    return letter


def _box(value: Any, fmt: str, size: tuple[int, int]) -> list[float]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise _Drop("bad_bbox") from e
    if isinstance(value, Mapping):
        value = value.get("bbox_2d", value.get("bbox"))
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        value = value[0].get("bbox_2d", value[0].get("bbox"))
    if hasattr(value, "tolist"):
        value = value.tolist()
    try:
        box = [float(v) for v in value]
    except (TypeError, ValueError) as e:
        raise _Drop("bad_bbox") from e
    if len(box) != 4:
        raise _Drop("bad_bbox")
    if fmt == "bbox_xywh":
        box = [box[0], box[1], box[0] + box[2], box[1] + box[3]]
    elif fmt == "bbox_xyxy_relative":
        w, h = size
        box = [box[0] * w, box[1] * h, box[2] * w, box[3] * h]
    if box[2] < box[0] or box[3] < box[1]:
        raise _Drop("bad_bbox")
    return box


def _ifeval_gold(row: Mapping, fields: Mapping) -> str:
    """IFEval's published layout (instruction ids + one kwargs dict each) as the ground truth of the
    instruction_following reward route: {"instructions": [{"class": <id>, "args": {...}}]}."""
    ids = row.get(fields["answer"])
    kwargs = row.get(fields.get("kwargs") or "kwargs")
    if isinstance(ids, str):
        try:
            ids = json.loads(ids)
        except json.JSONDecodeError as e:
            raise _Drop("bad_ifeval") from e
    if isinstance(kwargs, str):
        try:
            kwargs = json.loads(kwargs)
        except json.JSONDecodeError as e:
            raise _Drop("bad_ifeval") from e
    if not isinstance(ids, list) or not ids:
        raise _Drop("bad_ifeval")
    kwargs = list(kwargs) if isinstance(kwargs, list) else [{} for _ in ids]
    if len(kwargs) != len(ids):
        raise _Drop("bad_ifeval")
    gold = json.dumps(
        {
            "instructions": [
                {"class": str(i), "args": {k: v for k, v in (kw or {}).items() if v is not None}}
                for i, kw in zip(ids, kwargs, strict=True)
            ]
        },
        ensure_ascii=False,
    )
    from vero.rewards.ifeval import check_instruction_gold

    try:  # unknown instruction ids or arguments that do not fit the checker
        check_instruction_gold(gold)
    except ValueError as e:
        raise _Drop("bad_ifeval") from e
    return gold


# ---- rows → samples ------------------------------------------------------------------------


def _row_to_sample(spec: BenchmarkSpec, row: Mapping, index: int, base_dir: Path | None) -> EvalSample:
    if "__unreadable__" in row:
        raise _Drop("unreadable_row")
    f = spec.fields
    images = [b for b in (image_bytes(row.get(name), base_dir) for name in f["images"]) if b]
    if not images:
        raise _Drop("no_image")
    size = decode_size(images[0])

    qfield = f.get("question")
    question = ""
    if qfield:
        q = _last_if_list(row.get(qfield))
        if q is None or not str(q).strip():
            raise _Drop("missing_question")
        question = str(q).strip()
    if spec.question_template:
        question = spec.question_template.format(question=question)

    options = parse_options(row.get(f["options"])) if f.get("options") else []
    fmt = f["answer_format"]
    raw_answer = row.get(f["answer"])
    if fmt in ("text", "letter", "option_text", "option_index"):
        raw_answer = _last_if_list(raw_answer)
    if fmt != "ifeval" and (raw_answer is None or (isinstance(raw_answer, str) and not raw_answer.strip())):
        raise _Drop("missing_answer")

    reward_type = spec.reward_type
    if spec.scorer == "reward" and spec.mc_when_options:
        reward_type = "multiple_choice" if options else spec.reward_type
    reference: Any = None
    if fmt == "text":
        answer = str(raw_answer).strip()
        reference = [answer]
    elif fmt == "text_list":
        golds = raw_answer if isinstance(raw_answer, (list, tuple)) else parse_options(raw_answer)
        golds = [str(g).strip() for g in golds if str(g).strip()]
        if not golds:
            raise _Drop("missing_answer")
        answer, reference = json.dumps(golds, ensure_ascii=False), golds
    elif fmt == "letter":
        answer = (
            _letter(raw_answer, len(options))
            if (options or reward_type == "multiple_choice")
            else str(raw_answer).strip()
        )
        reference = [answer]
    elif fmt == "option_text":
        if options:
            text = str(raw_answer).strip()
            if text not in options:
                raise _Drop("answer_not_in_options")
            answer = OPTION_LETTERS[options.index(text)]
        else:
            answer = str(raw_answer).strip()
        reference = [answer]
    elif fmt == "option_index":
        try:
            idx = int(raw_answer)
        except (TypeError, ValueError) as e:
            raise _Drop("bad_answer") from e
        if not 0 <= idx < len(options):
            raise _Drop("answer_not_in_options")
        answer = OPTION_LETTERS[idx]
        reference = [answer]
    elif fmt.startswith("bbox"):
        reference = _box(raw_answer, fmt, size)
        answer = json.dumps([{"bbox_2d": [round(v, 2) for v in reference]}])
    elif fmt == "ifeval":
        answer = _ifeval_gold(row, f)
    else:  # guarded by the registry; kept so a new format cannot slip through silently
        raise SampleLoadError(f"benchmark {spec.key}: unhandled answer_format {fmt!r}")

    if options:
        question = question_with_options(question, options)
    sid = row.get(f["id"]) if f.get("id") else None
    config = row.get("__config__")
    sid = str(sid) if sid is not None else (f"{config}-{index}" if config else str(index))
    return EvalSample(
        id=sid,
        benchmark=spec.key,
        category=spec.category,
        question=question,
        images=images,
        image_size=size,
        scorer=spec.scorer,
        answer=answer,
        reward_type=reward_type,
        reference=reference,
        meta={"options": options, **({"config": config} if config else {})},
    )


def _canonical_to_sample(spec: BenchmarkSpec, row: Mapping, index: int) -> EvalSample:
    from vero.rewards.types import REWARD_TYPES

    if row.get("category") not in (None, spec.category):
        raise _Drop("wrong_category")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise _Drop("missing_question")
    images = [bytes(b) for b in (row.get("images") or []) if b]
    if not images:
        raise _Drop("no_image")
    rt = row.get("reward_type")
    if rt not in REWARD_TYPES:
        raise _Drop("unknown_reward_type")
    answer = row.get("answer")
    if answer is None or (isinstance(answer, str) and not answer.strip() and rt not in ("llm_judge",)):
        raise _Drop("missing_answer")
    size = row.get("image_size")
    size = (int(size[0]), int(size[1])) if size is not None and len(size) == 2 else decode_size(images[0])
    tol = row.get("tolerance")
    return EvalSample(
        id=str(row.get("id") if row.get("id") is not None else index),
        benchmark=spec.key,
        category=spec.category,
        question=question,
        images=images,
        image_size=size,
        scorer="reward",
        answer=str(answer),
        reward_type=rt,
        tolerance=None if tol is None or tol != tol else float(tol),  # NaN (pandas null) → None
        meta={"data_source": row.get("data_source"), "coords": row.get("coords", "absolute")},
    )


def load_samples(spec: BenchmarkSpec, *, max_samples: int | None = None, seed: int = 0) -> LoadResult:
    """Evaluation samples of one benchmark; at most `max_samples`, chosen by a seeded draw
    (benchmarks often list rows grouped by type, so the first rows would be a biased subset)."""
    rows, base_dir = iter_rows(spec)
    _check_fields(spec, rows)
    order = list(range(len(rows)))
    if max_samples is not None and max_samples < len(rows):
        order = sorted(random.Random(seed).sample(order, max_samples))
    dropped: Counter = Counter()
    samples: list[EvalSample] = []
    seen: set[str] = set()
    for i in order:
        try:
            s = (
                _canonical_to_sample(spec, rows[i], i)
                if spec.is_mini
                else _row_to_sample(spec, rows[i], i, base_dir)
            )
        except _Drop as d:
            dropped[d.reason] += 1
            continue
        if s.id in seen:
            dropped["duplicate_id"] += 1
            continue
        seen.add(s.id)
        samples.append(s)
    return LoadResult(samples=samples, n_rows=len(rows), dropped=dropped)


def _check_fields(spec: BenchmarkSpec, rows: Sequence[dict]) -> None:
    """A field the registry names that no row has is a mapping error, not a malformed row."""
    if spec.is_mini or not len(rows):
        return
    present: set[str] = set(getattr(rows, "column_names", ()))
    if not present:
        for i in range(min(50, len(rows))):
            present.update(rows[i].keys())
    f = spec.fields
    named = {"question": f.get("question"), "answer": f.get("answer"), "options": f.get("options")}
    missing = [f"fields.{k}={v!r}" for k, v in named.items() if v and v not in present]
    if not any(name in present for name in f["images"]):
        missing.append(f"fields.images={f['images']!r}")
    if missing:
        where = spec.local_path or spec.hub_id
        raise SampleLoadError(
            f"benchmark {spec.key} ({where}): no row has {', '.join(missing)}; "
            f"row fields are {sorted(present)}"
        )
