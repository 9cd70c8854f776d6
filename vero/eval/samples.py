"""Turn benchmark rows (hub, local copy in the published layout, or canonical VeroMini rows) into
`EvalSample`s: rows → (expansion) → images, gold answer, prompt.

Malformed rows are dropped with a reason code and counted (`LoadResult.dropped`), never raised:
one broken row must not cost the other few thousand. Structural problems (a missing file, a
field the registry names that no row has) raise `SampleLoadError` naming the benchmark and file.
"""

from __future__ import annotations

import ast
import json
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vero.eval.expand import ExpandedRows, columns, plan_expansion
from vero.eval.images import ImageDrop, decode_size, fetch_image, image_bytes, labelled_strip
from vero.eval.prompting import PromptDrop, build_prompt
from vero.eval.registry import BenchmarkSpec
from vero.eval.rows import SampleLoadError, row_value, source_rows
from vero.prompts import OPTION_LETTERS

__all__ = ["EvalSample", "LoadResult", "SampleLoadError", "decode_size", "image_bytes", "load_samples"]


@dataclass
class EvalSample:
    """One evaluation sample. `answer` is the gold as text (what the JSONL shows and what
    vero.rewards routes take); `reference` is the scorer's structured gold (a list of accepted
    strings, a pixel box, constraints) where the scorer needs more than text. `question` is the
    prompt text of the (last) user turn; `messages` the whole conversation when the sample has
    several turns (image parts are placeholders bound to `images` in order). `meta["row"]` holds
    the row fields the registry's `fields.extra` names, for scoring."""

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
    messages: list[dict] | None = None

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


# ---- field conversion ----------------------------------------------------------------------


def _as_list(value: Any) -> list:
    if hasattr(value, "tolist"):
        value = value.tolist()
    return list(value) if isinstance(value, (list, tuple)) else [value]


def raw_options(value: Any) -> list[str]:
    """Options as published, in order: a list, a JSON / Python list literal, or a {letter: text}
    dict. Each as its text (not stripped): what a prompt renders."""
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
    opts = [str(o) for o in value]  # every entry keeps its letter, empty ones included
    if len(opts) > len(OPTION_LETTERS):
        raise _Drop("bad_options")
    return opts


_LETTER_PREFIX = re.compile(r"^\(?([A-Z])[\.\):]\s+")


def parse_options(value: Any) -> list[str]:
    """Options as texts for scoring: stripped, and "A. text" / "(A) text" prefixes removed when
    every option carries its own letter in order."""
    opts = [o.strip() for o in raw_options(value)]
    if opts and all(
        (m := _LETTER_PREFIX.match(o)) and m.group(1) == OPTION_LETTERS[i] for i, o in enumerate(opts)
    ):
        opts = [_LETTER_PREFIX.sub("", o, count=1) for o in opts]
    return opts


_LETTER_RE = re.compile(r"^\(?\s*([A-Za-z])\s*\)?[\.\:]?$")


def _letter(value: Any, n_options: int) -> str:
    m = _LETTER_RE.match(str(value).strip())
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
    """IFEval's layout (instruction ids + one kwargs dict each) as the ground truth of the
    instruction_following reward route: {"instructions": [{"class": <id>, "args": {...}}]}."""
    ids, kwargs = row.get(fields["answer"]), row.get(fields.get("kwargs") or "kwargs")
    try:
        ids = json.loads(ids) if isinstance(ids, str) else ids
        kwargs = json.loads(kwargs) if isinstance(kwargs, str) else kwargs
    except json.JSONDecodeError as e:
        raise _Drop("bad_ifeval") from e
    if not isinstance(ids, list) or not ids:
        raise _Drop("bad_ifeval")
    kwargs = list(kwargs) if isinstance(kwargs, list) else [{} for _ in ids]
    if len(kwargs) != len(ids):
        raise _Drop("bad_ifeval")
    instructions = [
        {"class": str(i), "args": {k: v for k, v in (kw or {}).items() if v is not None}}
        for i, kw in zip(ids, kwargs, strict=True)
    ]
    gold = json.dumps({"instructions": instructions}, ensure_ascii=False)
    from vero.rewards.ifeval import check_instruction_gold

    try:  # unknown instruction ids or arguments that do not fit the checker
        check_instruction_gold(gold)
    except ValueError as e:
        raise _Drop("bad_ifeval") from e
    return gold


def _jsonable(value: Any) -> Any:
    """A row value as plain JSON data (numpy arrays from Parquet become lists)."""
    return json.loads(json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def gold_answer(
    spec: BenchmarkSpec, row: Mapping, options: list[str], reward_type: str | None, size
) -> tuple[str, Any]:
    """(answer text, structured reference) of a row, by `fields.answer_format`."""
    f = spec.fields
    fmt = f["answer_format"]
    raw = row_value(row, f["answer"])
    if fmt in ("text", "letter", "option_text", "option_index") and isinstance(raw, (list, tuple)):
        raw = raw[-1] if raw else None  # conversational rows: the last turn is the one asked
    if fmt != "ifeval" and (raw is None or (isinstance(raw, str) and not raw.strip())):
        raise _Drop("missing_answer")
    if fmt == "text":
        return str(raw).strip(), [str(raw).strip()]
    if fmt == "text_list":
        golds = [str(g).strip() for g in (_as_list(raw) if not isinstance(raw, str) else raw_options(raw))]
        golds = [g for g in golds if g]
        if not golds:
            raise _Drop("missing_answer")
        return json.dumps(golds, ensure_ascii=False), golds
    if fmt == "letter":
        mc = options or reward_type == "multiple_choice"
        answer = _letter(raw, len(options)) if mc else str(raw).strip()
        return answer, [answer]
    if fmt == "option_text":
        text = str(raw).strip()
        if options and text not in options:
            raise _Drop("answer_not_in_options")
        answer = OPTION_LETTERS[options.index(text)] if options else text
        return answer, [answer]
    if fmt == "option_index":
        try:
            idx = int(raw)
        except (TypeError, ValueError) as e:
            raise _Drop("bad_answer") from e
        if not 0 <= idx < len(options):
            raise _Drop("answer_not_in_options")
        return OPTION_LETTERS[idx], [OPTION_LETTERS[idx]]
    if fmt.startswith("bbox"):
        box = _box(raw, fmt, size)
        return json.dumps([{"bbox_2d": [round(v, 2) for v in box]}]), box
    if fmt == "json":
        data = _jsonable(raw)
        return json.dumps(data, ensure_ascii=False, sort_keys=True), data
    if fmt == "ifeval":
        return _ifeval_gold(row, f), None
    raise SampleLoadError(f"benchmark {spec.key}: unhandled answer_format {fmt!r}")  # guarded by the registry


# ---- images of a row -----------------------------------------------------------------------


def _referenced_image_fields(spec: BenchmarkSpec, row: Mapping) -> list[str]:
    ref = spec.fields["images_by_reference"]
    text = " ".join(
        str(row_value(row, name) or "") for name in ref.get("search") or [spec.fields.get("question")]
    )
    numbers = re.findall(ref["pattern"], text)
    names = [str(ref["field"]).replace("{}", n) for n in numbers]
    return sorted(set(names)) if ref.get("order") == "sorted_unique" else names


def row_images(spec: BenchmarkSpec, row: Mapping, base_dir: Path | None) -> list[bytes]:
    """Encoded images of a row, in prompt order: named fields (an image or a list each), or the
    fields `<image N>` tokens name; fetched by file name when the registry says so; optionally
    combined into one. An empty list when the row has none."""
    f = spec.fields
    names = _referenced_image_fields(spec, row) if f.get("images_by_reference") else list(f["images"])
    values = [v for name in names for v in _as_list(row_value(row, name)) if v is not None]
    if f.get("max_images"):
        values = values[: int(f["max_images"])]
    fetch = f.get("image_fetch")
    try:
        if fetch:
            images = [
                fetch_image(v, fetch, base_dir=base_dir, hub_id=row.get("__hub_id__") or spec.hub_id)
                for v in values
            ]
        else:
            images = [b for b in (image_bytes(v, base_dir) for v in values) if b]
        if f.get("image_combine") == "labelled_strip" and images:
            images = [labelled_strip(images)]
    except ImageDrop as d:
        raise _Drop(d.reason) from d
    return images


def _image_size(spec: BenchmarkSpec, row: Mapping, images: list[bytes]) -> tuple[int, int]:
    names = spec.fields.get("image_size")
    if names:
        try:
            return int(row_value(row, names[0])), int(row_value(row, names[1]))
        except (TypeError, ValueError) as e:
            raise _Drop("bad_image_size") from e
    try:
        return decode_size(images[0])
    except ImageDrop as d:
        raise _Drop(d.reason) from d


# ---- rows → samples ------------------------------------------------------------------------


def _row_to_sample(spec: BenchmarkSpec, row: Mapping, index: int, base_dir: Path | None) -> EvalSample:
    if "__unreadable__" in row:
        raise _Drop("unreadable_row")
    f = spec.fields
    images = row_images(spec, row, base_dir)
    if not images:
        raise _Drop("no_image")
    size = _image_size(spec, row, images)
    opts_raw = raw_options(row_value(row, f["options"])) if f.get("options") else []
    options = parse_options(opts_raw)
    reward_type = spec.reward_type
    if spec.scorer == "reward" and spec.mc_when_options:
        reward_type = "multiple_choice" if options else spec.reward_type
    answer, reference = gold_answer(spec, row, options, reward_type, size)
    try:
        prompt = build_prompt(spec.prompt, row, question_field=f.get("question"), options=opts_raw)
    except PromptDrop as d:
        raise _Drop(d.reason) from d
    if prompt.turns is not None:  # every image placeholder of a conversation shows the row's image
        n_parts = sum(p["type"] == "image" for t in prompt.turns for p in t["content"])
        images = [images[0]] * n_parts
    config = row.get("__config__")
    sid = row_value(row, f["id"]) if f.get("id") else None
    sid = str(sid) if sid is not None else (f"{config}-{index}" if config else str(index))
    extra = {name: _jsonable(row_value(row, name)) for name in f.get("extra", [])}
    meta = {"options": options, "row": extra, "row_index": index, **({"config": config} if config else {})}
    if "__source_row__" in row:
        meta["source_row"] = row["__source_row__"]
    return EvalSample(
        id=sid,
        benchmark=spec.key,
        category=spec.category,
        question=prompt.text,
        images=images,
        image_size=size,
        scorer=spec.scorer,
        answer=answer,
        reward_type=reward_type,
        reference=reference,
        meta=meta,
        messages=prompt.turns,
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


def benchmark_rows(spec: BenchmarkSpec) -> tuple[Sequence[dict], Path | None, Counter]:
    """The rows samples are made of (after the registry's expansion), the directory relative
    image paths resolve against, and the published rows an expansion skipped, by reason."""
    rows, base_dir = source_rows(spec)
    if spec.is_mini or not spec.expand:
        return rows, base_dir, Counter()
    plan_rows = rows.columns(columns(spec.expand)) if hasattr(rows, "columns") else rows
    plan, skipped = plan_expansion(spec.expand, plan_rows)
    return ExpandedRows(rows, plan), base_dir, skipped


def load_samples(spec: BenchmarkSpec, *, max_samples: int | None = None, seed: int = 0) -> LoadResult:
    """Evaluation samples of one benchmark; at most `max_samples`, chosen by a seeded draw
    (benchmarks often list rows grouped by type, so the first rows would be a biased subset)."""
    rows, base_dir, dropped = benchmark_rows(spec)
    _check_fields(spec, rows)
    order = list(range(len(rows)))
    if max_samples is not None and max_samples < len(rows):
        order = sorted(random.Random(seed).sample(order, max_samples))
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
    present: set[str] = set(getattr(rows, "column_names", None) or ())
    if not present:
        for i in range(min(50, len(rows))):
            present.update(rows[i].keys())
    f = spec.fields
    named = {"question": f.get("question"), "answer": f.get("answer"), "options": f.get("options")}
    missing = [f"fields.{k}={v!r}" for k, v in named.items() if v and v.split(".")[0] not in present]
    image_fields = f.get("images") or []
    if image_fields and not any(name in present for name in image_fields):
        missing.append(f"fields.images={image_fields!r}")
    if missing:
        where = spec.local_path or spec.hub_id
        raise SampleLoadError(
            f"benchmark {spec.key} ({where}): no row has {', '.join(missing)}; "
            f"row fields are {sorted(present)}"
        )
