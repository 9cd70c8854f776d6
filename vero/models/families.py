"""Per-family facts of the supported base models (docs/recipe.md#5-training) and base-model resolution."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vero.config import ConfigError

FAMILIES = ("qwen2_5_vl", "qwen3_vl")

# Qwen2.5-VL answers boxes in absolute pixels of the resized image; Qwen3-VL in [0, 1000].
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "qwen2_5_vl": {
        "coords": "absolute",
        "max_prompt_length": 14336,
        "max_completion_length": 10240,
        "max_pixels": 9437184,
    },
    "qwen3_vl": {
        "coords": "qwen1000",
        "max_prompt_length": 18432,
        "max_completion_length": 18432,
        "max_pixels": 16777216,
    },
}

# config.model_type → family. MiMo-VL is a Qwen2.5-VL architecture; the MoE Qwen3-VL shares
# Qwen3-VL's coordinate convention.
_MODEL_TYPE_TO_FAMILY = {
    "qwen2_5_vl": "qwen2_5_vl",
    "qwen3_vl": "qwen3_vl",
    "qwen3_vl_moe": "qwen3_vl",
}


class UnknownFamily(ValueError):
    """A model family (or model_type) this project has no defaults for."""


def family_defaults(family: str) -> dict[str, Any]:
    """A copy of the defaults of `family`; raises UnknownFamily naming the known ones."""
    if family not in FAMILY_DEFAULTS:
        raise UnknownFamily(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
    return dict(FAMILY_DEFAULTS[family])


def coords_for(family: str) -> str:
    """Coordinate system the family answers boxes/points in: "absolute" or "qwen1000"."""
    return family_defaults(family)["coords"]


def _model_type_of(path_or_model: Any) -> str:
    config = getattr(path_or_model, "config", None)
    if config is None and hasattr(path_or_model, "model_type"):
        config = path_or_model  # a PretrainedConfig
    if config is not None:
        return str(config.model_type)
    if isinstance(path_or_model, Mapping):
        return str(path_or_model["model_type"])
    path = Path(str(path_or_model))
    if path.is_dir():
        cfg_file = path / "config.json"
        if not cfg_file.is_file():
            raise FileNotFoundError(f"{cfg_file}: no config.json, not a model directory")
        try:
            return str(json.loads(cfg_file.read_text())["model_type"])
        except (json.JSONDecodeError, KeyError) as exc:
            raise ValueError(f"{cfg_file}: cannot read model_type ({exc})") from exc
    from transformers import AutoConfig

    return str(AutoConfig.from_pretrained(str(path_or_model)).model_type)


def detect_family(path_or_model: Any) -> str:
    """Family of a model directory, hub id, loaded model, config or config dict (by model_type)."""
    model_type = _model_type_of(path_or_model)
    if model_type not in _MODEL_TYPE_TO_FAMILY:
        raise UnknownFamily(
            f"model_type {model_type!r} of {path_or_model!r:.200} is not a supported family; "
            f"known model types: {', '.join(sorted(_MODEL_TYPE_TO_FAMILY))}"
        )
    return _MODEL_TYPE_TO_FAMILY[model_type]


def tiny_model_dir(results_dir: str | Path, family: str) -> str:
    """Where the workflow builds the embedded tiny VLM of `family`."""
    family_defaults(family)
    return f"{str(results_dir).rstrip('/')}/models/tiny-{family}"


def warm_model_dir(results_dir: str | Path, family: str) -> str:
    """Where the workflow writes the warm-started tiny VLM of `family` (rule warm_start)."""
    return tiny_model_dir(results_dir, family) + "-warm"


def resolve_base_model(cfg: Mapping, results_dir: str | Path) -> str:
    """The hub id or directory every experiment starts from (`model.base`; "tiny" → the built
    tiny model, or its warm-started copy when `model.tiny.warm_start.steps` > 0)."""
    model_cfg = cfg.get("model") if isinstance(cfg, Mapping) else None
    if not isinstance(model_cfg, Mapping):
        raise ConfigError("config key 'model' is missing or not a mapping")
    for key in ("base", "family"):
        if key not in model_cfg:
            raise ConfigError(f"config key 'model.{key}' is missing")
    base, family = model_cfg["base"], model_cfg["family"]
    if base == "tiny":
        from vero.models.warm_start import warm_start_enabled

        if warm_start_enabled(cfg):
            return warm_model_dir(results_dir, family)
        return tiny_model_dir(results_dir, family)
    return str(base)


def base_model_inputs(cfg: Mapping, results_dir: str | Path) -> list[str]:
    """What the train rule waits for before it starts: the tiny model's directory (or its warm
    start, `model.tiny.warm_start.steps` > 0) when the workflow builds it (`model.base: tiny`),
    nothing for a hub id or a local path.

    >>> base_model_inputs({"model": {"base": "tiny", "family": "qwen2_5_vl"}}, "results")
    ['results/models/tiny-qwen2_5_vl']
    >>> base_model_inputs({"model": {"base": "Qwen/Qwen3-VL-8B-Instruct", "family": "qwen3_vl"}}, "r")
    []
    """
    base = resolve_base_model(cfg, results_dir)
    return [base] if cfg["model"]["base"] == "tiny" else []
