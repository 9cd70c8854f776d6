"""Base models: per-family facts, loading with or without torchvision, tiny offline builds.

The family facts import nothing heavy, so rules files and reward code can use them freely; the
loaders and builders (which import torch/transformers) load on first use.
"""

from importlib import import_module
from typing import Any

from vero.models.families import (
    FAMILIES,
    FAMILY_DEFAULTS,
    UnknownFamily,
    coords_for,
    detect_family,
    family_defaults,
    resolve_base_model,
    tiny_model_dir,
    warm_model_dir,
)

_LAZY = {
    "load_model_and_processor": "vero.models.loading",
    "load_processor": "vero.models.loading",
    "model_load_kwargs": "vero.models.loading",
    "resolve_dtype": "vero.models.loading",
    "set_pixel_bounds": "vero.models.loading",
    "MIN_HEAD_DIM": "vero.models.tiny",
    "build_tiny_text_lm": "vero.models.tiny",
    "build_tiny_vlm": "vero.models.tiny",
}

__all__ = [
    "FAMILIES",
    "FAMILY_DEFAULTS",
    "UnknownFamily",
    "coords_for",
    "detect_family",
    "family_defaults",
    "resolve_base_model",
    "tiny_model_dir",
    "warm_model_dir",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vero.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
