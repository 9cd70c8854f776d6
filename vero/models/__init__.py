"""Base models: per-family facts, loading with or without torchvision, tiny offline builds."""

from vero.models.families import (
    FAMILIES,
    FAMILY_DEFAULTS,
    UnknownFamily,
    coords_for,
    detect_family,
    family_defaults,
    resolve_base_model,
    tiny_model_dir,
)
from vero.models.loading import (
    load_model_and_processor,
    load_processor,
    model_load_kwargs,
    resolve_dtype,
    set_pixel_bounds,
)
from vero.models.tiny import MIN_HEAD_DIM, build_tiny_text_lm, build_tiny_vlm

__all__ = [
    "FAMILIES",
    "FAMILY_DEFAULTS",
    "MIN_HEAD_DIM",
    "UnknownFamily",
    "build_tiny_text_lm",
    "build_tiny_vlm",
    "coords_for",
    "detect_family",
    "family_defaults",
    "load_model_and_processor",
    "load_processor",
    "model_load_kwargs",
    "resolve_base_model",
    "resolve_dtype",
    "set_pixel_bounds",
    "tiny_model_dir",
]
