"""Configuration: load, fill defaults, validate against the JSON Schema, resolve experiments.

The schema lives in `config/schema/`: `root.yaml` describes the top level and each other file
`<section>.yaml` the schema of the top-level key `<section>`. Errors name the key path, e.g.
`config key 'experiments.mixed.train.algorithm': 'ppo' is not one of ['gspo', 'grpo', 'dapo']`.

Three promises (README "Configuration"):

- What a job reads equals what the workflow validated. A config holds JSON values only (string
  keys; strings, integers, finite floats or ±inf, booleans, null, lists, mappings), checked at
  load, and travels to jobs as JSON (`dump_json` / `json.loads`), which gives every such value
  back exactly (Python writes floats with `repr`, the shortest string that reads back to the
  same double). YAML files are read with YAML 1.2's float syntax, so `1e-6` is a number.
- Command-line values (`snakemake --config KEY=VALUE`) are coerced to the schema's types
  (`coerce_overrides`): Snakemake parses nested values with YAML's base loader, which leaves
  every scalar a string. A key the schema does not know, or a value that cannot be coerced, is
  an error naming the command-line key.
- A config that validates does not fail later for a reason validation can see: besides the
  schema, `validate_config` checks every experiment's batch layout over the processes its
  training job starts (`vero.train.trl_config`, the same arithmetic TRL checks), experiment
  names in analysis lists and benchmark names against the registry.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
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


# ---- YAML with YAML 1.2 floats ---------------------------------------------------------------

# YAML 1.1 (PyYAML) wants a dot in a float, so `1e-6` would be the string "1e-6"; YAML 1.2's core
# schema reads it as the number researchers mean. Integers, booleans and null stay as PyYAML reads
# them. Duplicate keys in one mapping are an error (YAML leaves the winner unspecified).
_FLOAT_12 = re.compile(
    r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
)
_INT_12 = re.compile(r"^[-+]?[0-9]+$")


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats and an error on duplicate keys."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+|[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?)$"
    ),
    list("-+0123456789."),
)


class ConfigDumper(yaml.SafeDumper):
    """The writer matching ConfigLoader: quotes strings that YAML 1.2 would read as floats."""


ConfigDumper.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+|[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?)$"
    ),
    list("-+0123456789."),
)


def write_yaml(obj: Any) -> str:
    """`obj` as YAML that `read_yaml` gives back exactly."""
    return yaml.dump(obj, Dumper=ConfigDumper, allow_unicode=True, sort_keys=False)


def read_yaml(path: str | Path) -> Any:
    """A YAML config file (YAML 1.2 floats); a syntax error is a ConfigError naming the file."""
    path = Path(path)
    try:
        return yaml.load(path.read_text(), Loader=ConfigLoader)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config file: {e}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e


# ---- exact JSON round trip ---------------------------------------------------------------------


def dump_json(obj: Any, *, indent: int | None = 1) -> str:
    """The one writer of configs for jobs: JSON with sorted keys; `json.loads` gives `obj` back.

    Floats are written with `repr` (shortest round-trip form, so 1e-06, 1e+20 and 0.1 come back
    as the same doubles); ±inf as Infinity, which Python's json reads back; strings as UTF-8.
    """
    return json.dumps(obj, sort_keys=True, indent=indent, ensure_ascii=False, allow_nan=True)


def check_json_values(obj: Any, path: tuple = ()) -> None:
    """Refuse what JSON cannot carry exactly: non-string keys, NaN, dates, sets, other objects."""
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ConfigError(
                    f"config key '{key_path((*path, k))}': keys must be strings, got {type(k).__name__} "
                    f"{k!r} (quote it in YAML)"
                )
            check_json_values(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            check_json_values(v, (*path, i))
    elif isinstance(obj, float):
        if math.isnan(obj):
            raise ConfigError(f"config key '{key_path(path)}': NaN is not a setting")
    elif obj is not None and not isinstance(obj, str | int | bool):
        raise ConfigError(
            f"config key '{key_path(path)}': {type(obj).__name__} {obj!r} is not a config value "
            "(strings, numbers, booleans, null, lists and mappings only; quote dates in YAML)"
        )


# ---- schema validation ----------------------------------------------------------------------


def _strict_integer(checker, instance) -> bool:
    # JSON Schema counts 10.0 as an integer; a job calling range(10.0) does not
    return isinstance(instance, int) and not isinstance(instance, bool)


def _with_defaults(validator_class):
    validate_props = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_props(validator, properties, instance, schema)

    return validators.extend(
        validator_class,
        {"properties": set_defaults},
        type_checker=validator_class.TYPE_CHECKER.redefine("integer", _strict_integer),
    )


_DefaultFillingValidator = _with_defaults(Draft202012Validator)
_SCHEMA_CACHE: dict[tuple, dict] = {}


def load_schema(schema_dir: Path | str = SCHEMA_DIR) -> dict:
    """Assemble the full schema from `root.yaml` plus one file per top-level section."""
    schema_dir = Path(schema_dir)
    files = sorted(schema_dir.glob("*.yaml"))
    stamp = (str(schema_dir), *((f.name, f.stat().st_mtime_ns) for f in files))
    if stamp in _SCHEMA_CACHE:
        return copy.deepcopy(_SCHEMA_CACHE[stamp])
    root = yaml.safe_load((schema_dir / "root.yaml").read_text())
    props = root.setdefault("properties", {})
    for f in files:
        if f.stem != "root":
            props[f.stem] = yaml.safe_load(f.read_text())
    Draft202012Validator.check_schema(root)
    _SCHEMA_CACHE[stamp] = root
    return copy.deepcopy(root)


def key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def _leaf_paths(tree: Mapping, prefix: tuple = ()) -> list[tuple]:
    out = []
    for k, v in tree.items():
        if isinstance(v, Mapping) and v:
            out += _leaf_paths(v, (*prefix, k))
        else:
            out.append((*prefix, k))
    return out


def validate_config(
    config: Mapping,
    schema: dict | None = None,
    *,
    source: str = "config",
    cli_overrides: Mapping | None = None,
) -> dict:
    """Return a validated deep copy of `config` with schema defaults filled in.

    `cli_overrides` (already merged into `config`) only changes how errors are worded: an error
    at or below a key given with `--config` names it as a command-line key.
    """
    cfg = copy.deepcopy(dict(config))
    check_json_values(cfg)
    schema = schema or load_schema()
    validator = _DefaultFillingValidator(schema)
    errors = sorted(
        validator.iter_errors(cfg), key=lambda e: (len(e.absolute_path), key_path(e.absolute_path))
    )
    cli_paths = _leaf_paths(cli_overrides) if cli_overrides else []

    def where(path) -> str:
        path = tuple(path)
        from_cli = any(path[: len(p)] == p for p in cli_paths)
        return f"{'--config' if from_cli else 'config'} key '{key_path(path)}'"

    if errors:
        lines = [f"{where(e.absolute_path)}: {e.message}" for e in errors[:10]]
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise ConfigError(f"invalid {source}:\n  " + "\n  ".join(lines) + more)
    try:
        _check_semantics(cfg, schema, raw=config)
    except ConfigError as e:
        raise ConfigError(f"invalid {source}:\n  {e}") from None
    _derive_paths(cfg)
    return cfg


def _derive_paths(cfg: dict) -> None:
    """Paths that follow `results_dir` unless set: W&B run folders."""
    wandb_cfg = cfg.get("wandb")
    if isinstance(wandb_cfg, dict) and not wandb_cfg.get("dir"):
        wandb_cfg["dir"] = f"{cfg.get('results_dir', 'results').rstrip('/')}/wandb"


OVERRIDABLE = ("train", "model", "reward", "mix")
_OVERRIDABLE = OVERRIDABLE  # the old private name


def _check_semantics(cfg: dict, schema: dict, raw: Mapping | None = None) -> None:
    """Cross-key rules that JSON Schema cannot express.

    Experiment overrides are checked against the section they override, merged with its
    defaults, so a typo in `experiments.X.train` fails at load like one in `train`.
    """
    for name, exp in (cfg.get("experiments") or {}).items():
        if name == "base":
            raise ConfigError(
                "config key 'experiments.base': 'base' is reserved for the untrained base model"
            )
        for section in OVERRIDABLE:
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
    if "experiments" in cfg and "train" in cfg:
        for name in cfg["experiments"]:
            check_training_layout(cfg, name)
    if "analysis" in cfg and "experiments" in cfg:
        check_analysis_lists(cfg, raw if raw is not None else cfg)
    if "eval" in cfg:
        check_benchmarks(cfg)


def _origin(cfg: Mapping, experiment: str, section: str, key: str) -> str:
    """The key a resolved `section.key` of an experiment came from: its override, else the default."""
    override = ((cfg.get("experiments") or {}).get(experiment) or {}).get(section) or {}
    return f"experiments.{experiment}.{section}.{key}" if key in override else f"{section}.{key}"


def check_training_layout(cfg: Mapping, experiment: str) -> None:
    """The batch sizes of one experiment divide over the processes its training job starts.

    The same functions the training job calls (`vero.train.trl_config`, `vero.train.launch`):
    rollout batch = whole mix blocks (train.batch_size a multiple of mix.batch_size unless the
    run has one category, `vero.train.sampler.check_block_alignment`), mini_batch_size divides
    batch_size, mini_batch_size x num_generations splits evenly over the P training processes,
    micro_batch_size divides each process's share. TRL's GRPOConfig then holds
    generation_batch_size = P x micro x steps_per_generation = batch_size x num_generations.
    """
    from vero.train.launch import training_processes
    from vero.train.trl_config import batch_geometry, sft_config_kwargs

    resolved = resolve_experiment(cfg, experiment)
    train = resolved["train"]
    try:
        processes = training_processes(resolved)
        if train["trainer"] == "rl":
            if len(resolved["categories"]) > 1 and train["batch_size"] % resolved["mix"]["batch_size"]:
                raise ConfigError(
                    f"config key 'train.batch_size': {train['batch_size']} is not a multiple of "
                    f"mix.batch_size ({resolved['mix']['batch_size']}); rollout batches would cut the "
                    "mix's category-balanced blocks"
                )
            batch_geometry(train, processes)
        else:
            sft_config_kwargs(resolved, "<validation>", num_processes=processes)
    except ConfigError as e:
        msg = str(e)
        m = re.match(r"config key '(train|mix|reward|model)\.([^'.]+)([^']*)': (.*)", msg, flags=re.S)
        if m:
            origin = _origin(cfg, experiment, m.group(1), m.group(2))
            msg = f"config key '{origin}{m.group(3)}': {m.group(4)}"
        raise ConfigError(f"{msg} (experiment {experiment!r})") from None


def check_analysis_lists(cfg: Mapping, raw: Mapping) -> None:
    """Experiment names in `analysis.{reasoning_length,skills}.experiments` must exist (or be
    "base"). A list left at its schema default is not checked here: it only matters to the
    analysis targets, which say so when they are asked for (rules/common.smk)."""
    known = ["base", *cfg["experiments"]]
    raw_analysis = raw.get("analysis") if isinstance(raw, Mapping) else None
    for which in ("reasoning_length", "skills"):
        given = ((raw_analysis or {}).get(which) or {}).get("experiments")
        if given is None or given == "all":
            continue
        for i, n in enumerate(given):
            if n not in known:
                raise ConfigError(
                    f"config key 'analysis.{which}.experiments.{i}': unknown experiment {n!r}; known: {known}"
                )


def check_benchmarks(cfg: Mapping) -> None:
    """eval.benchmarks and eval.local_data name benchmarks of the suite; eval.paper_model has
    reference numbers in the registry."""
    from vero.eval.registry import RegistryError, paper_reference, registry_path, suite_specs

    try:
        suite_specs(cfg)
    except RegistryError as e:
        raise ConfigError(str(e)) from None
    paper_model = cfg["eval"].get("paper_model")
    if paper_model:
        try:
            models = (paper_reference(registry_path(cfg)) or {}).get("models") or {}
        except RegistryError as e:
            raise ConfigError(f"config key 'eval.registry': {e}") from None
        if paper_model not in models:
            raise ConfigError(
                f"config key 'eval.paper_model': {paper_model!r} has no reference numbers in the "
                f"registry; known: {sorted(models)}"
            )


# ---- command-line overrides --------------------------------------------------------------------

_NULLS = ("null", "Null", "NULL", "~")
_TRUE, _FALSE = ("true", "True", "TRUE"), ("false", "False", "FALSE")


def _types(schema: Mapping) -> list[str]:
    t = schema.get("type")
    return [t] if isinstance(t, str) else list(t or [])


def _scalar_from_text(text: str) -> Any:
    """YAML 1.2 core-schema reading of an untyped scalar (free-form mappings such as extra_body)."""
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT_12.match(text):
        return int(text)
    if _FLOAT_12.match(text):
        special = text.lower().lstrip("+")
        if special in (".inf", "-.inf", ".nan"):
            return float(special.replace(".", ""))
        return float(text)
    return text


def _coerce_text(text: str, schema: Mapping, path: tuple) -> Any:
    """A string from the command line as the type `schema` asks for."""
    if "enum" in schema or "const" in schema:
        allowed = schema.get("enum", [schema.get("const")])
        if text in allowed:
            return text
        typed = _scalar_from_text(text)
        return typed if typed in allowed and type(typed) in {type(a) for a in allowed} else text
    for key in ("oneOf", "anyOf"):
        if key in schema:
            for sub in schema[key]:
                try:
                    value = _coerce_text(text, sub, path)
                except ConfigError:
                    continue
                if Draft202012Validator(sub).is_valid(value):
                    return value
            return text
    types = _types(schema)
    if not types:
        return _scalar_from_text(text)
    if "null" in types and text in _NULLS:
        return None
    if "boolean" in types and text in _TRUE + _FALSE:
        return text in _TRUE
    if "integer" in types and _INT_12.match(text.replace("_", "")):
        return int(text)
    if "number" in types and (_FLOAT_12.match(text) or _INT_12.match(text)):
        return _scalar_from_text(text)  # "2" -> 2 and "2.0" -> 2.0, as a YAML file reads them
    if "string" in types:
        return text
    wanted = " or ".join(
        "a number" if t == "number" else f"{'an' if t[0] in 'aeiou' else 'a'} {t}" for t in types
    )
    raise ConfigError(f"--config key '{key_path(path)}': {text!r} is not {wanted}")


def _coerce(value: Any, schema: Mapping | None, path: tuple, root: Mapping) -> Any:
    if schema is None:  # a free-form mapping (extra_body, generation_kwargs, ...)
        if isinstance(value, str):
            return _scalar_from_text(value)
        if isinstance(value, Mapping):
            return {k: _coerce(v, None, (*path, k), root) for k, v in value.items()}
        if isinstance(value, list):
            return [_coerce(v, None, (*path, i), root) for i, v in enumerate(value)]
        return value
    if isinstance(value, str):
        return _coerce_text(value, schema, path)
    if isinstance(value, Mapping):
        if len(path) == 3 and path[0] == "experiments" and path[2] in OVERRIDABLE:
            schema = root["properties"][path[2]]  # an experiment's override of a whole section
        for key in ("oneOf", "anyOf"):
            for sub in schema.get(key, ()):
                if "object" in _types(sub) or "properties" in sub:
                    schema = sub
        props = schema.get("properties") or {}
        addl = schema.get("additionalProperties", True)
        out = {}
        for k, v in value.items():
            k = str(k)
            if k in props:
                sub = props[k]
            elif isinstance(addl, Mapping):
                sub = addl
            elif addl is False:
                import difflib

                near = difflib.get_close_matches(k, list(props), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise ConfigError(
                    f"--config key '{key_path((*path, k))}': not a key of the config{hint} "
                    f"(known here: {', '.join(props) or 'none'})"
                )
            else:
                sub = None
            out[k] = _coerce(v, sub, (*path, k), root)
        return out
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else None
        for key in ("oneOf", "anyOf"):
            for sub in schema.get(key, ()):
                if "array" in _types(sub):
                    items = sub.get("items")
        return [_coerce(v, items, (*path, i), root) for i, v in enumerate(value)]
    # a top-level value Snakemake already typed (int, float or bool) where the schema wants
    # another type: an integral float for an integer key, a number for a string key
    types = _types(schema)
    if isinstance(value, float) and value.is_integer() and "integer" in types and "number" not in types:
        return int(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and types == ["string"]:
        return str(value)
    return value


def coerce_overrides(overrides: Mapping, schema: dict | None = None) -> dict:
    """`--config` values as the schema's types; an unknown key or an uncoercible value is a
    ConfigError naming the command-line key.

    Snakemake types a top-level value itself (int, float, bool, else a YAML base-loader parse)
    and leaves every nested scalar a string: `train={"learning_rate": 2e-6}` arrives as
    {"train": {"learning_rate": "2e-6"}} and leaves here as {"train": {"learning_rate": 2e-06}}.
    A string the schema allows stays a string ("null", "~" become null where null is allowed).
    """
    schema = schema or load_schema()
    return _coerce(dict(overrides), schema, (), schema)


# ---- loading ------------------------------------------------------------------------------------


def load_config(path: str | Path, overrides: Mapping | None = None) -> dict:
    """A config file, `overrides` merged on top (mappings merge key by key), validated."""
    raw = read_yaml(path) or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: the config must be a mapping, got {type(raw).__name__}")
    if overrides:
        raw = deep_merge(raw, overrides)
    return validate_config(raw, source=str(path), cli_overrides=overrides)


def load_workflow_config(configfiles, cli_config: Mapping | None = None) -> dict:
    """What the Snakefile runs on: the config files merged in order, then the `--config` values
    (`cli_config`, as Snakemake parsed them) coerced to the schema's types and merged."""
    schema = load_schema()
    raw: dict = {}
    for f in configfiles:
        data = read_yaml(f) or {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{f}: the config must be a mapping, got {type(data).__name__}")
        raw = deep_merge(raw, data)
    overrides = coerce_overrides(cli_config or {}, schema) if cli_config else {}
    if overrides:
        raw = deep_merge(raw, overrides)
    source = ", ".join(map(str, configfiles)) + (" with --config" if overrides else "")
    return validate_config(raw, schema, source=source, cli_overrides=overrides)


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
    `model`, `reward`, `mix` (the mix settings), `wandb` and `seed`. On a job's settings
    (`vero.settings.JobSettings`) the experiment's sections are already resolved; a section the
    job did not declare stays unreadable in the result.
    """
    from vero.settings import JobSettings

    if isinstance(config, JobSettings):
        return config.resolve_experiment(name)
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
        **{s: deep_merge(config.get(s, {}), exp.get(s, {})) for s in OVERRIDABLE},
        "wandb": copy.deepcopy(config.get("wandb", {})),
        "seed": config.get("seed", 0),
    }
    return resolved


def config_hash(obj: Any) -> str:
    """A short stable hash of any JSON-serialisable value (sorted keys)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def main(argv=None) -> None:
    """`python -m vero.config CONFIG.yaml [KEY=VALUE ...]`: print the validated config as JSON (what
    a workflow script reads with --config-json when run by hand). KEY=VALUE pairs are read as
    `snakemake --config` reads them, then coerced to the schema's types."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m vero.config", description=main.__doc__)
    p.add_argument("configfile")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    a = p.parse_args(argv)
    try:
        from snakemake.cli import parse_config

        cli = parse_config(a.overrides) if a.overrides else {}
        print(dump_json(load_workflow_config([a.configfile], cli)))
    except (ConfigError, ValueError) as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
