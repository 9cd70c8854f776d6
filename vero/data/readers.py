"""Readers that turn every supported source into canonical records (vero.data.schema).

Sources, read as the Vero release reads them (`scripts/download_and_format_vero_600k.py` and
`vero-rl/verl/utils/dataset/rl_dataset.py` at release commit 8c81e37):

- the hub layout (`datasets.load_dataset`, one config per source dataset, splits `train` and
  `val`, a singular `image` column holding an HF Image {bytes, path}), or a local directory in
  that layout;
- the verl layout: JSONL/Parquet files with an `images` list (bytes, base64 or paths relative to
  `image_root`), the form the release's download script writes;
- files already in the canonical schema, and the embedded VeroMini generator.

What each published field becomes: `reward_model.ground_truth` (the text the release's reward
grades; `extra_info.answer` when it is empty) is the answer, unchanged; image bytes are kept as
stored (an HF Image column is read undecoded); `extra_info.reward_type` is read stripped and
lower-cased, as the release's reward reads it; `extra_info.tolerance` becomes a float, or None when
missing or not a number (as the release's script parses it); `id` is the row's `id`, else
`extra_info.id`, else `{config or file}_{split}_{row}`; the question is `extra_info.question`, else
the first user turn, without its `<image>` placeholders; the chat messages are kept as JSON text in
`messages` (the dataset's own system message among them); the split is the one read (hub) or
`extra_info.split` (files, "train" when absent); `ability` (else `extra_info.domain`) maps to a
category through `ABILITY_ALIASES` and `data.source.ability_map`.

Readers raise `SourceError` on what the user must fix (a missing, truncated or unreadable file, an
unknown config) naming the file, config and split, and never on the content of one row: a line
that is not UTF-8 or not JSON, a Parquet row group that cannot be decoded, or a row whose fields
cannot be converted is yielded as a dropped-row marker (`dropped`) with a reason code, where it
was, and the parser's message; the ingest counts it. A row that converts but is malformed still
becomes a record, which validation drops with its reason code.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from vero.data.schema import COLUMNS, OPTIONAL_DEFAULTS, SampleRecord, image_dimensions

# The release's download script reads `gsarch/Vero-600k` by default; its docs name
# `zlab-princeton/Vero-600k`. Both are the curated, published set (data.source.curated: null).
PUBLISHED_HUB_IDS: tuple[str, ...] = ("zlab-princeton/Vero-600k", "gsarch/Vero-600k")

# Reason codes of rows dropped while reading a file (counted by the ingest report).
ENCODING_ERROR = "encoding_error"
JSON_INVALID = "json_invalid"
ROW_GROUP_UNREADABLE = "row_group_unreadable"
ROW_UNREADABLE = "row_unreadable"

# Published `ability` values -> category ids. The names are matched after lower-casing and turning
# every run of non-alphanumerics into "_", so "Chart & OCR", "chart-ocr" and "chart_ocr" all match.
# The release's six domain names (vero-rl/examples/model_runs/config/gspo_llmjudge_shared.yaml,
# `per_batch_domain_weights`, matched against `ability` by rl_dataset.py) come first, then the
# paper's category names and our own ids; `data.source.ability_map` adds or overrides entries.
ABILITY_ALIASES: dict[str, str] = {
    # the release's domain names
    "chart_ocr": "chart_ocr",
    "knowledge_recognition": "knowledge_recognition",
    "spatial_action": "spatial_action",
    "counting_grounding_search": "grounding_counting_search",
    "stem": "stem",
    "visual_alignment": "captioning_if",
    # the paper's category names and this project's ids
    "chart_and_ocr": "chart_ocr",
    "spatial_and_action": "spatial_action",
    "knowledge_and_recognition": "knowledge_recognition",
    "grounding_counting_search": "grounding_counting_search",
    "grounding_counting_and_search": "grounding_counting_search",
    "grounding_counting_and_visual_search": "grounding_counting_search",
    "grounding_counting_visual_search": "grounding_counting_search",
    "captioning_if": "captioning_if",
    "captioning_instruction_following": "captioning_if",
    "captioning_and_instruction_following": "captioning_if",
    # single words some exports use
    "chart": "chart_ocr",
    "charts": "chart_ocr",
    "ocr": "chart_ocr",
    "document": "chart_ocr",
    "math": "stem",
    "science": "stem",
    "spatial": "spatial_action",
    "action": "spatial_action",
    "gui": "spatial_action",
    "knowledge": "knowledge_recognition",
    "recognition": "knowledge_recognition",
    "grounding": "grounding_counting_search",
    "counting": "grounding_counting_search",
    "search": "grounding_counting_search",
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


def dropped(
    reason: str,
    detail: str,
    *,
    origin: str,
    where: str,
    count: int = 1,
    category: str = "",
    data_source: str = "",
) -> dict[str, Any]:
    """A marker for `count` rows that could not be read: the ingest counts them under `reason`."""
    return {
        "_drop": reason,
        "_detail": detail,
        "_count": count,
        "_origin": origin,
        "_where": where,
        "id": where,
        "category": category,
        "data_source": data_source,
    }


def is_dropped(item: Mapping[str, Any]) -> bool:
    return "_drop" in item


def _stringify_content(content: Any) -> str:
    """One message's content as text: text parts joined, image parts as "<image>" (the release's
    download script writes chat turns this way)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for item in content:
            if isinstance(item, Mapping):
                kind = item.get("type")
                if kind == "text":
                    parts.append(str(item.get("text") or ""))
                elif kind in ("image", "video"):
                    parts.append(f"<{kind}>")
                else:
                    parts.append(json.dumps(item, ensure_ascii=False, default=str))
            else:
                parts.append(str(item))
        return "".join(parts)
    if isinstance(content, Mapping):
        return json.dumps(content, ensure_ascii=False, default=str)
    return "" if content is None else str(content)


def normalize_messages(prompt: Any) -> list[dict[str, str]]:
    """The chat turns of a published `prompt` as [{"role", "content"}] with text content.

    A list of message dicts (the published form), a dict of parallel `role`/`content` lists (how
    some Arrow exports store it), one message dict, the list as JSON text, or a bare question
    string. Empty when there is no usable turn.
    """
    if isinstance(prompt, str):
        if prompt.lstrip().startswith("[{"):
            with contextlib.suppress(json.JSONDecodeError):
                prompt = json.loads(prompt)
        if isinstance(prompt, str):  # a bare question (verl's dataset reads it as the user turn)
            return [{"role": "user", "content": prompt}] if prompt.strip() else []
    if isinstance(prompt, list | tuple):
        return [
            {"role": str(m.get("role") or "user"), "content": _stringify_content(m.get("content", ""))}
            for m in prompt
            if isinstance(m, Mapping)
        ]
    if isinstance(prompt, Mapping):
        roles, contents = prompt.get("role"), prompt.get("content")
        if isinstance(roles, list) and isinstance(contents, list):
            return [
                {"role": str(r), "content": _stringify_content(c)}
                for r, c in zip(roles, contents, strict=False)
            ]
        if "role" in prompt or "content" in prompt:
            return [
                {
                    "role": str(prompt.get("role") or "user"),
                    "content": _stringify_content(prompt.get("content")),
                }
            ]
    return []


def _question_from_messages(messages: Sequence[Mapping[str, str]]) -> str:
    """The first user turn with content (the release's choice when extra_info has no question)."""
    for m in messages:
        if m.get("role") == "user" and m.get("content"):
            return m["content"]
    return ""


def _as_text(value: Any) -> str:
    """Text as the release's download script writes it: `str(value)`, "" for None."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def parse_tolerance(value: Any) -> float | None:
    """`extra_info.tolerance` as the release's download script reads it: float(value), None when
    missing or not a number. Negative, NaN and infinite values are kept (validation decides)."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _images_of(row: Mapping[str, Any], image_dir: Path | None) -> list[bytes]:
    raw = row.get("images")
    if not raw and row.get("image") is not None:
        raw = [row["image"]]
    if raw is not None and not isinstance(raw, list | tuple):
        raw = [raw]
    images = [_image_bytes(it, image_dir) for it in (raw or [])]
    return [b for b in images if b] if all(images) else []  # one unreadable image spoils the sample


def verl_row_to_record(
    row: Mapping[str, Any],
    *,
    default_source: str = "",
    ability_map: Mapping[str, str] | None = None,
    image_dir: Path | None = None,
    index: int = 0,
    split: str | None = None,
    curated: bool = False,
) -> SampleRecord:
    """Convert one row of the published Vero-600K schema (hub or verl layout) to a canonical record.

    `split` is the split the row was read from (hub); None takes `extra_info.split`, else "train".
    The record also carries `_ability`, the published value its category was mapped from.
    """
    extra = row.get("extra_info") if isinstance(row.get("extra_info"), Mapping) else {}
    reward_model = row.get("reward_model") if isinstance(row.get("reward_model"), Mapping) else {}
    images = _images_of(row, image_dir)
    try:
        size = list(image_dimensions(images[0])) if images else [0, 0]
    except Exception:
        size = [0, 0]
    messages = normalize_messages(row.get("prompt"))
    question = extra.get("question")
    if not isinstance(question, str) or not question:
        question = _question_from_messages(messages)
    answer = _as_text(reward_model.get("ground_truth"))
    if not answer:
        answer = _as_text(extra.get("answer"))
    data_source = _as_text(row.get("data_source")) or default_source
    if split is None:
        split = _as_text(extra.get("split")) or "train"
    rid = row.get("id")
    if rid is None or rid == "":
        rid = extra.get("id")
    if rid is None or rid == "":
        rid = f"{default_source or data_source}_{split}_{index}"
    ability = row.get("ability")
    if ability is None or ability == "":
        ability = extra.get("domain")
    ability = _as_text(ability)
    record = SampleRecord(
        id=_as_text(rid),
        data_source=data_source,
        category=map_ability(ability, ability_map),
        question=_IMAGE_PLACEHOLDER.sub("", _as_text(question)).strip(),
        images=images,
        image_size=[int(v) for v in size],
        reward_type=_as_text(extra.get("reward_type")).strip().lower(),
        answer=answer,
        tolerance=parse_tolerance(extra.get("tolerance")),
        coords="absolute",
        split=split,
        messages=json.dumps(messages, ensure_ascii=False) if messages else "",
        curated=curated,
    )
    record["_ability"] = ability  # type: ignore[typeddict-unknown-key]
    return record


def _is_canonical(row: Mapping[str, Any]) -> bool:
    return all(c in row for c in ("question", "category", "reward_type", "answer"))


def canonical_row(
    row: Mapping[str, Any], image_dir: Path | None = None, *, curated: bool = False
) -> SampleRecord:
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
    out["tolerance"] = parse_tolerance(out.get("tolerance"))
    out["messages"] = out.get("messages") or OPTIONAL_DEFAULTS["messages"]
    out["curated"] = bool(curated)
    record = SampleRecord(**out)
    record["_ability"] = _as_text(row.get("category"))  # type: ignore[typeddict-unknown-key]
    return record


def _convert(row: Any, *, origin: str, where: str, default_source: str, **kwargs: Any) -> dict[str, Any]:
    """One source row -> a record, or a dropped marker when the row cannot be converted at all."""
    if not isinstance(row, Mapping):
        return dropped(
            ROW_UNREADABLE,
            f"{where}: a {type(row).__name__}, not an object",
            origin=origin,
            where=where,
            data_source=default_source,
        )
    try:
        if _is_canonical(row):
            record = canonical_row(row, kwargs.get("image_dir"), curated=kwargs.get("curated", False))
        else:
            record = verl_row_to_record(row, default_source=default_source, **kwargs)
    except Exception as e:  # a field of a type no reader expects: count the row, never crash the run
        return dropped(
            ROW_UNREADABLE,
            f"{where}: {type(e).__name__}: {e}"[:400],
            origin=origin,
            where=where,
            data_source=_as_text(row.get("data_source")) or default_source,
        )
    record["_origin"] = origin  # type: ignore[typeddict-unknown-key]
    record["_where"] = where  # type: ignore[typeddict-unknown-key]
    return record


# ---- hub ---------------------------------------------------------------------------------------


def hub_config_names(hub_id: str) -> list[str]:
    import datasets

    try:
        return list(datasets.get_dataset_config_names(hub_id))
    except Exception as e:
        raise SourceError(
            f"config key 'data.source.hub_id': cannot list the configs of {hub_id!r}: {type(e).__name__}: {e}"
        ) from e


def _raw_image_columns(ds):
    """Keep the encoded bytes: a column typed as images would otherwise be decoded to PIL (and an
    image written back would not be the published bytes)."""
    import datasets

    features = getattr(ds, "features", None) or {}
    single = features.get("image")
    if isinstance(single, datasets.Image) and single.decode:
        ds = ds.cast_column("image", datasets.Image(decode=False))
    many = features.get("images")
    inner = getattr(many, "feature", None)
    if isinstance(inner, datasets.Image) and inner.decode:
        ds = ds.cast_column("images", datasets.List(datasets.Image(decode=False)))
    return ds


def _unreadable_shards(hub_id: str, config: str, split: str) -> str:
    """ ", unreadable: <file> (<message>)" for the Parquet shards of a local dataset that pyarrow
    cannot open (`datasets` names the config, not always the file); "" when none is found."""
    if not Path(hub_id).is_dir():
        return ""
    try:
        import datasets
        import pyarrow.parquet as pq

        files = datasets.load_dataset_builder(hub_id, config).config.data_files.get(split) or []
        bad = []
        for f in files:
            try:
                pq.ParquetFile(str(f)).metadata  # noqa: B018 (reads the footer)
            except Exception as e:
                bad.append(f"{f} ({type(e).__name__}: {e})")
        return "; unreadable: " + "; ".join(bad) if bad else ""
    except Exception:  # the search is a courtesy: never hide the original error
        return ""


def _splits(split: str | Sequence[str]) -> list[str]:
    return [split] if isinstance(split, str) else list(split)


def iter_hub_records(
    hub_id: str,
    configs: Sequence[str] = (),
    split: str | Sequence[str] = "train",
    *,
    streaming: bool = False,
    ability_map: Mapping[str, str] | None = None,
    max_rows: int | None = None,
    curated: bool = False,
) -> Iterator[dict[str, Any]]:
    """Records of a hub dataset (or a local directory in the same layout), config by config and
    split by split; each row keeps the split it was read from.

    `configs` empty means every config the dataset declares. The same call serves the hub id
    `zlab-princeton/Vero-600k` and a local directory holding the same layout.

    A local directory is always streamed: `datasets` would otherwise copy it into its Arrow cache
    keyed on the files' paths and modification times, and reuse that copy after the files were
    replaced by others with the same times (rsync -a, tar). A hub dataset's cache is keyed on the
    repository revision, i.e. on content.
    """
    import datasets

    streaming = streaming or Path(hub_id).is_dir()

    names = list(configs) or hub_config_names(hub_id)
    for config in names:
        for sp in _splits(split):
            origin = f"{hub_id} config {config!r} split {sp!r}"
            try:
                ds = datasets.load_dataset(hub_id, config, split=sp, streaming=streaming)
                ds = _raw_image_columns(ds)
                rows = iter(ds)
            except Exception as e:
                where = _unreadable_shards(hub_id, config, sp)
                raise SourceError(f"{origin}: cannot load it: {type(e).__name__}: {e}{where}") from e
            i = 0
            while max_rows is None or i < max_rows:
                try:
                    row = next(rows)
                except StopIteration:
                    break
                except Exception as e:  # a truncated or corrupt shard: name where reading stopped
                    where = _unreadable_shards(hub_id, config, sp)
                    raise SourceError(
                        f"{origin}: reading failed after {i} rows: {type(e).__name__}: {e}{where}"
                    ) from e
                yield _convert(
                    row,
                    origin=origin,
                    where=f"{origin} row {i}",
                    default_source=config,
                    ability_map=ability_map,
                    index=i,
                    split=sp,
                    curated=curated,
                )
                i += 1


# ---- files -------------------------------------------------------------------------------------


def _file_kind(path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    if suffix in (".jsonl", ".json", ".jsonl.gz", ".json.gz"):
        return "jsonl"
    if suffix == ".parquet":
        return "parquet"
    raise SourceError(f"{path}: unsupported file type {suffix!r}; expected .jsonl, .jsonl.gz or .parquet")


def _iter_jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, row or dropped marker) for each non-empty line; the file is read as bytes so one bad
    byte costs its line only."""
    origin = str(path)
    opener = gzip.open if path.suffix == ".gz" else open
    lineno = 0
    try:
        with opener(path, "rb") as f:
            for raw in f:
                lineno += 1
                where = f"{path}:{lineno}"
                try:
                    text = raw.rstrip(b"\r\n").decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as e:
                    yield (
                        where,
                        dropped(
                            ENCODING_ERROR,
                            f"{where}: not UTF-8 ({e})",
                            origin=origin,
                            where=where,
                            data_source=path.stem,
                        ),
                    )
                    continue
                if not text.strip():
                    continue
                try:
                    yield where, json.loads(text)
                except json.JSONDecodeError as e:
                    yield (
                        where,
                        dropped(
                            JSON_INVALID,
                            f"{where}: invalid JSON ({e})",
                            origin=origin,
                            where=where,
                            data_source=path.stem,
                        ),
                    )
                except RecursionError:
                    yield (
                        where,
                        dropped(
                            JSON_INVALID,
                            f"{where}: JSON nested too deeply",
                            origin=origin,
                            where=where,
                            data_source=path.stem,
                        ),
                    )
    except (EOFError, OSError, zlib.error) as e:
        raise SourceError(
            f"{path}: unreadable after line {lineno} ({type(e).__name__}: {e}); "
            "the file is truncated or corrupt"
        ) from e


def _iter_parquet(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, row or dropped marker); a row group that cannot be decoded drops its rows, named."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        groups = pf.num_row_groups
    except Exception as e:
        raise SourceError(
            f"{path}: not a readable Parquet file ({type(e).__name__}: {e}); is it truncated?"
        ) from e
    for g in range(groups):
        n = pf.metadata.row_group(g).num_rows
        try:
            batches = pf.read_row_group(g).to_batches(max_chunksize=256)
        except Exception as e:
            where = f"{path} row group {g}"
            yield (
                where,
                dropped(
                    ROW_GROUP_UNREADABLE,
                    f"{where} of {groups} ({n} rows): {type(e).__name__}: {e}"[:400],
                    origin=str(path),
                    where=where,
                    count=n,
                    data_source=path.stem,
                ),
            )
            continue
        i = 0
        for batch in batches:
            for row in batch.to_pylist():
                yield f"{path} row group {g} row {i}", row
                i += 1


def iter_file_records(
    paths: Iterable[str | Path],
    *,
    image_root: str | Path | None = None,
    ability_map: Mapping[str, str] | None = None,
    curated: bool = False,
) -> Iterator[dict[str, Any]]:
    """Records (and dropped-row markers) of verl-style or canonical JSONL/Parquet files; image paths
    are relative to `image_root`, or to the file's own directory when no root is given."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise SourceError("config key 'data.source.paths': no files given for source kind 'files'")
    for path in paths:
        if not path.is_file():
            raise SourceError(f"config key 'data.source.paths': {path} does not exist")
        _file_kind(path)
    for path in paths:
        image_dir = Path(image_root) if image_root else path.parent
        rows = _iter_jsonl(path) if _file_kind(path) == "jsonl" else _iter_parquet(path)
        for i, (where, row) in enumerate(rows):
            if isinstance(row, Mapping) and is_dropped(row):
                yield row
                continue
            yield _convert(
                row,
                origin=str(path),
                where=where,
                default_source=path.stem,
                ability_map=ability_map,
                image_dir=image_dir,
                index=i,
                split=None,
                curated=curated,
            )


# ---- dispatch ----------------------------------------------------------------------------------


def source_is_curated(source: Mapping[str, Any]) -> bool:
    """`data.source.curated`, with null meaning: true for the published Vero-600K on the hub."""
    flag = source.get("curated")
    if flag is not None:
        return bool(flag)
    return source.get("kind") == "hub" and source.get("hub_id") in PUBLISHED_HUB_IDS


def iter_source_records(data_cfg: Mapping[str, Any], *, progress: bool = False) -> Iterator[dict[str, Any]]:
    """Records of the training source described by the config section `data` (validated).

    VeroMini rows are marked curated: the project generates them to spec.
    """
    from vero.data.veromini import DEFAULT_DIFFICULTY, generate_veromini

    source = data_cfg["source"]
    synth = data_cfg["synthetic"]
    difficulty = synth.get("difficulty", DEFAULT_DIFFICULTY)
    kind = source["kind"]
    amap = source.get("ability_map") or {}
    curated = source_is_curated(source)

    def veromini():
        rows = generate_veromini(
            synth["train_per_category"], synth["seed"], "train", difficulty=difficulty, progress=progress
        )
        for rec in rows:
            yield {**rec, "curated": True, "_origin": "VeroMini", "_where": f"VeroMini {rec['id']}"}

    if kind == "synthetic":
        yield from veromini()
        return
    if kind == "hub":
        yield from iter_hub_records(
            source["hub_id"],
            source["configs"],
            source["split"],
            streaming=source["streaming"],
            ability_map=amap,
            curated=curated,
        )
    elif kind == "files":
        yield from iter_file_records(
            source["paths"], image_root=source["image_root"], ability_map=amap, curated=curated
        )
    else:
        raise SourceError(f"config key 'data.source.kind': unknown source kind {kind!r}")
    if synth.get("add_to_train"):
        yield from veromini()
