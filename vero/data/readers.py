"""Readers that turn every supported source into canonical records (vero.data.schema).

Sources: the Vero-600K hub dataset through `datasets.load_dataset` (one config per source dataset,
streaming when asked), verl-style JSONL/Parquet files in the same published schema (images as bytes
or paths), files already in the canonical schema, and the embedded VeroMini generator.

Readers raise on what the user must fix (a missing file, an unknown config) and never on the content
of one row: a row that cannot be converted still becomes a record, and validation later drops it
with a reason code (an image that cannot be read becomes an empty image list, and so on).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from vero.data.schema import COLUMNS, SampleRecord, image_dimensions

# Published `ability` values -> category ids. The names are matched after lower-casing and turning
# every run of non-alphanumerics into "_", so "Chart & OCR", "chart-ocr" and "chart_ocr" all match.
# Our own ids pass through unchanged; `data.source.ability_map` in the config adds or overrides
# entries for abilities not listed here.
ABILITY_ALIASES: dict[str, str] = {
    "chart_ocr": "chart_ocr",
    "chart_and_ocr": "chart_ocr",
    "chart": "chart_ocr",
    "charts": "chart_ocr",
    "ocr": "chart_ocr",
    "document": "chart_ocr",
    "stem": "stem",
    "math": "stem",
    "science": "stem",
    "spatial_action": "spatial_action",
    "spatial_and_action": "spatial_action",
    "spatial": "spatial_action",
    "action": "spatial_action",
    "gui": "spatial_action",
    "knowledge_recognition": "knowledge_recognition",
    "knowledge_and_recognition": "knowledge_recognition",
    "knowledge": "knowledge_recognition",
    "recognition": "knowledge_recognition",
    "grounding_counting_search": "grounding_counting_search",
    "grounding_counting_and_search": "grounding_counting_search",
    "grounding": "grounding_counting_search",
    "counting": "grounding_counting_search",
    "search": "grounding_counting_search",
    "captioning_if": "captioning_if",
    "captioning_and_instruction_following": "captioning_if",
    "captioning": "captioning_if",
    "caption": "captioning_if",
    "instruction_following": "captioning_if",
}

_IMAGE_PLACEHOLDER = re.compile(r"<image>\s*")


class SourceError(ValueError):
    """A data source that cannot be read at all (missing file, unknown format or config)."""


def _ability_key(ability: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", ability.strip().lower()).strip("_")


def map_ability(ability: Any, overrides: Mapping[str, str] | None = None) -> str:
    """The category id for a published `ability`; unknown abilities pass through unchanged."""
    if not isinstance(ability, str):
        return "" if ability is None else str(ability)
    key = _ability_key(ability)
    for table in (overrides or {}, ABILITY_ALIASES):
        for name, category in table.items():
            if _ability_key(name) == key:
                return category
    return ability


def _image_bytes(item: Any, base_dir: Path | None) -> bytes | None:
    """Encoded bytes from a verl image entry: {"bytes", "path"}, raw bytes, base64 text or a path."""
    if item is None:
        return None
    if isinstance(item, bytes | bytearray):
        return bytes(item)
    if hasattr(item, "save") and hasattr(item, "size"):  # a decoded PIL image
        buf = io.BytesIO()
        item.save(buf, format="PNG")
        return buf.getvalue()
    if isinstance(item, Mapping):
        data = item.get("bytes")
        if data:
            return _image_bytes(data, base_dir)
        return _image_bytes(item.get("path") or item.get("image"), base_dir)
    if isinstance(item, str):
        if item.startswith("data:image"):
            item = item.split(",", 1)[-1]
        else:
            path = Path(item)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            try:
                if path.is_file():
                    return path.read_bytes()
            except OSError:  # e.g. a long base64 payload is not a valid file name
                pass
        try:
            return base64.b64decode(item, validate=True)
        except ValueError:
            return None  # neither a readable path nor base64: the row is dropped as no_image
    return None


def _question_from_prompt(prompt: Any) -> str:
    """The text of the last user turn of a chat prompt, without "<image>" placeholders."""
    if isinstance(prompt, str) and prompt.lstrip().startswith("[{"):
        with contextlib.suppress(json.JSONDecodeError):  # some exports store the chat list as JSON text
            prompt = json.loads(prompt)
    if isinstance(prompt, str):
        text = prompt
    elif isinstance(prompt, Sequence):
        turns = [t for t in prompt if isinstance(t, Mapping)]
        users = [t for t in turns if t.get("role") == "user"] or turns
        content = users[-1].get("content", "") if users else ""
        if isinstance(content, Sequence) and not isinstance(content, str):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
        text = str(content)
    else:
        text = ""
    return _IMAGE_PLACEHOLDER.sub("", text).strip()


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _as_tolerance(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        tol = float(value)
    except (TypeError, ValueError):
        return math.nan  # validation reports it as an invalid answer
    return tol


def verl_row_to_record(
    row: Mapping[str, Any],
    *,
    default_source: str = "",
    ability_map: Mapping[str, str] | None = None,
    image_dir: Path | None = None,
    index: int = 0,
) -> SampleRecord:
    """Convert one row of the published Vero-600K schema to a canonical record."""
    extra = row.get("extra_info") if isinstance(row.get("extra_info"), Mapping) else {}
    reward_model = row.get("reward_model") if isinstance(row.get("reward_model"), Mapping) else {}
    raw_images = row.get("images")
    if raw_images is None and row.get("image") is not None:
        raw_images = [row["image"]]
    images = [_image_bytes(it, image_dir) for it in (raw_images or [])]
    images = [b for b in images if b] if all(images) else []  # one unreadable image spoils the sample
    try:
        size = list(image_dimensions(images[0])) if images else [0, 0]
    except Exception:
        size = [0, 0]
    question = _as_text(extra.get("question")).strip() or _question_from_prompt(row.get("prompt"))
    answer = extra.get("answer")
    if answer is None or answer == "":
        answer = reward_model.get("ground_truth")
    data_source = _as_text(row.get("data_source")) or default_source
    rid = _as_text(row.get("id")) or _as_text(extra.get("id")) or f"{data_source}-{extra.get('index', index)}"
    return SampleRecord(
        id=rid,
        data_source=data_source,
        category=map_ability(row.get("ability"), ability_map),
        question=_IMAGE_PLACEHOLDER.sub("", question).strip(),
        images=images,
        image_size=[int(v) for v in size],
        reward_type=_as_text(extra.get("reward_type")),
        answer=_as_text(answer),
        tolerance=_as_tolerance(extra.get("tolerance")),
        coords="absolute",
        split="train",
    )


def _is_canonical(row: Mapping[str, Any]) -> bool:
    return all(c in row for c in ("question", "category", "reward_type", "answer"))


def canonical_row(row: Mapping[str, Any], image_dir: Path | None = None) -> SampleRecord:
    """A row already in the canonical schema, with images normalised to bytes and defaults filled."""
    images = [_image_bytes(it, image_dir) for it in (row.get("images") or [])]
    images = [b for b in images if b] if all(images) else []
    out = {c: row.get(c) for c in COLUMNS}
    out["images"] = images
    if not out.get("image_size") and images:
        try:
            out["image_size"] = list(image_dimensions(images[0]))
        except Exception:
            out["image_size"] = [0, 0]
    out["image_size"] = out.get("image_size") or [0, 0]
    out["coords"] = out.get("coords") or "absolute"
    out["split"] = out.get("split") or "train"
    out["tolerance"] = _as_tolerance(out.get("tolerance"))
    return SampleRecord(**out)


# ---- hub ---------------------------------------------------------------------------------------


def hub_config_names(hub_id: str) -> list[str]:
    import datasets

    return list(datasets.get_dataset_config_names(hub_id))


def _raw_image_column(ds):
    """Keep the encoded bytes: a column typed as images would otherwise be decoded to PIL."""
    import datasets

    features = getattr(ds, "features", None)
    feat = features.get("images") if features else None
    inner = getattr(feat, "feature", None)
    if isinstance(inner, datasets.Image) and inner.decode:
        return ds.cast_column("images", datasets.List(datasets.Image(decode=False)))
    return ds


def iter_hub_records(
    hub_id: str,
    configs: Sequence[str] = (),
    split: str = "train",
    *,
    streaming: bool = False,
    ability_map: Mapping[str, str] | None = None,
    max_rows: int | None = None,
) -> Iterator[SampleRecord]:
    """Records of a hub dataset (or a local dataset directory), config by config.

    `configs` empty means every config the dataset declares. The same call serves the hub id
    `zlab-princeton/Vero-600k` and a local directory holding the same layout.
    """
    import datasets

    names = list(configs) or hub_config_names(hub_id)
    for config in names:
        try:
            ds = datasets.load_dataset(hub_id, config, split=split, streaming=streaming)
        except ValueError as e:
            raise SourceError(f"{hub_id}: cannot load config {config!r} split {split!r}: {e}") from e
        ds = _raw_image_column(ds)
        for i, row in enumerate(ds):
            if max_rows is not None and i >= max_rows:
                break
            yield verl_row_to_record(row, default_source=config, ability_map=ability_map, index=i)


# ---- files -------------------------------------------------------------------------------------


def _iter_file_rows(path: Path) -> Iterator[dict[str, Any]]:
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    if suffix in (".jsonl", ".json", ".jsonl.gz"):
        import gzip

        opener = gzip.open if suffix.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    # A broken line is one malformed sample: yield what validation will reject.
                    row = {"id": f"{path.name}:{lineno}", "_error": f"line {lineno}: invalid JSON ({e.msg})"}
                yield row if isinstance(row, dict) else {"id": f"{path.name}:{lineno}"}
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        from vero.data.io import iter_row_group_rows

        yield from iter_row_group_rows(pq.ParquetFile(path))
    else:
        raise SourceError(f"{path}: unsupported file type {suffix!r}; expected .jsonl, .jsonl.gz or .parquet")


def iter_file_records(
    paths: Iterable[str | Path],
    *,
    image_root: str | Path | None = None,
    ability_map: Mapping[str, str] | None = None,
) -> Iterator[SampleRecord]:
    """Records of verl-style (or canonical) JSONL/Parquet files; image paths are relative to
    `image_root`, or to the file's own directory when no root is given."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise SourceError("config key 'data.source.paths': no files given for source kind 'files'")
    for path in paths:
        if not path.is_file():
            raise SourceError(f"config key 'data.source.paths': {path} does not exist")
    for path in paths:
        image_dir = Path(image_root) if image_root else path.parent
        for i, row in enumerate(_iter_file_rows(path)):
            if _is_canonical(row):
                yield canonical_row(row, image_dir)
            else:
                yield verl_row_to_record(
                    row, default_source=path.stem, ability_map=ability_map, image_dir=image_dir, index=i
                )


# ---- dispatch ----------------------------------------------------------------------------------


def iter_source_records(data_cfg: Mapping[str, Any], *, progress: bool = False) -> Iterator[SampleRecord]:
    """Records of the training source described by the config section `data` (validated)."""
    from vero.data.veromini import DEFAULT_DIFFICULTY, generate_veromini

    source = data_cfg["source"]
    synth = data_cfg["synthetic"]
    difficulty = synth.get("difficulty", DEFAULT_DIFFICULTY)
    kind = source["kind"]
    amap = source.get("ability_map") or {}
    if kind == "synthetic":
        yield from generate_veromini(
            synth["train_per_category"], synth["seed"], "train", difficulty=difficulty, progress=progress
        )
        return
    if kind == "hub":
        yield from iter_hub_records(
            source["hub_id"],
            source["configs"],
            source["split"],
            streaming=source["streaming"],
            ability_map=amap,
        )
    elif kind == "files":
        yield from iter_file_records(source["paths"], image_root=source["image_root"], ability_map=amap)
    else:
        raise SourceError(f"config key 'data.source.kind': unknown source kind {kind!r}")
    if synth.get("add_to_train"):
        yield from generate_veromini(
            synth["train_per_category"], synth["seed"], "train", difficulty=difficulty, progress=progress
        )
