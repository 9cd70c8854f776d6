"""The benchmark registry: config/veroeval.yaml (30 VeroEval benchmarks) and the VeroMini suite.

`load_registry` validates the YAML file and returns `BenchmarkSpec`s; errors name the file and the
key (`config/veroeval.yaml: benchmarks.chartqa.scorer: ...`). The mini suite is not in the file:
it is one benchmark per category, `mini_<category>`, reading the held-out VeroMini split
(`data/heldout/<category>.parquet`, canonical records whose `reward_type` decides the scoring).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from vero.categories import CATEGORIES
from vero.config import REPO_ROOT

DEFAULT_REGISTRY = REPO_ROOT / "config" / "veroeval.yaml"

SCORERS = ("reward", "relaxed_accuracy", "anls", "iou_accuracy", "point_in_box")
ANSWER_FORMATS = (
    "text",
    "text_list",
    "letter",
    "option_text",
    "option_index",
    "bbox_xyxy",
    "bbox_xyxy_relative",
    "bbox_xywh",
    "ifeval",
)
SOURCE_KINDS = ("hub", "local", "canonical")
MINI_PREFIX = "mini_"
SUITES = ("veroeval", "mini")


class RegistryError(ValueError):
    """An invalid registry entry; the message names the file and the key path."""


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark: where its rows come from, how they map to samples, how outputs are scored."""

    key: str
    name: str
    category: str
    scorer: str
    metric: str
    source_kind: str = "hub"
    hub_id: str | None = None
    hub_configs: tuple[str | None, ...] = (None,)
    # a benchmark published as several datasets (VisualProbe: one per difficulty); empty = hub_id
    hub_ids: tuple[str, ...] = ()
    split: str | None = None
    local_path: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    reward_type: str | None = None
    mc_when_options: bool = False
    question_template: str | None = None
    # how evaluation scores the benchmark as the Vero release does (vero.eval.scorers); empty for
    # the mini suite, which is scored through the training reward routes
    scoring: Mapping[str, Any] = field(default_factory=dict)

    @property
    def hub_parts(self) -> list[tuple[str, str | None]]:
        """(dataset id, config) pairs whose rows together make the benchmark."""
        return [(h, c) for h in (self.hub_ids or (self.hub_id,)) for c in self.hub_configs]

    @property
    def is_mini(self) -> bool:
        return self.source_kind == "canonical"

    def with_local_path(self, path: str | Path) -> BenchmarkSpec:
        """The same benchmark read from a local file in its published row format."""
        kind = "canonical" if self.is_mini else "local"
        return replace(self, source_kind=kind, local_path=str(path))


def _err(source: str, key: str, msg: str) -> RegistryError:
    return RegistryError(f"{source}: {key}: {msg}")


def _check_reward_type(rt: str, source: str, key: str) -> None:
    from vero.rewards.types import REWARD_TYPES

    if rt not in REWARD_TYPES:
        raise _err(source, key, f"unknown reward_type {rt!r}; expected one of {list(REWARD_TYPES)}")


ENTRY_KEYS = frozenset(
    {
        "name",
        "category",
        "source",
        "fields",
        "scorer",
        "metric",
        "reward_type",
        "mc_when_options",
        "question_template",
        "note",
    }
)
SOURCE_KEYS = frozenset({"hub_id", "config", "configs", "split"})
FIELD_KEYS = frozenset({"id", "images", "question", "options", "answer", "answer_format", "kwargs"})


def _check_keys(value: Mapping, allowed: frozenset, source: str, where: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:  # a typo would otherwise silently fall back to a default
        raise _err(source, f"{where}.{unknown[0]}", f"unknown key; allowed: {sorted(allowed)}")


def _parse_entry(key: str, entry: Any, source: str) -> BenchmarkSpec:
    where = f"benchmarks.{key}"
    if not isinstance(entry, Mapping):
        raise _err(source, where, f"expected a mapping, got {type(entry).__name__}")
    _check_keys(entry, ENTRY_KEYS, source, where)
    for req in ("name", "category", "source", "fields", "scorer", "metric"):
        if req not in entry:
            raise _err(source, f"{where}.{req}", "missing")
    category = entry["category"]
    if category not in CATEGORIES:
        raise _err(
            source, f"{where}.category", f"unknown category {category!r}; expected one of {list(CATEGORIES)}"
        )
    scorer = entry["scorer"]
    if scorer not in SCORERS:
        raise _err(source, f"{where}.scorer", f"unknown scorer {scorer!r}; expected one of {list(SCORERS)}")
    reward_type = entry.get("reward_type")
    if scorer == "reward":
        if not reward_type:
            raise _err(source, f"{where}.reward_type", "required when scorer is 'reward'")
        _check_reward_type(reward_type, source, f"{where}.reward_type")
    elif reward_type is not None:
        raise _err(source, f"{where}.reward_type", f"only used with scorer 'reward', not {scorer!r}")

    src = entry["source"]
    if not isinstance(src, Mapping):
        raise _err(source, f"{where}.source", "expected a mapping with hub_id, config(s), split")
    _check_keys(src, SOURCE_KEYS, source, f"{where}.source")
    hub_id = src.get("hub_id")
    hub_ids: tuple[str, ...] = ()
    if isinstance(hub_id, list) and hub_id and all(isinstance(h, str) and h for h in hub_id):
        hub_ids, hub_id = tuple(hub_id), hub_id[0]
    if not hub_id or not isinstance(hub_id, str):
        raise _err(source, f"{where}.source.hub_id", "missing, or not a dataset id or a list of them")
    if "configs" in src:
        configs = src["configs"]
        if not isinstance(configs, list) or not configs or not all(isinstance(c, str) for c in configs):
            raise _err(source, f"{where}.source.configs", "expected a non-empty list of config names")
        hub_configs = tuple(configs)
    else:
        hub_configs = (src.get("config"),)
    split = src.get("split")
    if not split:
        raise _err(source, f"{where}.source.split", "missing")

    fields = entry["fields"]
    if not isinstance(fields, Mapping):
        raise _err(source, f"{where}.fields", "expected a mapping")
    _check_keys(fields, FIELD_KEYS, source, f"{where}.fields")
    images = fields.get("images")
    if not isinstance(images, list) or not images or not all(isinstance(f, str) for f in images):
        raise _err(source, f"{where}.fields.images", "expected a non-empty list of field names")
    if not fields.get("answer"):
        raise _err(source, f"{where}.fields.answer", "missing")
    fmt = fields.get("answer_format", "text")
    if fmt not in ANSWER_FORMATS:
        raise _err(
            source,
            f"{where}.fields.answer_format",
            f"unknown {fmt!r}; expected one of {list(ANSWER_FORMATS)}",
        )
    if fmt in ("option_text", "option_index") and not fields.get("options"):
        raise _err(source, f"{where}.fields.options", f"required with answer_format {fmt!r}")
    if fmt == "ifeval" and reward_type != "instruction_following":
        raise _err(
            source, f"{where}.reward_type", "answer_format 'ifeval' needs reward_type 'instruction_following'"
        )
    if scorer in ("iou_accuracy", "point_in_box") and not fmt.startswith("bbox"):
        raise _err(source, f"{where}.fields.answer_format", f"scorer {scorer!r} needs a bbox_* answer_format")
    template = entry.get("question_template")
    if template is not None and "{question}" not in template and fields.get("question"):
        raise _err(
            source, f"{where}.question_template", "must contain '{question}' when fields.question is set"
        )
    if fields.get("question") is None and not template:
        raise _err(source, f"{where}.question_template", "required when fields.question is null")
    return BenchmarkSpec(
        key=key,
        name=str(entry["name"]),
        category=category,
        scorer=scorer,
        metric=str(entry["metric"]),
        source_kind="hub",
        hub_id=hub_id,
        hub_configs=hub_configs,
        hub_ids=hub_ids,
        split=str(split),
        fields=dict(fields, answer_format=fmt),
        reward_type=reward_type,
        mc_when_options=bool(entry.get("mc_when_options", False)),
        question_template=template,
    )


def read_registry_file(path: str | Path = DEFAULT_REGISTRY) -> dict:
    path = Path(path)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError as e:
        raise RegistryError(f"{path}: benchmark registry not found") from e
    # Building the DAG asks for benchmarks once per evaluation job: parse the file once per version.
    return copy.deepcopy(_parse_registry_file(str(path.resolve()), stamp))


@functools.lru_cache(maxsize=8)
def _parse_registry_file(path: str, _mtime_ns: int) -> dict:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as e:
        raise RegistryError(f"{path}: benchmark registry not found") from e
    except yaml.YAMLError as e:
        raise RegistryError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(doc, Mapping) or not isinstance(doc.get("benchmarks"), Mapping):
        raise RegistryError(f"{path}: benchmarks: missing or not a mapping")
    return dict(doc)


def load_registry(path: str | Path = DEFAULT_REGISTRY) -> dict[str, BenchmarkSpec]:
    """All benchmarks of the registry file, validated, in file order."""
    doc = read_registry_file(path)
    specs = {}
    for key, entry in doc["benchmarks"].items():
        if str(key).startswith(MINI_PREFIX):
            raise _err(
                str(path), f"benchmarks.{key}", f"the prefix {MINI_PREFIX!r} is reserved for the mini suite"
            )
        specs[str(key)] = _parse_entry(str(key), entry, str(path))
    return _with_scoring(specs, doc.get("scoring"), str(path))


def _with_scoring(specs: dict[str, BenchmarkSpec], section: Any, source: str) -> dict[str, BenchmarkSpec]:
    """Attach each benchmark's entry of the registry's `scoring:` section (validated by
    vero.eval.scorers.check_scoring) to its spec."""
    if section is None:
        return specs
    if not isinstance(section, Mapping):
        raise _err(source, "scoring", "expected a mapping of benchmark → scoring block")
    from vero.eval.scorers import check_scoring

    for key, block in section.items():
        if key not in specs:
            raise _err(source, f"scoring.{key}", f"not a benchmark of the registry; known: {list(specs)}")
        try:
            specs[key] = replace(specs[key], scoring=check_scoring(block))
        except ValueError as e:
            raise _err(source, f"scoring.{key}", str(e)) from e
    return specs


def paper_reference(path: str | Path = DEFAULT_REGISTRY) -> dict:
    """The paper's reference numbers recorded in the registry file (may be empty)."""
    return dict(read_registry_file(path).get("paper_reference") or {})


def may_need_judge(spec: BenchmarkSpec) -> bool:
    """Whether a benchmark can have judge-scored samples (mini benchmarks: decided per row)."""
    from vero.eval.scorers import is_judge_method
    from vero.rewards.types import JUDGE_REWARD_TYPES

    if spec.scoring.get("method"):
        return is_judge_method(spec.scoring["method"])
    return spec.is_mini or spec.reward_type in JUDGE_REWARD_TYPES


def mini_spec(category: str, results_dir: str | Path) -> BenchmarkSpec:
    """The mini benchmark of one category: the held-out VeroMini rows of that category."""
    if category not in CATEGORIES:
        raise RegistryError(f"mini suite: unknown category {category!r}; expected one of {list(CATEGORIES)}")
    return BenchmarkSpec(
        key=f"{MINI_PREFIX}{category}",
        name=f"VeroMini {category}",
        category=category,
        scorer="reward",
        metric="reward accuracy (vero.rewards route of each row)",
        source_kind="canonical",
        local_path=str(Path(results_dir) / "data" / "heldout" / f"{category}.parquet"),
    )


def mini_suite(results_dir: str | Path) -> dict[str, BenchmarkSpec]:
    return {f"{MINI_PREFIX}{c}": mini_spec(c, results_dir) for c in CATEGORIES}


def registry_path(cfg: Mapping) -> Path:
    p = Path(cfg.get("eval", {}).get("registry", "config/veroeval.yaml"))
    return p if p.is_absolute() else REPO_ROOT / p


def suite_specs(cfg: Mapping) -> dict[str, BenchmarkSpec]:
    """The benchmarks a config evaluates (eval.suite, narrowed by eval.benchmarks when set),
    with eval.local_data overrides applied."""
    ev = cfg.get("eval", {})
    suite = ev.get("suite", "veroeval")
    if suite not in SUITES:
        raise RegistryError(f"config key 'eval.suite': {suite!r} is not one of {list(SUITES)}")
    results_dir = cfg.get("results_dir", "results")
    specs = mini_suite(results_dir) if suite == "mini" else load_registry(registry_path(cfg))
    wanted = ev.get("benchmarks")
    if wanted:
        unknown = [b for b in wanted if b not in specs]
        if unknown:
            raise RegistryError(
                f"config key 'eval.benchmarks': unknown benchmark(s) {unknown} for suite {suite!r}; "
                f"known: {list(specs)}"
            )
        specs = {b: specs[b] for b in wanted}
    for name, path in (ev.get("local_data") or {}).items():
        if name not in specs:
            raise RegistryError(f"config key 'eval.local_data.{name}': not a benchmark of suite {suite!r}")
        specs[name] = specs[name].with_local_path(path)
    return specs


def suite_benchmarks(cfg: Mapping) -> list[str]:
    """Names of the benchmarks evaluated for every (experiment, checkpoint)."""
    return list(suite_specs(cfg))


def get_benchmark(cfg: Mapping, name: str) -> BenchmarkSpec:
    specs = suite_specs(cfg)
    if name not in specs:
        raise RegistryError(
            f"benchmark {name!r} is not in suite {cfg.get('eval', {}).get('suite')!r}; known: {list(specs)}"
        )
    return specs[name]
