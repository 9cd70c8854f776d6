"""Helpers behind rules/common.smk: experiment grouping, per-rule resources, stable writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

# Named targets of the study: ablation name -> the experiment `ablation:` values it covers.
# Every ablation target also needs the main mixed run it is compared against.
ABLATION_GROUPS: dict[str, tuple[str, ...]] = {
    "transfer": ("transfer", "main"),
    "reward": ("reward", "main"),
    "algorithm": ("algorithm", "main"),
    "sft": ("sft", "main"),
}

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
