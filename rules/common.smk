# Shared by every rules file: config loading and validation, path helpers, resources, targets.
# Logic lives in vero/ (vero.config, vero.workflow); this file only wires it into Snakemake.

import json
import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)

from snakemake.settings.types import DeploymentMethod

from vero.categories import CATEGORIES
from vero.config import ConfigError, deep_merge, load_config, validate_config
from vero.workflow import (
    ABLATION_GROUPS,
    experiments_in_ablation,
    resources_for,
    secret_env_vars,
    write_if_changed,
)

DEFAULT_CONFIGFILE = os.path.join(workflow.basedir, "config", "config.yaml")


def _load_validated_config():
    """--configfile replaces config/config.yaml (no silent merge of paper-scale keys into the demo);
    --config KEY=VALUE overrides apply on top either way."""
    overrides = dict(workflow.config_settings.overwrite_config or {})
    if workflow.overwrite_configfiles:
        return validate_config(
            overrides, source=", ".join(map(str, workflow.overwrite_configfiles))
        )
    return load_config(DEFAULT_CONFIGFILE, overrides=overrides)


try:
    CFG = _load_validated_config()
except ConfigError as err:
    raise WorkflowError(str(err))
config.clear()
config.update(CFG)

RESULTS = CFG["results_dir"].rstrip("/")
EXPERIMENTS = list(CFG["experiments"])
# Jobs run the interpreter Snakemake runs in (the project's env), or the rule's conda env's python
# under `--sdm conda`.
PY = (
    "python"
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
    else shlex.quote(sys.executable)
)
CONFIG_JSON = f"{RESULTS}/resolved_config.json"
CONFIG_ARGS = f"--config-json {CONFIG_JSON}"
write_if_changed(CONFIG_JSON, json.dumps(CFG, indent=2, sort_keys=True) + "\n")

# Secrets reach jobs only through the environment: the names come from the config, the values
# never enter params, config files or command lines. Only variables that are set are declared,
# so a demo without keys still runs.
SECRET_ENV_VARS = secret_env_vars(CFG)


envvars:
    *[name for name in SECRET_ENV_VARS if name in os.environ],


wildcard_constraints:
    category="|".join(CATEGORIES),
    experiment="[A-Za-z][A-Za-z0-9_]*",
    checkpoint=r"final|checkpoint-\d+",


def res(path):
    return f"{RESULTS}/{path}"


def logf(name):
    return f"{RESULTS}/logs/{name}.log"


def benchf(name):
    return f"{RESULTS}/benchmarks/{name}.tsv"


def rule_resources(rule_name):
    """Resources of one rule: config `resources.default` ← `resources.<rule_name>`."""
    return resources_for(CFG, rule_name)


# ---- paths shared across stages (docs/architecture.md) --------------------------------------


def final_model(experiment):
    return res(f"runs/{experiment}/final")


def eval_summary(experiment, checkpoint="final"):
    return res(f"eval/{experiment}/{checkpoint}/summary.json")


COMPARISON = [res("eval/comparison.md"), res("eval/comparison.csv")]
REPORT = res("report/report.html")


# ---- named targets ---------------------------------------------------------------------------


def train_targets(experiments=None):
    return [final_model(e) for e in (experiments or EXPERIMENTS)]


def eval_targets(experiments=None):
    """Evaluation summaries of the given experiments plus the base model (the reference row)."""
    return [eval_summary("base")] + [
        eval_summary(e) for e in (experiments or EXPERIMENTS)
    ]


def ablation_targets(ablation):
    exps = experiments_in_ablation(CFG, ablation)
    if not exps:
        raise WorkflowError(
            f"target ablation_{ablation}: no experiment in config has ablation: "
            f"{' or '.join(ABLATION_GROUPS[ablation])}"
        )
    return train_targets(exps) + eval_targets(exps)
