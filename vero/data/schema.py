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
from vero.data import answers as A
from vero.rewards.types import REWARD_TYPES

# Split names in use: the published Vero-600K has train and val; VeroMini train and heldout. A row
# keeps the split it was read from; any non-empty name is valid.
SPLITS = ("train", "val", "heldout")
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
    "messages",
    "curated",
)

# Columns added after the first version: rows and files without them read as these values.
OPTIONAL_DEFAULTS: dict[str, Any] = {"messages": "", "curated": False}

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
        pa.field("messages", pa.string(), nullable=False),
        pa.field("curated", pa.bool_(), nullable=False),
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
    messages: str  # the source's chat messages as JSON text ([{"role", "content"}]), "" when it had none
    curated: bool  # from a curated release: the dataset-level heuristics do not apply


# Reason codes, shared by validation and filtering; reports count drops under these names.
SCHEMA_INVALID = "schema_invalid"
UNKNOWN_CATEGORY = "unknown_category"
UNKNOWN_REWARD_TYPE = "unknown_reward_type"
NO_IMAGE = "no_image"
IMAGE_UNDECODABLE = "image_undecodable"
IMAGE_SIZE_MISMATCH = "image_size_mismatch"
ANSWER_INVALID = A.ANSWER_INVALID
REWARD_REJECTS_GOLD = A.REWARD_REJECTS_GOLD
IFEVAL_ARGS_MISSING = A.IFEVAL_ARGS_MISSING
TOLERANCE_INVALID = A.TOLERANCE_INVALID

_STRING_FIELDS = ("id", "data_source", "category", "question", "reward_type", "answer", "coords", "split")


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
    messages: str = "",
    curated: bool = False,
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
        messages=messages,
        curated=bool(curated),
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


def numeric_answer_ok(text: str) -> bool:
    """A numeric gold: a plain number (commas, %, $ and a/b allowed), or a math-verify expression that
    verifies against itself; a gold needs a digit (math-verify reads any word as a product)."""
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


def answer_problem(
    reward_type: str, answer: str, tolerance: float | None = None, image_size: list[int] | None = None
) -> str | None:
    """Why `answer` is not kept under `reward_type`, or None (`answer_reason` gives the reason code)."""
    verdict = answer_reason(reward_type, answer, tolerance, image_size)
    return None if verdict is None else verdict[1]


def answer_reason(
    reward_type: str, answer: str, tolerance: float | None = None, image_size: list[int] | None = None
) -> tuple[str, str] | None:
    """(reason code, detail) when the answer is not kept, else None.

    First the forms the release's reward grades (`vero.data.answers`), then the reward code's own
    gold check (`vero.rewards.check_ground_truth`), so a kept sample is one both can grade.
    """
    verdict = A.answer_verdict(reward_type, answer, tolerance, image_size)
    if verdict is not None:
        return verdict
    try:
        from vero.rewards import check_ground_truth
    except ImportError:
        return None
    try:
        check_ground_truth(
            reward_type,
            answer,
            tolerance=A.effective_tolerance(tolerance),
            image_size=image_size,
            coords="absolute",
        )
    except Exception as e:  # the reward's verdict on a malformed gold, whatever its type
        return REWARD_REJECTS_GOLD, f"vero.rewards cannot grade it: {e}"[:300]
    return None


def check_record(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """All problems of a row as (reason code, detail); empty when the row is valid.

    Checks the structure only (fields, types, known category and reward type, answer form);
    image decoding and resolution are the filter's business since they cost a decode.
    """
    problems: list[tuple[str, str]] = []
    if not isinstance(row, Mapping):
        return [(SCHEMA_INVALID, f"row is a {type(row).__name__}, not a mapping")]
    for name in COLUMNS:
        if name not in row and name not in OPTIONAL_DEFAULTS:
            problems.append((SCHEMA_INVALID, f"missing field {name!r}"))
    for name in _STRING_FIELDS:
        if name in row and not isinstance(row[name], str):
            problems.append((SCHEMA_INVALID, f"field {name!r} is {type(row[name]).__name__}, not str"))
    if row.get("messages") is not None and not isinstance(row["messages"], str):
        problems.append((SCHEMA_INVALID, f"field 'messages' is {type(row['messages']).__name__}, not str"))
    if problems:
        return problems
    if not row["id"].strip():
        problems.append((SCHEMA_INVALID, "empty id"))
    if not row["question"].strip():
        problems.append((SCHEMA_INVALID, "empty question"))
    if not row["split"].strip():
        problems.append((SCHEMA_INVALID, "empty split"))
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
        verdict = answer_reason(row["reward_type"], row["answer"], tol, list(size) if size_ok else None)
        if verdict:
            problems.append(verdict)
    return problems


def validate_record(row: Mapping[str, Any]) -> list[str]:
    """Reason codes of everything wrong with `row` (empty list = valid), without duplicates."""
    codes: list[str] = []
    for code, _ in check_record(row):
        if code not in codes:
            codes.append(code)
    return codes
