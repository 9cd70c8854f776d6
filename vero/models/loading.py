"""Load a model and its processor from a local directory or a hub id, with or without torchvision.

Why not just `AutoProcessor.from_pretrained`: the Qwen-VL processors bundle a video processor,
and the only video processors transformers has need torchvision, which cannot be installed next
to the CPU build of torch (ENVIRONMENT.md). Without it `AutoProcessor` fails, so the processor is
assembled from the tokenizer, the PIL image processor (`Qwen2VLImageProcessorPil`) and an inert
video processor (videos are not used by this project), through a subclass that skips the
video-processor type check. The subclass saves itself under the stock class names, so a saved
directory (the tiny model, every trainer checkpoint) is an ordinary Qwen-VL directory that
`AutoProcessor` loads wherever torchvision exists, and this module reloads anywhere.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from transformers import Qwen2_5_VLProcessor, Qwen2VLProcessor, Qwen3VLProcessor

log = logging.getLogger(__name__)

# Stock video processor class per processor, written into saved configs.
_VIDEO_PROCESSOR_TYPE = {
    "Qwen2VLProcessor": "Qwen2VLVideoProcessor",
    "Qwen2_5_VLProcessor": "Qwen2VLVideoProcessor",
    "Qwen3VLProcessor": "Qwen3VLVideoProcessor",
}
_MODEL_TYPE_TO_PROCESSOR = {
    "qwen2_vl": Qwen2VLProcessor,
    "qwen2_5_vl": Qwen2_5_VLProcessor,
    "qwen3_vl": Qwen3VLProcessor,
    "qwen3_vl_moe": Qwen3VLProcessor,
}
_DTYPES = ("float32", "bfloat16", "float16")
# Image-processor kwargs that belong to a call, not to a saved configuration.
_CALL_TIME_KWARGS = {"return_tensors", "device", "data_format", "input_data_format"}


class _InertVideoMixin:
    """Processor behaviour without a torchvision video processor (see module docstring)."""

    def check_argument_for_proper_class(self, argument_name, argument):
        if argument_name == "video_processor":
            return type(argument)
        return super().check_argument_for_proper_class(argument_name, argument)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        video = out.get("video_processor")
        if isinstance(video, dict):
            video["video_processor_type"] = _VIDEO_PROCESSOR_TYPE[type(self).__name__]
        return out


class _NoVideoQwen2VLProcessor(_InertVideoMixin, Qwen2VLProcessor):
    pass


class _NoVideoQwen2_5_VLProcessor(_InertVideoMixin, Qwen2_5_VLProcessor):
    pass


class _NoVideoQwen3VLProcessor(_InertVideoMixin, Qwen3VLProcessor):
    pass


_NO_VIDEO = {
    Qwen2VLProcessor: _NoVideoQwen2VLProcessor,
    Qwen2_5_VLProcessor: _NoVideoQwen2_5_VLProcessor,
    Qwen3VLProcessor: _NoVideoQwen3VLProcessor,
}
# `__name__` is what transformers writes as processor_class (processor and tokenizer configs), so
# it carries the stock name; `__qualname__` stays unique, which is what pickle looks classes up by
# (datasets/accelerate pickle processors).
for _stock, _sub in _NO_VIDEO.items():
    _sub.__name__ = _stock.__name__


def torchvision_available() -> bool:
    from transformers.utils import is_torchvision_available

    return bool(is_torchvision_available())


def processor_class_for(family_or_model_type: str):
    """The stock processor class of a family / model_type (e.g. "qwen3_vl" → Qwen3VLProcessor)."""
    try:
        return _MODEL_TYPE_TO_PROCESSOR[family_or_model_type]
    except KeyError:
        raise ValueError(
            f"no Qwen-VL processor for {family_or_model_type!r}; known: {', '.join(_MODEL_TYPE_TO_PROCESSOR)}"
        ) from None


def make_processor(processor_cls, image_processor, tokenizer, chat_template: str | None):
    """Assemble a Qwen-VL processor; with torchvision the stock video processor, else an inert one."""
    from transformers.video_processing_utils import BaseVideoProcessor

    video_kwargs = {
        "patch_size": image_processor.patch_size,
        "merge_size": image_processor.merge_size,
        "temporal_patch_size": image_processor.temporal_patch_size,
    }
    if torchvision_available():
        import transformers

        video_cls = getattr(transformers, _VIDEO_PROCESSOR_TYPE[processor_cls.__name__])
        return processor_cls(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=video_cls(**video_kwargs),
            chat_template=chat_template,
        )
    return _NO_VIDEO[processor_cls](
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=BaseVideoProcessor(**video_kwargs),
        chat_template=chat_template,
    )


def _find_file(path_or_id: str, filename: str) -> Path | None:
    """A file of a local model directory or a hub repo (hub cache; HF_HUB_OFFLINE is respected)."""
    local = Path(path_or_id)
    if local.is_dir():
        candidate = local / filename
        return candidate if candidate.is_file() else None
    from transformers.utils import cached_file

    found = cached_file(
        path_or_id,
        filename,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
    )
    return Path(found) if found else None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON ({exc})") from exc


def _model_type(path_or_id: str) -> str:
    cfg_file = _find_file(path_or_id, "config.json")
    if cfg_file is None:
        raise FileNotFoundError(f"{path_or_id}: no config.json (not a model directory or cached hub id)")
    cfg = _read_json(cfg_file)
    if "model_type" not in cfg:
        raise ValueError(f"{cfg_file}: no model_type")
    return cfg["model_type"]


def _image_processor_settings(path_or_id: str) -> dict:
    """Image processor settings saved either in processor_config.json (transformers 5) or in
    preprocessor_config.json (older saves and the hub's Qwen repos)."""
    proc_file = _find_file(path_or_id, "processor_config.json")
    if proc_file is not None:
        settings = _read_json(proc_file).get("image_processor")
        if isinstance(settings, dict):
            return settings
    pre_file = _find_file(path_or_id, "preprocessor_config.json")
    if pre_file is not None:
        return _read_json(pre_file)
    raise FileNotFoundError(
        f"{path_or_id}: no image processor settings (processor_config.json/preprocessor_config.json)"
    )


def _chat_template(path_or_id: str, tokenizer) -> str | None:
    jinja = _find_file(path_or_id, "chat_template.jinja")
    if jinja is not None:
        return jinja.read_text()
    legacy = _find_file(path_or_id, "chat_template.json")
    if legacy is not None:
        return _read_json(legacy).get("chat_template")
    return getattr(tokenizer, "chat_template", None)


def _processor_class(path_or_id: str):
    """Stock processor class named by the saved processor/tokenizer config, else by model_type
    (a processor-only directory has no config.json; a hub repo may lack processor_config.json)."""
    by_name = {cls.__name__: cls for cls in _NO_VIDEO}
    for filename in ("processor_config.json", "tokenizer_config.json", "preprocessor_config.json"):
        found = _find_file(path_or_id, filename)
        name = _read_json(found).get("processor_class") if found is not None else None
        if name in by_name:
            return by_name[name]
    return processor_class_for(_model_type(path_or_id))


def _assemble_processor(path_or_id: str):
    from transformers import AutoTokenizer, Qwen2VLImageProcessorPil

    processor_cls = _processor_class(path_or_id)
    settings = _image_processor_settings(path_or_id)
    # Drop class markers and keys the PIL processor does not take (e.g. from the fast/torch one).
    valid = set(Qwen2VLImageProcessorPil.valid_kwargs.__annotations__) - _CALL_TIME_KWARGS
    kwargs = {k: v for k, v in settings.items() if k in valid}
    image_processor = Qwen2VLImageProcessorPil(**kwargs)
    tokenizer = AutoTokenizer.from_pretrained(path_or_id)
    return make_processor(processor_cls, image_processor, tokenizer, _chat_template(path_or_id, tokenizer))


def set_pixel_bounds(processor, min_pixels: int | None = None, max_pixels: int | None = None):
    """Override the image processor's resize bounds (total pixels per image); returns processor."""
    if min_pixels is None and max_pixels is None:
        return processor
    image_processor = processor.image_processor
    size = dict(image_processor.size) if image_processor.size else {}
    if min_pixels is not None:
        size["shortest_edge"] = int(min_pixels)
    if max_pixels is not None:
        size["longest_edge"] = int(max_pixels)
    if (
        size.get("shortest_edge")
        and size.get("longest_edge")
        and size["shortest_edge"] > size["longest_edge"]
    ):
        raise ValueError(f"min_pixels {size['shortest_edge']} exceeds max_pixels {size['longest_edge']}")
    image_processor.size = type(image_processor.size)(**size) if image_processor.size is not None else size
    return processor


def load_processor(path_or_id: str | Path, *, min_pixels: int | None = None, max_pixels: int | None = None):
    """The processor of a Qwen-VL model directory or hub id (see module docstring)."""
    path_or_id = str(path_or_id)
    processor = None
    if torchvision_available():
        from transformers import AutoProcessor

        try:
            processor = AutoProcessor.from_pretrained(path_or_id)
        except (ImportError, OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("AutoProcessor failed for %s (%s); assembling the processor instead", path_or_id, exc)
    if processor is None:
        processor = _assemble_processor(path_or_id)
    return set_pixel_bounds(processor, min_pixels, max_pixels)


def resolve_dtype(dtype: Any):
    """ "auto" → bfloat16 on GPU, float32 on CPU; names → torch dtypes; torch dtypes pass through."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        return torch.bfloat16 if torch.cuda.is_available() else torch.float32
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of auto, {', '.join(_DTYPES)}; got {dtype!r}")
    return getattr(torch, dtype)


def model_load_kwargs(cfg: Mapping) -> dict[str, Any]:
    """Keyword arguments of `load_model_and_processor` from a validated config's `model` section."""
    model_cfg = cfg["model"]
    return {
        "dtype": model_cfg.get("dtype", "auto"),
        "attn_implementation": model_cfg.get("attn_implementation"),
        "min_pixels": model_cfg.get("min_pixels"),
        "max_pixels": model_cfg.get("max_pixels"),
    }


def attention_implementation(requested: str | None) -> str | None:
    """`model.attn_implementation`, with flash_attention_2 falling back to PyTorch SDPA when the
    flash-attn package is absent (PyPI has only its source; envs/gpu.post-deploy.sh installs a
    prebuilt wheel when one is given). The choice is logged either way."""
    import importlib.util
    import sys

    if requested == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        print(
            "[vero.models] model.attn_implementation flash_attention_2: flash-attn is not installed, "
            "attention runs on PyTorch SDPA (sdpa)",
            file=sys.stderr,
            flush=True,
        )
        return "sdpa"
    if requested:
        print(f"[vero.models] attention: {requested}", file=sys.stderr, flush=True)
    return requested


def load_model_and_processor(
    path_or_id: str | Path,
    *,
    dtype: Any = "auto",
    attn_implementation: str | None = None,
    device_map: Any = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
):
    """Load (model, processor) for a Qwen-VL model directory or hub id."""
    from transformers import AutoModelForImageTextToText

    path_or_id = str(path_or_id)
    processor = load_processor(path_or_id, min_pixels=min_pixels, max_pixels=max_pixels)
    kwargs: dict[str, Any] = {"dtype": resolve_dtype(dtype)}
    attn_implementation = attention_implementation(attn_implementation)
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if device_map is not None:
        kwargs["device_map"] = device_map
    model = AutoModelForImageTextToText.from_pretrained(path_or_id, **kwargs)
    return model, processor
