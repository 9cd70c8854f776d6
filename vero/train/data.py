"""Turn a training mix (`data/mix/{experiment}.parquet`, canonical records) into TRL rows.

RL rows (GRPOTrainer): a conversational `prompt` (system prompt + user turn with one
`{"type": "image"}` part per image, `vero.prompts.build_messages`), the images as an `images`
column, and the columns the Vero reward reads (`reward_type`, `answer`, `tolerance`,
`image_size`, `category`, plus `id` and `data_source` for the rollout log).

SFT rows (SFTTrainer): the same prompt plus a `completion` holding the reference answer in the
output format the policy is trained to produce, `<think>…</think><answer>…</answer>`.

Malformed rows are dropped with a reason code and counted (`DropReport`). The mix is in
category-balanced order per block of `mix.batch_size` rows, so when a multi-category mix loses a
row, the whole block goes with it (reason `block_of_dropped_row`): the remaining blocks stay
aligned and balanced.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from vero.data.schema import COLUMNS, IMAGE_UNDECODABLE, check_record, image_dimensions, parse_structured
from vero.prompts import TrainingPrompt
from vero.rewards.types import reward_type_spec

# The canonical columns (vero.data.schema.COLUMNS) a mix file must have: those up to `tolerance`
# (coords, split, messages and curated are read when present).
REQUIRED_COLUMNS: tuple[str, ...] = COLUMNS[: COLUMNS.index("tolerance") + 1]
REWARD_COLUMNS: tuple[str, ...] = (
    "id",
    "question",
    "data_source",
    "category",
    "reward_type",
    "answer",
    "tolerance",
    "image_size",
)

BLOCK_OF_DROPPED_ROW = "block_of_dropped_row"
NO_SFT_TARGET = "no_sft_target"

# Reasoning text of SFT targets: the data holds reference answers, not reasoning traces.
SFT_THINK = "I look at the image and work out the answer."


@dataclass
class DropReport:
    """Rows read, kept and dropped per reason code for one mix file."""

    path: str
    rows_read: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # reason -> first "row i (id): detail"

    def drop(self, reason: str, detail: str) -> None:
        self.dropped[reason] += 1
        self.examples.setdefault(reason, detail)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rows_read": self.rows_read,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "examples": self.examples,
        }


def check_mix_columns(path: str | Path) -> None:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: training mix not found (the data stage writes data/mix/<experiment>.parquet)"
        )
    try:
        names = pq.ParquetFile(path).schema_arrow.names
    except Exception as e:
        raise ValueError(f"{path}: not a readable Parquet file ({e})") from e
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise ValueError(
            f"{path}: missing columns {missing}; the canonical record is in docs/architecture.md"
        )


def row_problem(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first reason to drop a mix row, or None. Images are checked from their headers only."""
    problems = [p for p in check_record({"coords": "absolute", "split": "train", **row}) if p]
    if problems:
        return problems[0]
    for i, data in enumerate(row["images"]):
        try:
            image_dimensions(data)
        except Exception as e:
            return IMAGE_UNDECODABLE, f"image {i}: {type(e).__name__}: {e}"
    return None


def _scan(path: Path, *, block_size: int, drop_whole_blocks: bool, report: DropReport) -> list[int]:
    """Indices of the rows to keep."""
    columns = list(REQUIRED_COLUMNS)
    bad_rows: dict[int, tuple[str, str]] = {}
    n = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=512, columns=columns):
        for row in batch.to_pylist():
            problem = row_problem(row)
            if problem:
                bad_rows[n] = (problem[0], f"row {n} (id {row.get('id')!r}): {problem[1]}")
            n += 1
    report.rows_read = n
    for code, detail in bad_rows.values():
        report.drop(code, detail)
    if not drop_whole_blocks:
        return [i for i in range(n) if i not in bad_rows]
    bad_blocks = {i // block_size for i in bad_rows}
    keep = []
    for i in range(n):
        if i // block_size not in bad_blocks:
            keep.append(i)
        elif i not in bad_rows:
            report.drop(BLOCK_OF_DROPPED_ROW, f"row {i}: in block {i // block_size} with a malformed row")
    return keep


def _scale_box(box: list[float], size: list[int], coords: str) -> list[int]:
    if coords != "qwen1000":
        return [round(v) for v in box]
    w, h = size
    return [
        round(box[0] / w * 1000),
        round(box[1] / h * 1000),
        round(box[2] / w * 1000),
        round(box[3] / h * 1000),
    ]


def sft_answer(row: Mapping[str, Any], coords: str) -> str | None:
    """The answer block content for a reference target, or None when the row has no reference.
    What it is made of is the reward type's `sft_target` (vero.rewards.types.REWARD_TYPE_SPECS)."""
    rt, answer = row["reward_type"], row["answer"]
    kind = reward_type_spec(rt).sft_target
    if kind == "boxed":
        if rt == "list_string_match":
            try:
                value = parse_structured(answer)
            except ValueError:
                value = answer
            answer = str(value[0]) if isinstance(value, list) and value else str(value)
        return "\\boxed{" + str(answer) + "}"
    if kind in ("boxes", "point"):
        boxes = parse_structured(answer)
        size = row["image_size"]
        if kind == "boxes":
            out = [
                {"bbox_2d": _scale_box(b["bbox_2d"], size, coords), "label": b.get("label", "")}
                for b in boxes
            ]
        else:  # click the centre of the first gold box
            x1, y1, x2, y2 = _scale_box(boxes[0]["bbox_2d"], size, coords)
            out = [{"point_2d": [round((x1 + x2) / 2), round((y1 + y2) / 2)]}]
        return json.dumps(out)
    if kind == "text":
        return answer.strip() or None
    if kind == "reference":
        reference = parse_structured(answer).get("reference")
        return reference.strip() if isinstance(reference, str) and reference.strip() else None
    return None  # constraints only (instruction_following): no reference text


def sft_target(row: Mapping[str, Any], coords: str) -> str | None:
    answer = sft_answer(row, coords)
    return None if answer is None else f"<think>{SFT_THINK}</think><answer>{answer}</answer>"


def training_prompts(batch: dict[str, list], prompt: TrainingPrompt) -> list[list[dict]]:
    """The conversational prompt of each row (`data.prompt`; `vero.prompts.TrainingPrompt`): the
    configured system turn, then the row's own user turn (its `messages`, when it has them)."""
    sources = batch.get("messages") or [""] * len(batch["question"])
    return [
        prompt.messages(q, len(imgs), src)
        for q, imgs, src in zip(batch["question"], batch["images"], sources, strict=True)
    ]


def _to_rl_rows(batch: dict[str, list], prompt: TrainingPrompt) -> dict[str, list]:
    out = {
        "prompt": training_prompts(batch, prompt),
        "images": [[{"bytes": b, "path": None} for b in imgs] for imgs in batch["images"]],
    }
    for col in REWARD_COLUMNS:
        out[col] = batch[col]
    return out


def load_mix(
    path: str | Path,
    *,
    mix_batch_size: int,
    single_category: bool,
    system_prompt: str | None = None,
    trainer: str = "rl",
    coords: str = "absolute",
    max_rows: int | None = None,
    prompt: dict | None = None,
):
    """Read a mix file into a `datasets.Dataset` of TRL rows; returns (dataset, DropReport).

    `prompt` is the config's `data.prompt` (None = the project's prompt); `system_prompt` is
    `train.system_prompt`, the project's prompt text when set.
    """
    from datasets import Dataset, Features, Image, List, Value

    path = Path(path)
    check_mix_columns(path)
    report = DropReport(path=str(path))
    keep = _scan(path, block_size=mix_batch_size, drop_whole_blocks=not single_category, report=report)
    if max_rows is not None:
        keep = keep[:max_rows]
    columns = list(REQUIRED_COLUMNS)
    if "messages" in pq.ParquetFile(path).schema_arrow.names:
        columns.append("messages")  # the source's own chat turns (mixes written before lack them)
    raw = Dataset.from_parquet(str(path), columns=columns, split="train")
    if len(keep) < len(raw):
        raw = raw.select(keep)

    features = Features(
        {
            "prompt": [
                {"role": Value("string"), "content": [{"type": Value("string"), "text": Value("string")}]}
            ],
            "images": List(Image()),
            "id": Value("string"),
            "question": Value("string"),
            "data_source": Value("string"),
            "category": Value("string"),
            "reward_type": Value("string"),
            "answer": Value("string"),
            "tolerance": Value("float64"),
            "image_size": List(Value("int32")),
        }
    )
    ds = raw.map(
        _to_rl_rows,
        batched=True,
        batch_size=256,
        fn_kwargs={"prompt": TrainingPrompt.from_config(prompt, system_prompt)},
        remove_columns=raw.column_names,
        features=features,
        desc=f"prompts from {path.name}",
    )
    if trainer == "sft":
        ds, report = _add_sft_targets(ds, raw, coords=coords, report=report)
    report.kept = len(ds)
    if len(ds) == 0:
        raise ValueError(f"{path}: no usable rows left (dropped: {dict(report.dropped)})")
    return ds, report


def _add_sft_targets(ds, raw, *, coords: str, report: DropReport):
    targets: list[str | None] = []
    for i, row in enumerate(raw.select_columns(["id", "reward_type", "answer", "image_size"])):
        try:
            target = sft_target(row, coords)
        except (ValueError, KeyError, TypeError, IndexError) as e:
            target = None
            report.drop(NO_SFT_TARGET, f"row {i} (id {row['id']!r}): {type(e).__name__}: {e}")
        else:
            if target is None:
                report.drop(
                    NO_SFT_TARGET, f"row {i} (id {row['id']!r}): {row['reward_type']} has no reference text"
                )
        targets.append(target)
    keep = [i for i, t in enumerate(targets) if t is not None]
    ds = ds.select(keep).add_column(
        "completion",
        [[{"role": "assistant", "content": [{"type": "text", "text": targets[i]}]}] for i in keep],
    )
    return ds, report


PROMPT_TOO_LONG = "prompt_too_long"


def image_token_count(width: int, height: int, image_processor) -> int:
    """Tokens a Qwen-VL image becomes: the processor's resize to a multiple of patch x merge within
    [min_pixels, max_pixels] (transformers' `smart_resize`), then one token per merge x merge patches."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize  # no torchvision

    patch = int(getattr(image_processor, "patch_size", 14))
    merge = int(getattr(image_processor, "merge_size", 2))
    size = getattr(image_processor, "size", None) or {}
    min_pixels = size.get("shortest_edge") or getattr(image_processor, "min_pixels", None) or 56 * 56
    max_pixels = size.get("longest_edge") or getattr(image_processor, "max_pixels", None) or 28 * 28 * 1280
    h, w = smart_resize(
        int(height), int(width), factor=patch * merge, min_pixels=min_pixels, max_pixels=max_pixels
    )
    return (h // patch) * (w // patch) // (merge * merge)


def prompt_token_count(prompt: list[dict], image_sizes: list[tuple[int, int]], processor) -> int:
    """Tokens of a conversational prompt as the policy reads it: the chat template with the
    generation prompt (one placeholder token per image) plus each image's tokens less its placeholder."""
    text = processor.tokenizer.apply_chat_template(
        [
            {
                "role": m["role"],
                "content": "".join(
                    "<|vision_start|><|image_pad|><|vision_end|>"
                    if p["type"] == "image"
                    else (p.get("text") or "")
                    for p in m["content"]
                ),
            }
            for m in prompt
        ],
        add_generation_prompt=True,
        tokenize=False,
    )
    ids = processor.tokenizer(text, add_special_tokens=False)["input_ids"]
    return len(ids) + sum(image_token_count(w, h, processor.image_processor) - 1 for w, h in image_sizes)


def filter_overlong_prompts(
    ds,
    report: DropReport,
    *,
    processor,
    max_prompt_length: int,
    mix_batch_size: int,
    single_category: bool,
):
    """Drop rows whose prompt exceeds `max_prompt_length` tokens (text + image tokens), as the
    release filters its data (verl `filter_overlong_prompts`, `data.max_prompt_length`).

    Dropped rows are counted under `prompt_too_long`; in a multi-category mix the rest of their
    block goes too (`block_of_dropped_row`), so the remaining blocks keep their category shares.
    Returns the filtered dataset (the report is updated in place)."""
    from vero.data.schema import image_dimensions

    lengths = []
    for row in ds.select_columns(["prompt", "images", "id"]).with_format(None):
        sizes = []
        for img in row["images"]:
            data = img["bytes"] if isinstance(img, dict) else None
            if data is None:  # decoded by datasets' Image feature
                sizes.append(img.size)
            else:
                sizes.append(image_dimensions(data))
        lengths.append(prompt_token_count(row["prompt"], sizes, processor))
    too_long = {i for i, n in enumerate(lengths) if n > max_prompt_length}
    if not too_long:
        return ds
    for i in sorted(too_long):
        report.drop(
            PROMPT_TOO_LONG,
            f"row {i}: prompt of {lengths[i]} tokens > train.max_prompt_length {max_prompt_length}",
        )
    if single_category:
        keep = [i for i in range(len(ds)) if i not in too_long]
    else:
        bad_blocks = {i // mix_batch_size for i in too_long}
        keep = [i for i in range(len(ds)) if i // mix_batch_size not in bad_blocks]
        for i in range(len(ds)):
            if i // mix_batch_size in bad_blocks and i not in too_long:
                report.drop(
                    BLOCK_OF_DROPPED_ROW, f"row {i}: in block {i // mix_batch_size} with an over-long prompt"
                )
    report.kept = len(keep)
    if not keep:
        raise ValueError(
            f"{report.path}: every prompt is longer than train.max_prompt_length ({max_prompt_length} tokens)"
        )
    return ds.select(keep)


def filter_overlong_prompts_for(resolved: Mapping, ds, report: DropReport, base_model: str):
    """`filter_overlong_prompts` with the experiment's limit (train.max_prompt_length or the
    family's default) and the base model's processor (its image resizing decides image tokens)."""
    from vero.models import load_processor
    from vero.train.trl_config import max_prompt_length

    processor = load_processor(
        str(base_model),
        min_pixels=resolved["model"].get("min_pixels"),
        max_pixels=resolved["model"].get("max_pixels"),
    )
    return filter_overlong_prompts(
        ds,
        report,
        processor=processor,
        max_prompt_length=max_prompt_length(resolved),
        mix_batch_size=int(resolved["mix"]["batch_size"]),
        single_category=len(resolved["categories"]) == 1,
    )


def load_validation_set(
    resolved: Mapping,
    paths,
    *,
    base_model: str,
    prompt: dict | None = None,
):
    """The in-training validation set (`train.validation`): TRL rows of the held-out split files
    (data/heldout/{category}.parquet, canonical records), the first
    `validation.max_samples_per_category` rows of each file, built with the experiment's training
    prompt and with over-long prompts dropped as in training. Returns (dataset, {path: DropReport});
    a file that keeps no row raises ValueError naming it."""
    from datasets import concatenate_datasets

    from vero.models import coords_for, load_processor
    from vero.train.trl_config import max_prompt_length

    train = resolved["train"]
    limit = (train.get("validation") or {}).get("max_samples_per_category")
    processor = load_processor(
        str(base_model),
        min_pixels=resolved["model"].get("min_pixels"),
        max_pixels=resolved["model"].get("max_pixels"),
    )
    parts, reports = [], {}
    for path in paths:
        ds, report = load_mix(
            path,
            mix_batch_size=1,
            single_category=True,
            system_prompt=train.get("system_prompt"),
            prompt=prompt,
            coords=coords_for(resolved["model"]["family"]),
            max_rows=limit,
        )
        ds = filter_overlong_prompts(
            ds,
            report,
            processor=processor,
            max_prompt_length=max_prompt_length(resolved),
            mix_batch_size=1,
            single_category=True,
        )
        parts.append(ds)
        reports[str(path)] = report
    if not parts:
        raise ValueError(
            "config key 'train.validation.every_steps': validation is on but no held-out file was given"
        )
    return concatenate_datasets(parts), reports
