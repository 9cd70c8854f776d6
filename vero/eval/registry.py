"""The benchmark registry: config/veroeval.yaml (30 VeroEval benchmarks) and the VeroMini suite.

`load_registry` validates the YAML file and returns `BenchmarkSpec`s; errors name the file and the
key (`config/veroeval.yaml: benchmarks.chartqa.scorer: ...`). An entry has data keys (source,
expand, fields, prompt, version; read by vero.eval.samples and vero.eval.prompting) and scoring
keys (scorer, reward_type, mc_when_options, metric; read by vero.eval.scoring). docs/evaluation.md
describes every key. The mini suite is not in the file: it is one benchmark per category,
`mini_<category>`, reading the held-out VeroMini split (`data/heldout/<category>.parquet`,
canonical records whose `reward_type` decides the scoring).
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
    "json",
)
SOURCE_KINDS = ("hub", "local", "canonical")
LAYOUTS = ("rows", "annotations")
EVIDENCE = ("release_code", "dataset_card", "repo_files")
IMAGE_ORDERS = ("sorted_unique", "occurrence")
IMAGE_COMBINES = ("labelled_strip",)
MINI_PREFIX = "mini_"
SUITES = ("veroeval", "mini")


class RegistryError(ValueError):
    """An invalid registry entry; the message names the file and the key path."""


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark: where its rows come from, how they become samples and prompts, how outputs
    are scored."""

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
    layout: str = "rows"
    local_path: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    expand: Mapping[str, Any] | None = None
    prompt: Mapping[str, Any] = field(default_factory=lambda: {"builder": "plain"})
    version: int = 1
    release_task: str | None = None
    evidence: tuple[str, ...] = ()
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

    @property
    def layout_verified(self) -> bool:
        """Whether the field layout was checked against the dataset card, not only the release."""
        return "dataset_card" in self.evidence

    def with_local_path(self, path: str | Path) -> BenchmarkSpec:
        """The same benchmark read from a local file (or directory) in its published layout."""
        kind = "canonical" if self.is_mini else "local"
        return replace(self, source_kind=kind, local_path=str(path))

    def data_fingerprint(self) -> dict:
        """What the samples of this benchmark depend on besides the rows: part of cache keys."""
        return {
            "key": self.key,
            "version": self.version,
            "source": [self.source_kind, self.local_path, self.hub_parts, self.split, self.layout],
            "fields": dict(self.fields),
            "expand": dict(self.expand or {}),
            "prompt": dict(self.prompt),
        }


def _err(source: str, key: str, msg: str) -> RegistryError:
    return RegistryError(f"{source}: {key}: {msg}")


ENTRY_KEYS = frozenset(
    {
        "name",
        "category",
        "source",
        "fields",
        "expand",
        "prompt",
        "version",
        "release_task",
        "evidence",
        "scorer",
        "metric",
        "reward_type",
        "mc_when_options",
        "question_template",
        "note",
    }
)
SOURCE_KEYS = frozenset({"hub_id", "config", "configs", "split", "layout"})
FIELD_KEYS = frozenset(
    {
        "id",
        "images",
        "images_by_reference",
        "image_fetch",
        "image_combine",
        "image_size",
        "max_images",
        "question",
        "options",
        "answer",
        "answer_format",
        "kwargs",
        "extra",
    }
)


def _check_keys(value: Mapping, allowed: frozenset, source: str, where: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:  # a typo would otherwise silently fall back to a default
        raise _err(source, f"{where}.{unknown[0]}", f"unknown key; allowed: {sorted(allowed)}")


def _parse_scoring(entry: Mapping, source: str, where: str) -> tuple[str, str | None]:
    from vero.rewards.types import REWARD_TYPES

    scorer = entry["scorer"]
    if scorer not in SCORERS:
        raise _err(source, f"{where}.scorer", f"unknown scorer {scorer!r}; expected one of {list(SCORERS)}")
    reward_type = entry.get("reward_type")
    if scorer == "reward":
        if not reward_type:
            raise _err(source, f"{where}.reward_type", "required when scorer is 'reward'")
        if reward_type not in REWARD_TYPES:
            raise _err(
                source,
                f"{where}.reward_type",
                f"unknown reward_type {reward_type!r}; expected one of {list(REWARD_TYPES)}",
            )
    elif reward_type is not None:
        raise _err(source, f"{where}.reward_type", f"only used with scorer 'reward', not {scorer!r}")
    return scorer, reward_type


def _parse_source(src: Any, source: str, where: str) -> dict:
    if not isinstance(src, Mapping):
        raise _err(source, where, "expected a mapping with hub_id, config(s), split")
    _check_keys(src, SOURCE_KEYS, source, where)
    hub_id = src.get("hub_id")
    hub_ids: tuple[str, ...] = ()
    if isinstance(hub_id, list) and hub_id and all(isinstance(h, str) and h for h in hub_id):
        hub_ids, hub_id = tuple(hub_id), hub_id[0]
    if not hub_id or not isinstance(hub_id, str):
        raise _err(source, f"{where}.hub_id", "missing, or not a dataset id or a list of them")
    if "configs" in src:
        configs = src["configs"]
        if not isinstance(configs, list) or not configs or not all(isinstance(c, str) for c in configs):
            raise _err(source, f"{where}.configs", "expected a non-empty list of config names")
        hub_configs = tuple(configs)
    else:
        hub_configs = (src.get("config"),)
    if not src.get("split"):
        raise _err(source, f"{where}.split", "missing")
    layout = src.get("layout", "rows")
    if layout not in LAYOUTS:
        raise _err(source, f"{where}.layout", f"unknown layout {layout!r}; expected one of {list(LAYOUTS)}")
    return {
        "hub_id": hub_id,
        "hub_ids": hub_ids,
        "hub_configs": hub_configs,
        "split": str(src["split"]),
        "layout": layout,
    }


def _check_images(fields: Mapping, source: str, where: str) -> None:
    images, by_ref = fields.get("images"), fields.get("images_by_reference")
    if (images is None) == (by_ref is None):
        raise _err(source, f"{where}.images", "give exactly one of images and images_by_reference")
    if images is not None and (
        not isinstance(images, list) or not images or not all(isinstance(f, str) for f in images)
    ):
        raise _err(source, f"{where}.images", "expected a non-empty list of field names")
    if by_ref is not None:
        ok = isinstance(by_ref, Mapping) and {"pattern", "field"} <= set(by_ref)
        if (
            not ok
            or "{}" not in str(by_ref["field"])
            or by_ref.get("order", "occurrence") not in IMAGE_ORDERS
        ):
            raise _err(
                source,
                f"{where}.images_by_reference",
                f"expected {{pattern, field ('image_{{}}'), search, order: {'|'.join(IMAGE_ORDERS)}}}",
            )
    fetch = fields.get("image_fetch")
    if fetch is not None and (not isinstance(fetch, Mapping) or "{}" not in str(fetch.get("path", ""))):
        raise _err(source, f"{where}.image_fetch", "expected {path: '<dir>/{}', strip_prefixes: [...]}")
    if fields.get("image_combine") not in (None, *IMAGE_COMBINES):
        raise _err(source, f"{where}.image_combine", f"expected one of {list(IMAGE_COMBINES)}")
    size = fields.get("image_size")
    if size is not None and not (isinstance(size, list) and len(size) == 2):
        raise _err(source, f"{where}.image_size", "expected [width_field, height_field]")


def _parse_fields(fields: Any, scorer: str, reward_type: str | None, source: str, where: str) -> dict:
    if not isinstance(fields, Mapping):
        raise _err(source, where, "expected a mapping")
    _check_keys(fields, FIELD_KEYS, source, where)
    _check_images(fields, source, where)
    if not fields.get("answer"):
        raise _err(source, f"{where}.answer", "missing")
    fmt = fields.get("answer_format", "text")
    if fmt not in ANSWER_FORMATS:
        raise _err(
            source, f"{where}.answer_format", f"unknown {fmt!r}; expected one of {list(ANSWER_FORMATS)}"
        )
    if fmt in ("option_text", "option_index") and not fields.get("options"):
        raise _err(source, f"{where}.options", f"required with answer_format {fmt!r}")
    if fmt == "ifeval" and reward_type != "instruction_following":
        raise _err(source, f"{where}.answer_format", "'ifeval' needs reward_type 'instruction_following'")
    if scorer in ("iou_accuracy", "point_in_box") and not fmt.startswith("bbox"):
        raise _err(source, f"{where}.answer_format", f"scorer {scorer!r} needs a bbox_* answer_format")
    extra = fields.get("extra", [])
    if not isinstance(extra, list) or not all(isinstance(e, str) for e in extra):
        raise _err(source, f"{where}.extra", "expected a list of row field names")
    return dict(fields, answer_format=fmt, extra=list(extra))


def _parse_prompt(entry: Mapping, fields: Mapping, source: str, where: str) -> dict:
    from vero.eval.prompting import PromptSpecError, check_prompt_spec

    template = entry.get("question_template")
    prompt = entry.get("prompt")
    if prompt is None:  # the legacy form: an optional question_template around the question
        prompt = {"builder": "plain", "strip": False, **({"template": template} if template else {})}
    if not isinstance(prompt, Mapping):
        raise _err(source, f"{where}.prompt", "expected a mapping with a builder")
    try:
        check_prompt_spec(prompt, has_question=bool(fields.get("question")))
    except PromptSpecError as e:
        raise _err(source, f"{where}.prompt{e.key}", str(e)) from e
    return dict(prompt)


def _parse_expand(value: Any, source: str, where: str) -> dict | None:
    if value is None:
        return None
    from vero.eval.expand import EXPANSIONS

    if not isinstance(value, Mapping) or value.get("kind") not in EXPANSIONS:
        raise _err(source, where, f"expected {{kind: {'|'.join(EXPANSIONS)}, ...}}")
    return dict(value)


def _parse_entry(key: str, entry: Any, source: str) -> BenchmarkSpec:
    where = f"benchmarks.{key}"
    if not isinstance(entry, Mapping):
        raise _err(source, where, f"expected a mapping, got {type(entry).__name__}")
    _check_keys(entry, ENTRY_KEYS, source, where)
    for req in ("name", "category", "source", "fields", "scorer", "metric"):
        if req not in entry:
            raise _err(source, f"{where}.{req}", "missing")
    if entry["category"] not in CATEGORIES:
        raise _err(
            source,
            f"{where}.category",
            f"unknown category {entry['category']!r}; expected one of {list(CATEGORIES)}",
        )
    scorer, reward_type = _parse_scoring(entry, source, where)
    src = _parse_source(entry["source"], source, f"{where}.source")
    fields = _parse_fields(entry["fields"], scorer, reward_type, source, f"{where}.fields")
    version = entry.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _err(source, f"{where}.version", f"expected an integer >= 1, got {version!r}")
    evidence = entry.get("evidence", [])
    if not isinstance(evidence, list) or any(e not in EVIDENCE for e in evidence):
        raise _err(source, f"{where}.evidence", f"expected a list of {list(EVIDENCE)}")
    return BenchmarkSpec(
        key=key,
        name=str(entry["name"]),
        category=entry["category"],
        scorer=scorer,
        metric=str(entry["metric"]),
        source_kind="hub",
        fields=fields,
        expand=_parse_expand(entry.get("expand"), source, f"{where}.expand"),
        prompt=_parse_prompt(entry, fields, source, where),
        version=version,
        release_task=entry.get("release_task"),
        evidence=tuple(evidence),
        reward_type=reward_type,
        mc_when_options=bool(entry.get("mc_when_options", False)),
        question_template=entry.get("question_template"),
        **src,
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
        prompt={"builder": "plain", "strip": False},
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
