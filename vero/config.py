"""Configuration: load, fill defaults, validate against the JSON Schema, resolve experiments.

The schema lives in `config/schema/`: `root.yaml` describes the top level and each other file
`<section>.yaml` the schema of the top-level key `<section>`. Errors name the key path, e.g.
`config key 'experiments.mixed.train.algorithm': 'ppo' is not one of ['gspo', 'grpo', 'dapo']`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators

from vero.categories import CATEGORIES

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO_ROOT / "config" / "schema"


class ConfigError(ValueError):
    """An invalid configuration; the message names the offending key path."""


def _with_defaults(validator_class):
    validate_props = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_props(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _with_defaults(Draft202012Validator)


def load_schema(schema_dir: Path | str = SCHEMA_DIR) -> dict:
    """Assemble the full schema from `root.yaml` plus one file per top-level section."""
    schema_dir = Path(schema_dir)
    root = yaml.safe_load((schema_dir / "root.yaml").read_text())
    props = root.setdefault("properties", {})
    for f in sorted(schema_dir.glob("*.yaml")):
        if f.stem != "root":
            props[f.stem] = yaml.safe_load(f.read_text())
    Draft202012Validator.check_schema(root)
    return root


def key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def validate_config(config: Mapping, schema: dict | None = None, *, source: str = "config") -> dict:
    """Return a validated deep copy of `config` with schema defaults filled in."""
    cfg = copy.deepcopy(dict(config))
    schema = schema or load_schema()
    validator = _DefaultFillingValidator(schema)
    errors = sorted(
        validator.iter_errors(cfg), key=lambda e: (len(e.absolute_path), key_path(e.absolute_path))
    )
    if errors:
        lines = [f"config key '{key_path(e.absolute_path)}': {e.message}" for e in errors[:10]]
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise ConfigError(f"invalid {source}:\n  " + "\n  ".join(lines) + more)
    _check_semantics(cfg, schema)
    _derive_paths(cfg)
    return cfg


def _derive_paths(cfg: dict) -> None:
    """Paths that follow `results_dir` unless set: W&B run folders."""
    wandb_cfg = cfg.get("wandb")
    if isinstance(wandb_cfg, dict) and not wandb_cfg.get("dir"):
        wandb_cfg["dir"] = f"{cfg.get('results_dir', 'results').rstrip('/')}/wandb"


_OVERRIDABLE = ("train", "model", "reward", "mix")


def _check_semantics(cfg: dict, schema: dict) -> None:
    """Cross-key rules that JSON Schema cannot express.

    Experiment overrides are checked against the section they override, merged with its
    defaults, so a typo in `experiments.X.train` fails at load like one in `train`.
    """
    for name, exp in (cfg.get("experiments") or {}).items():
        for section in _OVERRIDABLE:
            if section not in exp or section not in schema["properties"]:
                continue
            merged = deep_merge(cfg.get(section, {}), exp[section])
            validator = _DefaultFillingValidator(schema["properties"][section])
            for e in validator.iter_errors(merged):
                path = key_path(["experiments", name, section, *e.absolute_path])
                raise ConfigError(f"config key '{path}': {e.message}")
        cats = exp.get("categories", "all")
        if isinstance(cats, list):
            for i, c in enumerate(cats):
                if c not in CATEGORIES:
                    raise ConfigError(
                        f"config key 'experiments.{name}.categories.{i}': unknown category {c!r}; "
                        f"expected one of {list(CATEGORIES)}"
                    )
        if name == "base":
            raise ConfigError(
                "config key 'experiments.base': 'base' is reserved for the untrained base model"
            )


def load_config(path: str | Path, overrides: Mapping | None = None) -> dict:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if overrides:
        raw = deep_merge(raw, overrides)
    return validate_config(raw, source=str(path))


def deep_merge(base: Mapping, override: Mapping) -> dict:
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def experiment_categories(exp: Mapping) -> list[str]:
    cats = exp.get("categories", "all")
    return list(CATEGORIES) if cats == "all" else list(cats)


def resolve_experiment(config: Mapping, name: str) -> dict:
    """The fully resolved settings of one experiment: train defaults ← experiment overrides.

    The result holds everything a training job needs: `name`, `ablation`, `categories`, `train`,
    `model`, `reward`, `data` (the mix settings) and `wandb`.
    """
    experiments = config.get("experiments") or {}
    if name not in experiments:
        raise ConfigError(
            f"config key 'experiments.{name}': no such experiment; known: {sorted(experiments)}"
        )
    exp = experiments[name]
    resolved = {
        "name": name,
        "ablation": exp.get("ablation", "main"),
        "categories": experiment_categories(exp),
        "train": deep_merge(config.get("train", {}), exp.get("train", {})),
        "model": deep_merge(config.get("model", {}), exp.get("model", {})),
        "reward": deep_merge(config.get("reward", {}), exp.get("reward", {})),
        "mix": deep_merge(config.get("mix", {}), exp.get("mix", {})),
        "wandb": copy.deepcopy(config.get("wandb", {})),
        "seed": config.get("seed", 0),
    }
    return resolved


def config_hash(obj: Any) -> str:
    """A short stable hash of any JSON-serialisable value (sorted keys)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
