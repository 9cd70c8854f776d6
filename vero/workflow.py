"""Helpers behind rules/common.smk: the settings each job reads, experiment grouping, per-rule
resources, stable writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# Named targets of the study: ablation name -> the experiment `ablation:` values it covers.
# Every ablation target also needs the main mixed run it is compared against.
ABLATION_GROUPS: dict[str, tuple[str, ...]] = {
    "transfer": ("transfer", "main"),
    "reward": ("reward", "main"),
    "algorithm": ("algorithm", "main"),
    "sft": ("sft", "main"),
}

# The config keys each rule's job reads: patterns of vero.settings.cut_settings over the resolved
# view of the config (experiments.<name>.{train,model,reward,mix} are the experiment's resolved
# sections). A plain path declares a key and everything under it, `-path` cuts it again, `~path`
# hides it (the job reads it as absent); `{experiment}`, `{category}`, `{benchmark}`,
# `{checkpoint}` are the job's wildcards, `*` every key of a level. `results_dir` is always
# declared; `wandb` is always readable and never reruns a job (vero.settings.UNTRACKED).
#
# A job reads its settings only (reading another key raises vero.settings.UndeclaredSetting), and
# its rule reruns exactly when one of them changes: the rule's `settings` param is the path of a
# file named by their content (README "Reruns").
JOB_SETTINGS: dict[str, tuple[str, ...]] = {
    "data_raw": ("data.source", "data.synthetic", "-data.synthetic.heldout_per_category"),
    "data_heldout": (
        "data.synthetic.heldout_per_category",
        "data.synthetic.seed",
        "data.synthetic.difficulty",
    ),
    "data_filter": ("data.filter", "-data.filter.max_drop_fraction"),
    # the report also checks that every category some experiment trains on kept rows
    "data_filter_report": ("data.filter.max_drop_fraction", "experiments.*.categories"),
    # the mix checks the training prompt it will be used with (vero.prompts.training_system_prompt)
    "data_mix": (
        "seed",
        "experiments.{experiment}.categories",
        "experiments.{experiment}.mix",
        "data.prompt",
        "train.system_prompt",
    ),
    "build_tiny_model": ("model.family", "model.tiny", "-model.tiny.warm_start"),
    # the demo's warm start (vero.models.warm_start): its pretrain split, then SFT of the tiny model
    "data_pretrain": ("model.tiny.warm_start", "data.synthetic.difficulty"),
    "warm_start": (
        "model.base",
        "model.family",
        "model.dtype",
        "model.tiny.warm_start",
        "data.prompt",
        "train.system_prompt",
    ),
    # everything of the experiment, resolved: a default it overrides does not rerun it
    "train_experiment": (
        "seed",
        "experiments.{experiment}",
        "-experiments.{experiment}.description",
        "data.prompt",
    ),
    "eval_benchmark": (
        "seed",
        "model",
        "reward",
        "train.system_prompt",
        "eval",
        "-eval.sweep_every_k",
        "-eval.paper_model",
        "~eval.benchmarks",  # the suite's selection is planning; this job evaluates {benchmark}
        "-eval.local_data.*",
        "eval.local_data.{benchmark}",
        "experiments.{experiment}.ablation",
    ),
    # eval.jobs per_checkpoint: one job evaluates the whole suite on one model
    "eval_checkpoint": (
        "seed",
        "model",
        "reward",
        "train.system_prompt",
        "eval",
        "-eval.sweep_every_k",
        "-eval.paper_model",
        "experiments.{experiment}.ablation",
    ),
    "eval_summary": (
        "eval",
        "-eval.sweep_every_k",
        "-eval.paper_model",
        "~eval.benchmarks",
        "-eval.local_data.*",
        "model",
        "experiments.{experiment}.ablation",
    ),
    "eval_comparison": (
        "eval.suite",
        "eval.registry",
        "eval.paper_model",
        "experiments.*.ablation",
        "experiments.*.train.algorithm",
        "experiments.*.train.reward",
        "experiments.*.train.trainer",
    ),
    "eval_sweep": (
        "eval",
        "-eval.paper_model",
        "~eval.benchmarks",
        "-eval.local_data.*",
        "experiments.{experiment}.ablation",
        "experiments.{experiment}.train.max_steps",
        "experiments.{experiment}.train.save_steps",
        "experiments.{experiment}.train.batch_size",
        "experiments.{experiment}.train.mini_batch_size",
    ),
    # the reproduce_paper target (rules/reproduce.smk): a released model instead of an experiment
    "reproduce_benchmark": (
        "seed",
        "model",
        "reward",
        "train.system_prompt",
        "eval",
        "-eval.sweep_every_k",
        "-eval.paper_model",
        "~eval.benchmarks",
        "-eval.local_data.*",
        "eval.local_data.{benchmark}",
        "-eval.reproduce.models.*",
        "eval.reproduce.models.{rmodel}",
    ),
    "reproduce_summary": (
        "eval",
        "-eval.sweep_every_k",
        "-eval.paper_model",
        "~eval.benchmarks",
        "-eval.local_data.*",
        "-eval.reproduce.models.*",
        "eval.reproduce.models.{rmodel}",
    ),
    "reproduce_table": ("eval", "-eval.sweep_every_k"),
    "analysis_reasoning_length": (
        "seed",
        "analysis.reasoning_length",
        "-analysis.reasoning_length.experiments",
        "experiments.*.ablation",
        "experiments.*.categories",
    ),
    "analysis_skills": ("seed", "analysis.skills", "-analysis.skills.experiments"),
    "analysis_probe": ("seed", "analysis.probe", "analysis.embeddings"),
    "analysis_umap": ("seed", "analysis.umap", "analysis.embeddings"),
    "analysis_transfer": ("analysis.transfer", "experiments.*.ablation", "experiments.*.categories"),
    "analysis_dynamics": (
        "analysis.dynamics",
        "experiments.*.ablation",
        "experiments.*.train.trainer",
        "experiments.*.train.algorithm",
    ),
    "analysis_summary": (
        "analysis",
        "experiments.*.ablation",
        "experiments.*.categories",
        "experiments.*.description",
    ),
    # the demo's figures (vero.report.demo_figures) read the runs' categories and reward
    "build_report": (
        "model.base",
        "model.family",
        "experiments.*.ablation",
        "experiments.*.categories",
        "experiments.*.train.reward",
    ),
}
JOB_SETTINGS["analysis_dynamics_algorithm"] = JOB_SETTINGS["analysis_dynamics"]


def parse_named_args(values: Sequence[str] | None, flag: str, *, many: bool = False) -> dict:
    """The inverse of `named_args`: `["NAME=PATH", ...]` from a script's command line → {name: path}
    (a name given twice is an error), or with `many` {name: [paths]} in order. Raises ValueError
    naming `flag` for a malformed pair.

    >>> parse_named_args(["base=a.json", "mixed=b=c.json"], "--summary")
    {'base': 'a.json', 'mixed': 'b=c.json'}
    >>> parse_named_args(["a=1", "a=2"], "--trace", many=True)
    {'a': ['1', '2']}
    """
    out: dict = {}
    for v in values or []:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"{flag} expects NAME=PATH, got {v!r}")
        if many:
            out.setdefault(name, []).append(path)
        elif name in out:
            raise ValueError(f"{flag}: {name!r} given twice")
        else:
            out[name] = path
    return out


def named_args(flag: str, named: Mapping[str, Any]) -> str:
    """`FLAG NAME=PATH` for every (name, path) of `named`, space-separated, for a rule's shell; a
    value that is a list gives one per path (the analysis rules' traces).

    >>> named_args("--summary", {"base": "b.json", "mixed": ["m1.json", "m2.json"]})
    '--summary base=b.json --summary mixed=m1.json --summary mixed=m2.json'
    """
    pairs = ((name, p) for name, v in named.items() for p in ([v] if isinstance(v, str | Path) else v))
    return " ".join(f"{flag} {name}={path}" for name, path in pairs)


def job_settings_patterns(rule_name: str) -> tuple[str, ...]:
    """The settings patterns of a rule; a rule without an entry is a clear error at parse."""
    if rule_name not in JOB_SETTINGS:
        raise KeyError(
            f"rule {rule_name} declares no settings: add JOB_SETTINGS[{rule_name!r}] in vero/workflow.py "
            "(the config keys its job reads)"
        )
    return JOB_SETTINGS[rule_name]


# Resource keys a rule may take from config `resources:` (Snakemake / SLURM executor names).
RESOURCE_KEYS = (
    "runtime",
    "mem_mb",
    "cpus_per_task",
    "gpu",
    "gpu_model",
    "nodes",
    "tasks",
    "tasks_per_node",
    "tasks_per_gpu",
    "mpi",
    "slurm_partition",
    "slurm_account",
    "constraint",
    "slurm_extra",
    "qos",
)


def experiments_in_ablation(config: Mapping, ablation: str) -> list[str]:
    """Experiments a named ablation target trains and evaluates, in config order."""
    if ablation not in ABLATION_GROUPS:
        raise KeyError(f"unknown ablation {ablation!r}; known: {sorted(ABLATION_GROUPS)}")
    groups = ABLATION_GROUPS[ablation]
    return [name for name, exp in config["experiments"].items() if exp.get("ablation", "main") in groups]


def resources_for(config: Mapping, rule_name: str) -> dict:
    """`resources.default` overlaid with `resources.<rule_name>`; unknown keys are a config error."""
    section = config.get("resources") or {}
    merged = {**(section.get("default") or {}), **(section.get(rule_name) or {})}
    unknown = sorted(set(merged) - set(RESOURCE_KEYS))
    if unknown:
        from vero.config import ConfigError

        raise ConfigError(
            f"config key 'resources.{rule_name}': unknown resource(s) {unknown}; "
            f"allowed: {list(RESOURCE_KEYS)}"
        )
    return {k: v for k, v in merged.items() if v is not None}


def write_if_changed(path: str | os.PathLike, text: str) -> bool:
    """Write atomically, and only when the content differs (keeps mtimes stable for Snakemake)."""
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return True


def secret_env_vars(config: Mapping) -> list[str]:
    """Names of the environment variables that carry secrets for jobs (W&B key, endpoint keys).

    Every `api_key_env` anywhere in the config names one; WANDB_API_KEY is always one.
    """
    names = {"WANDB_API_KEY"}

    def walk(node):
        if isinstance(node, Mapping):
            for k, v in node.items():
                if k == "api_key_env" and isinstance(v, str) and v:
                    names.add(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(config)
    return sorted(names)


def put_interpreter_first_on_path(executable: str) -> None:
    """Put the directory of `executable` first on PATH, so job shells find its `python`."""
    env_bin = os.path.dirname(executable)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != env_bin:
        os.environ["PATH"] = env_bin + os.pathsep + path
