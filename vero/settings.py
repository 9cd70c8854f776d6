"""A job's settings: the part of the validated config one job reads, and nothing else.

Each rule declares the config keys its job reads (`vero.workflow.JOB_SETTINGS`). When the
workflow plans a job, `job_settings_file` cuts those keys out of the validated config and writes
them to an immutable file named by its content, `<results_dir>/settings/<rule>/<sha>.json`; the
path is the rule's `settings` param. So:

- Snakemake's params rerun trigger fires exactly when a setting the job reads changes: the path
  changes with the content, and with nothing else (README "Reruns").
- An invocation never changes what another one reads: files are written once and never
  rewritten, each invocation's jobs read the files it planned, and a dry run or a run refused by
  the lock only adds files nobody else names.
- The job reads the file with `load_job_settings`, which returns a `JobSettings` view: reading a
  key the rule did not declare raises `UndeclaredSetting` (so a job cannot depend on a setting
  that does not rerun it), and every key read is recorded (the paper-config smoke test reports
  which keys the run read; `VERO_SETTINGS_TRACE`).

Settings are cut from the *resolved view* of the config (`resolved_view`): each
`experiments.<name>.{train,model,reward,mix}` holds the experiment's fully resolved section
(defaults ← overrides), so a job of one experiment depends on that experiment's resolved values
only: changing a default that the experiment overrides does not rerun it.

W&B settings (`wandb`) are the one part a job reads that never reruns it: they travel in a
separate content-named file, `<results_dir>/settings/run/<sha>.json`, named by the environment
variable `VERO_RUN_SETTINGS` that the Snakefile sets for its jobs.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vero.config import OVERRIDABLE, ConfigError, deep_merge, dump_json, experiment_categories, key_path

META = "__job__"
RUN_SETTINGS_ENV = "VERO_RUN_SETTINGS"
CONFIG_SNAPSHOT_ENV = "VERO_CONFIG_SNAPSHOT"
TRACE_ENV = "VERO_SETTINGS_TRACE"
# read by jobs, never a reason to rerun one
UNTRACKED = ("wandb",)


class UndeclaredSetting(RuntimeError):
    """A job read a config key its rule does not declare in vero.workflow.JOB_SETTINGS."""


class JobSettings(dict):
    """A sub-tree of the config: a dict whose cut keys raise on reading and whose reads are traced.

    `cut` maps a key of this level to True (not declared: reading it raises) or to the cut tree
    of a partly declared child. Iteration shows only the declared keys (a cut key is not stored).
    A copy (`dict(view)`, `{**view}`) reads every key of the level; the copy itself is a plain
    dict, in which a cut key reads as absent.
    """

    def __init__(
        self,
        data: Mapping = (),
        *,
        cut: Mapping | None = None,
        path: tuple = (),
        rule: str = "?",
        trace: dict | None = None,
        resolved: bool = False,
        leaf_paths: Mapping | None = None,
    ):
        super().__init__()
        cut = cut or {}
        self._cut = {k for k, v in cut.items() if v is True}
        self._path = tuple(path)
        self._rule = rule
        self._trace = trace if trace is not None else {"read": set(), "copied": set(), "undeclared": set()}
        self._resolved = resolved
        self._leaf_paths = dict(leaf_paths or {})
        for k, v in dict(data).items():
            if isinstance(v, Mapping) and not isinstance(v, JobSettings):
                v = JobSettings(v, cut=cut.get(k) or {}, path=(*self._path, k), rule=rule, trace=self._trace)
            dict.__setitem__(self, k, v)

    # -- the guard and the trace ------------------------------------------------------------

    def _undeclared(self, key) -> UndeclaredSetting:
        where = key_path((*self._path, key))
        self._trace["undeclared"].add(where)
        return UndeclaredSetting(
            f"rule {self._rule} read config key '{where}', which is not among the settings it declares "
            "(vero/workflow.py JOB_SETTINGS); declare it there so that changing it reruns the job"
        )

    def _is_cut(self, key) -> bool:
        return key in self._cut

    def _read(self, key, value, how: str = "read"):
        if not isinstance(value, JobSettings):
            self._trace[how].add(self._leaf_paths.get(key) or key_path((*self._path, key)))
        return value

    def __getitem__(self, key):
        if self._is_cut(key):
            raise self._undeclared(key)
        return self._read(key, dict.__getitem__(self, key))

    def get(self, key, default=None):
        if self._is_cut(key):
            raise self._undeclared(key)
        return self[key] if dict.__contains__(self, key) else default

    def __contains__(self, key) -> bool:
        if self._is_cut(key):
            raise self._undeclared(key)
        return dict.__contains__(self, key)

    def __iter__(self):  # overriding it sends dict(view) and {**view} through __getitem__ (traced)
        return iter(list(dict.keys(self)))

    def keys(self):
        return list(dict.keys(self))

    def items(self):
        how = _how_read(sys._getframe(1))
        return [(k, self._read(k, dict.__getitem__(self, k), how)) for k in dict.keys(self)]

    def values(self):
        how = _how_read(sys._getframe(1))
        return [self._read(k, dict.__getitem__(self, k), how) for k in dict.keys(self)]

    def copy(self) -> dict:
        return dict(self.items())

    def __deepcopy__(self, memo) -> dict:
        return {k: copy.deepcopy(self._read(k, v, "copied"), memo) for k, v in dict.items(self)}

    def __reduce__(self):  # pickling (process pools) sends the declared content as a plain dict
        return (dict, (self.__deepcopy__({}),))

    def __repr__(self) -> str:
        return f"JobSettings({dict.__repr__(self)}, rule={self._rule!r})"

    # -- experiments -------------------------------------------------------------------------

    def resolve_experiment(self, name: str) -> JobSettings:
        """`vero.config.resolve_experiment` on a job's settings: the experiment's sections are
        already resolved (`resolved_view`); what the rule did not declare stays unreadable."""
        experiments = self["experiments"]
        if not self._resolved:
            return JobSettings(
                _resolve_plain(self, name), path=("<resolved>", name), rule=self._rule, trace=self._trace
            )
        if name not in experiments:
            raise ConfigError(
                f"config key 'experiments.{name}': no such experiment; known: {sorted(experiments)}"
            )
        exp = experiments[name]
        out = JobSettings(path=("experiments", name), rule=self._rule, trace=self._trace)
        out._leaf_paths = {"name": "<experiment name>", "seed": "seed"}
        dict.__setitem__(out, "name", name)
        for key in ("ablation", "categories", *OVERRIDABLE):
            if exp._is_cut(key):
                out._cut.add(key)
            elif key == "categories":
                dict.__setitem__(out, key, experiment_categories(exp))
            elif key == "ablation":
                dict.__setitem__(out, key, exp.get("ablation", "main"))
            else:
                dict.__setitem__(out, key, dict.__getitem__(exp, key))
        for key in ("wandb", "seed"):
            if self._is_cut(key):
                out._cut.add(key)
            elif dict.__contains__(self, key):
                dict.__setitem__(out, key, dict.__getitem__(self, key))
        return out


# Reads that only serialize settings (a JSON dump of the run's config, W&B's run config, a deep
# copy, pickling) are traced apart from the reads of the job's own code ("copied" vs "read").
_RECORDING_MODULES = ("json.encoder", "copy", "copyreg", "pickle")


def _how_read(frame) -> str:
    module = frame.f_globals.get("__name__", "") if frame is not None else ""
    return "copied" if module in _RECORDING_MODULES or module.split(".")[0] == "wandb" else "read"


def _resolve_plain(config: Mapping, name: str) -> dict:
    experiments = config.get("experiments") or {}
    if name not in experiments:
        raise ConfigError(
            f"config key 'experiments.{name}': no such experiment; known: {sorted(experiments)}"
        )
    exp = experiments[name]
    return {
        "name": name,
        "ablation": exp.get("ablation", "main"),
        "categories": experiment_categories(exp),
        **{s: deep_merge(config.get(s, {}), exp.get(s, {})) for s in OVERRIDABLE},
        "wandb": copy.deepcopy(config.get("wandb", {})),
        "seed": config.get("seed", 0),
    }


# ---- cutting settings out of the config ------------------------------------------------------


def resolved_view(cfg: Mapping) -> dict:
    """The validated config with each experiment's train/model/reward/mix fully resolved."""
    view = copy.deepcopy(dict(cfg))
    for name, exp in (view.get("experiments") or {}).items():
        for section in OVERRIDABLE:
            exp[section] = deep_merge(cfg.get(section, {}), (cfg["experiments"][name] or {}).get(section, {}))
    return view


def _expand(tree: Any, pattern: tuple, prefix: tuple = ()) -> Iterable[tuple]:
    """Paths of `tree` matching `pattern` (`*` = any key at that level); absent paths: none."""
    if not pattern:
        yield prefix
        return
    if not isinstance(tree, Mapping):
        return
    head, rest = pattern[0], pattern[1:]
    keys = list(tree) if head == "*" else [head] if head in tree else []
    for k in keys:
        yield from _expand(tree[k], rest, (*prefix, k))


def _get(tree: Mapping, path: tuple) -> Any:
    for k in path:
        tree = tree[k]
    return tree


def _parse(pattern: str, wildcards: Mapping[str, str]) -> tuple:
    out = []
    for seg in pattern.split("."):
        if seg.startswith("{") and seg.endswith("}"):
            name = seg[1:-1]
            if name not in wildcards:
                raise KeyError(f"settings pattern {pattern!r} needs the wildcard {name!r}")
            seg = str(wildcards[name])
        out.append(seg)
    return tuple(out)


def cut_settings(
    view: Mapping, patterns: Iterable[str], wildcards: Mapping[str, str] | None = None
) -> tuple[dict, dict]:
    """The declared part of `view` and its cut tree (see JobSettings).

    `patterns` are dotted key paths into the resolved view, applied in order: `{wildcard}`
    segments are filled from `wildcards`, `*` matches every key of a level; a plain path declares
    the key (and everything under it), `-path` cuts it again (reading it raises), `~path` hides
    it (the job reads it as absent: planning-only keys such as the suite's benchmark list, which
    a job evaluating one named benchmark must not depend on). A declared path that does not exist
    (`experiments.{experiment}.ablation` for the base model) keeps the mappings above it that
    do, as empty views: `cfg.get("experiments")` then reads as a mapping without that experiment.
    """
    wildcards = dict(wildcards or {})
    data: dict = {}
    hidden: list[tuple] = []
    for pattern in patterns:
        op, body = (pattern[0], pattern[1:]) if pattern[:1] in ("-", "~") else ("+", pattern)
        parsed = _parse(body, wildcards)
        paths = list(_expand(view, parsed))
        if op == "+" and not paths:  # absent (experiments.base.*): keep the part that exists, empty
            node, src = data, view
            for seg in parsed:
                if (
                    seg == "*"
                    or not isinstance(src, Mapping)
                    or seg not in src
                    or not isinstance(src[seg], Mapping)
                ):
                    break
                node = node.setdefault(seg, {})
                src = src[seg]
        for path in paths:
            if op == "+":
                node = data
                for k in path[:-1]:
                    node = node.setdefault(k, {})
                node[path[-1]] = copy.deepcopy(_get(view, path))
                continue
            node = data
            for k in path[:-1]:
                node = node.get(k) if isinstance(node, dict) else None
                if node is None:
                    break
            if isinstance(node, dict):
                node.pop(path[-1], None)
            if op == "~":
                hidden.append(path)

    def cut_of(src: Mapping, kept: Mapping) -> dict:
        cut = {}
        for k, v in src.items():
            if k not in kept:
                cut[k] = True
            elif isinstance(v, Mapping) and isinstance(kept[k], Mapping):
                sub = cut_of(v, kept[k])
                if sub:
                    cut[k] = sub
        return cut

    cut = cut_of(view, data)
    for path in hidden:
        node = cut
        for k in path[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                break
        if isinstance(node, dict):
            node.pop(path[-1], None)
    for k in UNTRACKED:
        cut.pop(k, None)
        data.pop(k, None)
    return data, cut


def _write_once(path: Path, text: str) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def content_file(directory: str | Path, obj: Any) -> str:
    """Write `obj` (JSON) once to `directory/<sha256[:16]>.json` and return that path."""
    text = dump_json(obj) + "\n"
    path = Path(directory) / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    _write_once(path, text)
    return str(path)


def job_settings_file(
    view: Mapping,
    rule: str,
    patterns: Iterable[str],
    wildcards: Mapping[str, str] | None = None,
    *,
    settings_dir: str | Path,
) -> str:
    """Cut a job's settings out of the resolved view, write them once, return the file's path."""
    data, cut = cut_settings(view, ["results_dir", *patterns], wildcards)
    data[META] = {"rule": rule, "cut": cut, "resolved_experiments": True}
    return content_file(Path(settings_dir) / rule, data)


def run_settings_file(cfg: Mapping, *, settings_dir: str | Path) -> str:
    """The untracked settings (W&B) of an invocation, written once; its path goes to jobs through
    the environment variable VERO_RUN_SETTINGS."""
    return content_file(Path(settings_dir) / "run", {k: cfg.get(k) for k in UNTRACKED})


# ---- reading them in a job -------------------------------------------------------------------

_TRACES: list[tuple[str, dict]] = []


def _write_traces() -> None:
    out_dir = os.environ.get(TRACE_ENV)
    if not out_dir:
        return
    for rule, trace in _TRACES:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        record = {
            "rule": rule,
            "pid": os.getpid(),
            "read": sorted(trace["read"]),
            "copied": sorted(trace["copied"] - trace["read"]),
            "undeclared": sorted(trace["undeclared"]),
        }
        with (Path(out_dir) / f"{os.getpid()}.jsonl").open("a") as f:
            f.write(json.dumps(record) + "\n")


atexit.register(_write_traces)


def traced(data: Mapping, *, rule: str, cut: Mapping | None = None, resolved: bool = False) -> JobSettings:
    """A JobSettings view over `data` whose reads land in the trace of this process."""
    trace = {"read": set(), "copied": set(), "undeclared": set()}
    _TRACES.append((rule, trace))
    return JobSettings(data, cut=cut or {}, rule=rule, trace=trace, resolved=resolved)


def _default_untracked(results_dir: str) -> dict:
    from vero.config import _DefaultFillingValidator, load_schema

    out: dict = {}
    for k in UNTRACKED:
        value: dict = {}
        for _ in _DefaultFillingValidator(load_schema()["properties"][k]).iter_errors(value):
            pass
        out[k] = value
    out["wandb"]["dir"] = out["wandb"].get("dir") or f"{results_dir.rstrip('/')}/wandb"
    return out


def is_job_settings_file(raw: Mapping) -> bool:
    return isinstance(raw, Mapping) and META in raw


def load_job_settings(path: str | Path) -> JobSettings | dict:
    """What a workflow script runs on: a job's settings file (a JobSettings view), or a whole
    config JSON (validated, as before; for running a script by hand)."""
    from vero.config import validate_config

    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: settings file not found") from e
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the settings: {e}") from e
    if not is_job_settings_file(raw):
        return validate_config(raw, source=str(path))
    meta = raw.pop(META)
    run_path = os.environ.get(RUN_SETTINGS_ENV)
    if run_path:
        try:
            untracked = json.loads(Path(run_path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"{run_path} (${RUN_SETTINGS_ENV}): cannot read the run settings: {e}") from e
    else:
        untracked = _default_untracked(str(raw.get("results_dir", "results")))
    for k in UNTRACKED:
        raw[k] = untracked.get(k)
    return traced(raw, rule=meta["rule"], cut=meta["cut"], resolved=meta.get("resolved_experiments", False))


def load_config_snapshot(path: str | Path) -> dict:
    """The validated config an invocation wrote to `<results_dir>/settings/config/<sha>.json`
    (what a cluster job's own Snakemake plans from), validated again."""
    from vero.config import validate_config

    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path} (${CONFIG_SNAPSHOT_ENV}): cannot read the config snapshot: {e}") from e
    return validate_config(raw, source=str(path))


def config_key_of(view_key: str, config: Mapping) -> str:
    """The key of `config` (as written, before defaults) that a key of the resolved view reads.

    `experiments.X.train.k` (and model/reward/mix) is the experiment's override when it sets
    `k`, else the section default `train.k`; every other key is itself.
    """
    parts = view_key.split(".")
    if len(parts) >= 4 and parts[0] == "experiments" and parts[2] in OVERRIDABLE:
        node = ((config.get("experiments") or {}).get(parts[1]) or {}).get(parts[2]) or {}
        for k in parts[3:]:
            if not isinstance(node, Mapping) or k not in node:
                return ".".join(parts[2:])
            node = node[k]
        return view_key
    return view_key
