"""The canonical sample record every data stage reads and writes (docs/architecture.md).

A record is one row of Parquet: the question, its image(s) as encoded bytes, and a ground truth
whose form depends on `reward_type`. `validate_record` returns reason codes rather than raising, so
the filter can drop a malformed sample, count it and move on.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, TypedDict

import pyarrow as pa

from vero.categories import CATEGORIES
from vero.rewards.types import REWARD_TYPES

SPLITS = ("train", "heldout")
COORD_SYSTEMS = ("absolute",)

COLUMNS: tuple[str, ...] = (
    "id",
    "data_source",
    "category",
    "question",
    "images",
    "image_size",
    "reward_type",
    "answer",
    "tolerance",
    "coords",
    "split",
)

ARROW_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("data_source", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("question", pa.string(), nullable=False),
        pa.field("images", pa.list_(pa.binary()), nullable=False),
        pa.field("image_size", pa.list_(pa.int32()), nullable=False),
        pa.field("reward_type", pa.string(), nullable=False),
        pa.field("answer", pa.string(), nullable=False),
        pa.field("tolerance", pa.float64(), nullable=True),
        pa.field("coords", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
    ]
)


class SampleRecord(TypedDict):
    id: str
    data_source: str
    category: str
    question: str
    images: list[bytes]
    image_size: list[int]
    reward_type: str
    answer: str
    tolerance: float | None
    coords: str
    split: str


# Reason codes, shared by validation and filtering; reports count drops under these names.
SCHEMA_INVALID = "schema_invalid"
UNKNOWN_CATEGORY = "unknown_category"
UNKNOWN_REWARD_TYPE = "unknown_reward_type"
NO_IMAGE = "no_image"
IMAGE_UNDECODABLE = "image_undecodable"
IMAGE_SIZE_MISMATCH = "image_size_mismatch"
ANSWER_INVALID = "answer_invalid"

_STRING_FIELDS = ("id", "data_source", "category", "question", "reward_type", "answer", "coords", "split")
_BOX_TYPES = ("grounding", "clicking")
_MC_LETTER = re.compile(r"^\(?([A-Z])\)?\.?$")
_INTEGER = re.compile(r"^[+-]?\d+$")


def known_reward_type(reward_type: str) -> bool:
    return reward_type in REWARD_TYPES


def make_record(
    *,
    id: str,
    data_source: str,
    category: str,
    question: str,
    images: list[bytes],
    reward_type: str,
    answer: str,
    tolerance: float | None = None,
    coords: str = "absolute",
    split: str = "train",
    image_size: list[int] | None = None,
) -> SampleRecord:
    """Build a record, reading `image_size` from the first image when not given."""
    if image_size is None:
        image_size = list(image_dimensions(images[0])) if images else []
    return SampleRecord(
        id=id,
        data_source=data_source,
        category=category,
        question=question,
        images=list(images),
        image_size=[int(v) for v in image_size],
        reward_type=reward_type,
        answer=answer,
        tolerance=None if tolerance is None else float(tolerance),
        coords=coords,
        split=split,
    )


def image_dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) read from the image header without decoding the pixels."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.size


def decode_image(data: bytes):
    """Fully decode an encoded image (raises on truncated or corrupt data)."""
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def to_pil_images(row: Mapping[str, Any]) -> list:
    """The row's images as RGB `PIL.Image`s, in order."""
    return [decode_image(b).convert("RGB") for b in row["images"]]


def normalize_question(text: str) -> str:
    """Case-, accent-, punctuation- and whitespace-insensitive form used for dedup and contamination.

    The "<image>" placeholders of verl-style prompts are removed so a question matches whether or
    not its source kept them.
    """
    text = unicodedata.normalize("NFKC", text).replace("<image>", " ")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"[^\w]+", " ", text.casefold())
    return " ".join(text.split())


def image_hash(images: list[bytes]) -> str:
    """A digest of the encoded bytes of all images of a sample (exact-copy detection)."""
    h = hashlib.blake2b(digest_size=16)
    for b in images:
        h.update(hashlib.blake2b(b, digest_size=16).digest())
    return h.hexdigest()


def single_image_hashes(images: list[bytes]) -> list[str]:
    return [hashlib.blake2b(b, digest_size=16).hexdigest() for b in images]


def parse_structured(text: str) -> Any:
    """JSON first, then a Python literal (sources write both); raises ValueError on neither."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
        raise ValueError(f"not JSON nor a Python literal: {text[:80]!r}") from e


def _parse_number(text: str) -> float | None:
    s = text.strip().replace(",", "").rstrip("%").strip()
    if s.startswith("$"):
        s = s[1:]
    try:
        v = float(s)
    except ValueError:
        m = re.fullmatch(r"([+-]?\d+)\s*/\s*(\d+)", s)
        if not m or int(m.group(2)) == 0:
            return None
        v = int(m.group(1)) / int(m.group(2))
    return v if math.isfinite(v) else None


def _numeric_answer_ok(text: str) -> bool:
    if _parse_number(text) is not None:
        return True
    try:
        float(text)
        return False  # inf / nan
    except ValueError:
        pass
    if not re.search(r"[0-9\\π]", text):
        return False  # math-verify reads any word as a product of symbols; a gold needs a number
    # Symbolic golds ("\frac{3}{4}", "2\sqrt{3}") are fine if math-verify reads them: a gold that
    # verifies against itself parsed. The reward's pool runs math-verify in worker processes with a
    # deadline, so this is safe from any thread and cannot hang.
    try:
        from vero.rewards.mathverify_pool import get_pool, too_costly
    except ImportError:
        return True
    if too_costly(text):
        return False
    try:
        score, _ = get_pool().check(text, text, None, 5.0)
    except Exception:
        return False
    return score == 1.0


def _boxes_ok(value: Any, image_size: list[int] | None) -> str | None:
    if not isinstance(value, list) or not value:
        return "expected a non-empty JSON list of {'bbox_2d': [x1, y1, x2, y2]}"
    for i, item in enumerate(value):
        box = item.get("bbox_2d") if isinstance(item, dict) else None
        if not isinstance(box, list | tuple) or len(box) != 4:
            return f"item {i}: no 'bbox_2d' with 4 numbers"
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in box):
            return f"item {i}: bbox_2d has non-numeric values"
        x1, y1, x2, y2 = box
        if not (x1 < x2 and y1 < y2):
            return f"item {i}: bbox_2d {box} is not x1<x2, y1<y2"
        if min(box) < 0:
            return f"item {i}: bbox_2d {box} has negative coordinates"
        if image_size and len(image_size) == 2:
            w, h = image_size
            if x2 > w + 1 or y2 > h + 1:
                return f"item {i}: bbox_2d {box} outside the {w}x{h} image"
    return None


def _instructions_ok(value: Any, *, need_reference: bool) -> str | None:
    if not isinstance(value, dict):
        return "expected a JSON object with 'instructions'"
    instructions = value.get("instructions")
    if not isinstance(instructions, list) or not instructions:
        return "'instructions' must be a non-empty list"
    for i, ins in enumerate(instructions):
        if not isinstance(ins, dict) or not isinstance(ins.get("class"), str):
            return f"instruction {i}: needs a 'class' string"
        if not isinstance(ins.get("args", {}), dict):
            return f"instruction {i}: 'args' must be an object"
    if need_reference and not str(value.get("reference", "")).strip():
        return "'reference' must be a non-empty string"
    return None


def answer_problem(
    reward_type: str, answer: str, tolerance: float | None = None, image_size: list[int] | None = None
) -> str | None:
    """Why `answer` cannot be graded under `reward_type`, or None when it is well-formed.

    The data-side checks (boxes inside the image, integer counts, ...) come first; then the reward
    code's own gold check (`vero.rewards.check_ground_truth`), so a kept sample is one the reward can
    grade.
    """
    why = _answer_form_problem(reward_type, answer, tolerance, image_size)
    if why is not None:
        return why
    try:
        from vero.rewards import check_ground_truth
    except ImportError:
        return None
    try:
        check_ground_truth(reward_type, answer, tolerance=tolerance, image_size=image_size, coords="absolute")
    except Exception as e:  # the reward's verdict on a malformed gold, whatever its type
        return f"rejected by vero.rewards: {e}"[:300]
    return None


def _answer_form_problem(
    reward_type: str, answer: str, tolerance: float | None, image_size: list[int] | None
) -> str | None:
    text = answer.strip()
    if not text:
        return "empty answer"
    if tolerance is not None and (not math.isfinite(tolerance) or tolerance < 0):
        return f"tolerance {tolerance} must be a finite number >= 0"
    if reward_type == "counting":
        return None if _INTEGER.match(text.replace(",", "")) else f"count {text!r} is not an integer"
    if reward_type in ("string_match", "search", "llm_judge"):
        return None
    if reward_type == "multiple_choice":
        return None if _MC_LETTER.match(text) else f"{text!r} is not an option letter A-Z"
    if reward_type == "numeric":
        return None if _numeric_answer_ok(text) else f"{text!r} does not parse as a number"
    try:
        value = parse_structured(text) if text[0] in "[{(" else text
    except ValueError as e:
        return str(e)
    if reward_type == "list_string_match":
        items = value if isinstance(value, list | tuple) else [value]
        ok = items and all(isinstance(s, str | int | float) and str(s).strip() for s in items)
        return None if ok else "expected a non-empty list of non-empty strings"
    if reward_type == "number_list":
        if not isinstance(value, list | tuple) or not value:
            return "expected a non-empty list of integers"
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return "number_list items must be integers"
        return None if len(set(value)) == len(value) else "number_list has duplicates"
    if reward_type == "web_action":
        if not isinstance(value, dict):
            return "expected a JSON object with ACTION / MARK / VALUE"
        keys = {str(k).upper() for k in value}
        return None if keys & {"ACTION", "MARK", "VALUE"} else "no ACTION, MARK or VALUE key"
    if reward_type in _BOX_TYPES:
        return _boxes_ok(value, image_size)
    if reward_type == "instruction_following":
        return _instructions_ok(value, need_reference=False)
    if reward_type == "instruction_following_llm_judge":
        return _instructions_ok(value, need_reference=True)
    return f"no answer rule for reward_type {reward_type!r}"


def check_record(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """All problems of a row as (reason code, detail); empty when the row is valid.

    Checks the structure only (fields, types, known category and reward type, answer form);
    image decoding and resolution are the filter's business since they cost a decode.
    """
    problems: list[tuple[str, str]] = []
    if not isinstance(row, Mapping):
        return [(SCHEMA_INVALID, f"row is a {type(row).__name__}, not a mapping")]
    for name in COLUMNS:
        if name not in row:
            problems.append((SCHEMA_INVALID, f"missing field {name!r}"))
    for name in _STRING_FIELDS:
        if name in row and not isinstance(row[name], str):
            problems.append((SCHEMA_INVALID, f"field {name!r} is {type(row[name]).__name__}, not str"))
    if problems:
        return problems
    if not row["id"].strip():
        problems.append((SCHEMA_INVALID, "empty id"))
    if not row["question"].strip():
        problems.append((SCHEMA_INVALID, "empty question"))
    if row["split"] not in SPLITS:
        problems.append((SCHEMA_INVALID, f"split {row['split']!r} not in {SPLITS}"))
    if row["coords"] not in COORD_SYSTEMS:
        problems.append((SCHEMA_INVALID, f"coords {row['coords']!r} not in {COORD_SYSTEMS}"))
    tol = row["tolerance"]
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, int | float)):
        problems.append((SCHEMA_INVALID, f"tolerance {tol!r} is not a number"))
        tol = None
    size = row["image_size"]
    size_ok = isinstance(size, list | tuple) and len(size) == 2 and all(isinstance(v, int) for v in size)
    if not size_ok:
        problems.append((SCHEMA_INVALID, f"image_size {size!r} is not [w, h]"))
    images = row["images"]
    if not isinstance(images, list | tuple) or not images:
        problems.append((NO_IMAGE, "no images"))
    elif not all(isinstance(b, bytes | bytearray) and b for b in images):
        problems.append((NO_IMAGE, "an image is empty or not bytes"))
    if row["category"] not in CATEGORIES:
        problems.append((UNKNOWN_CATEGORY, f"category {row['category']!r}"))
    if not known_reward_type(row["reward_type"]):
        problems.append((UNKNOWN_REWARD_TYPE, f"reward_type {row['reward_type']!r}"))
    else:
        why = answer_problem(row["reward_type"], row["answer"], tol, list(size) if size_ok else None)
        if why:
            problems.append((ANSWER_INVALID, why))
    return problems


def validate_record(row: Mapping[str, Any]) -> list[str]:
    """Reason codes of everything wrong with `row` (empty list = valid), without duplicates."""
    codes: list[str] = []
    for code, _ in check_record(row):
        if code not in codes:
            codes.append(code)
    return codes
