# Shared by every rules file: config loading and validation, path helpers, resources, targets.
# Logic lives in vero/ (vero.config, vero.workflow); this file only wires it into Snakemake.

import os
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)

from vero.categories import CATEGORIES
from vero.config import ConfigError, load_workflow_config
from vero.settings import (
    CONFIG_SNAPSHOT_ENV,
    RUN_SETTINGS_ENV,
    content_file,
    load_config_snapshot,
    job_settings_file,
    resolved_view,
    run_settings_file,
    traced,
)
from vero.workflow import (
    experiments_in_ablation,
    job_settings_patterns,
    named_args,
    put_interpreter_first_on_path,
    resources_for,
    secret_env_vars,
)

DEFAULT_CONFIGFILE = os.path.join(workflow.basedir, "config", "config.yaml")


def _load_validated_config():
    """--configfile replaces config/config.yaml (no silent merge of paper-scale keys into the demo);
    --config KEY=VALUE values are coerced to the schema's types and merged on top either way
    (README "Overriding settings")."""
    configfiles = list(workflow.overwrite_configfiles or []) or [DEFAULT_CONFIGFILE]
    return load_workflow_config(
        configfiles, dict(workflow.config_settings.config or {})
    )


# A job submitted to a cluster (SLURM) runs Snakemake again inside the job (`--mode remote`) to
# plan itself. It loads the config snapshot the submitting invocation validated (its path comes
# through the environment, which sbatch exports) instead of the config files, so an edit of
# config/config.yaml while the study runs changes nothing a submitted job reads.
try:
    if workflow.remote_exec and os.environ.get(CONFIG_SNAPSHOT_ENV):
        CFG_RAW = load_config_snapshot(os.environ[CONFIG_SNAPSHOT_ENV])
    else:
        CFG_RAW = _load_validated_config()
except ConfigError as err:
    raise WorkflowError(str(err))
config.clear()
config.update(CFG_RAW)

RESULTS = CFG_RAW["results_dir"].rstrip("/")
# The invocation's whole validated config (rules of this workflow read their own settings, below;
# CONFIG_JSON is for rules added around it that want the whole config).
CONFIG_JSON = os.path.abspath(content_file(f"{RESULTS}/settings/config", CFG_RAW))
os.environ[CONFIG_SNAPSHOT_ENV] = CONFIG_JSON
EXPERIMENTS = list(CFG_RAW["experiments"])
# Jobs run `python` from the environment Snakemake runs in: its bin directory goes first on PATH,
# which local jobs inherit and sbatch passes on (--export=ALL). Under `--sdm conda` the rule's
# activated env comes first instead.
put_interpreter_first_on_path(sys.executable)

# What each job reads (vero.settings): its rule's settings, cut from the resolved view of the
# config and written once to a file named by their content. The rule's `settings` param is that
# path, so the params rerun trigger fires exactly when one of them changes, and no other
# invocation (a dry run, one the lock refuses, another results_dir) can change what a planned job
# reads. W&B settings travel apart (VERO_RUN_SETTINGS) and never rerun a job.
SETTINGS_DIR = f"{RESULTS}/settings"
CFG_VIEW = resolved_view(CFG_RAW)
os.environ[RUN_SETTINGS_ENV] = os.path.abspath(
    run_settings_file(CFG_RAW, settings_dir=SETTINGS_DIR)
)
# The planning reads of this file go through a traced view (the smoke test reports them).
CFG = traced(CFG_VIEW, rule="<planning>", resolved=True)
_SETTINGS_FILES = {}


def job_settings(rule_name):
    """The `settings` param of a rule: a function of the job's wildcards giving its file."""
    patterns = job_settings_patterns(rule_name)

    def settings_file(wildcards):
        wc = dict(wildcards.items())
        key = (rule_name, tuple(sorted(wc.items())))
        if key not in _SETTINGS_FILES:
            _SETTINGS_FILES[key] = job_settings_file(
                CFG_VIEW, rule_name, patterns, wc, settings_dir=SETTINGS_DIR
            )
        return _SETTINGS_FILES[key]

    return settings_file


# Secrets reach jobs only through the environment: the names come from the config, the values
# never enter params, config files or command lines. Only variables that are set are declared,
# so a demo without keys still runs.
SECRET_ENV_VARS = secret_env_vars(CFG_RAW)


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


def ablation_targets(ablation, *extra):
    """Input function of target ablation_<name>: its experiments' final models and evaluations
    (+ `extra` files). Evaluated only when the target is asked for: a config without such
    experiments plans every other target, and asking for this one says why it cannot build.
    """

    def targets(wildcards):
        exps = experiments_in_ablation(CFG, ablation)
        if not any(
            CFG["experiments"][e].get("ablation", "main") == ablation for e in exps
        ):
            raise WorkflowError(
                f"target ablation_{ablation}: no experiment in the config has ablation: {ablation} "
                f"(experiments: {EXPERIMENTS}); add one under `experiments:` to build this target"
            )
        return train_targets(exps) + eval_targets(exps) + list(extra)

    return targets


# ---- data stage: paths and input functions of rules/data.smk ------------------------------------

from vero.config import resolve_experiment
from vero.models.families import (
    base_model_inputs,
    tiny_model_dir,
    warm_model_dir,
)

DATA = {
    "raw": res("data/raw/{category}.parquet"),
    "ingest_report": res("data/raw/ingest_report.json"),
    "heldout": res("data/heldout/{category}.parquet"),
    "filtered": res("data/filtered/{category}.parquet"),
    "filter_category_report": res("data/filtered/{category}.report.json"),
    "filter_report_json": res("data/filter_report.json"),
    "filter_report_md": res("data/filter_report.md"),
    "mix": res("data/mix/{experiment}.parquet"),
    "pretrain": res("data/pretrain/veromini.parquet"),
}
TINY_MODEL = tiny_model_dir(RESULTS, CFG["model"]["family"])
WARM_MODEL = warm_model_dir(RESULTS, CFG["model"]["family"])
# The model directory the workflow builds for every experiment to start from (model.base
# "tiny": the tiny model, or its warm start); nothing for a hub id or a local path.
BUILT_BASE_MODEL = base_model_inputs(CFG, RESULTS)


def heldout_files():
    return expand(DATA["heldout"], category=CATEGORIES)


def validation_input(wildcards):
    """The held-out split an RL experiment validates on during training (train.validation)."""
    train = resolve_experiment(CFG, wildcards.experiment)["train"]
    on = train["trainer"] == "rl" and train["validation"]["every_steps"] is not None
    return heldout_files() if on else []


def mix_file(experiment):
    return DATA["mix"].format(experiment=experiment)


def mix_inputs(wildcards):
    """The filtered files an experiment's mix draws from (its categories only)."""
    cats = resolve_experiment(CFG, wildcards.experiment)["categories"]
    return expand(DATA["filtered"], category=cats)


def source_files():
    """Files read by data_raw: kind `files` its paths; kind `hub` with a local directory every
    file of that directory (so editing the local dataset reruns ingestion); nothing for a hub id
    or VeroMini (a hub dataset is pinned by its revision, VeroMini by data.synthetic).
    """
    source = CFG["data"]["source"]
    if source["kind"] == "files":
        return list(source["paths"])
    if source["kind"] == "hub" and os.path.isdir(source["hub_id"]):
        root = Path(source["hub_id"])
        return sorted(
            str(p)
            for p in root.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
    return []


def data_targets():
    """Everything before training: filtered data and reports, every experiment's mix, the
    held-out mini suite, and the tiny model when `model.base` is "tiny" (the `data` target).
    """
    targets = (
        expand(DATA["filtered"], category=CATEGORIES)
        + [DATA["filter_report_json"], DATA["filter_report_md"]]
        + [mix_file(e) for e in EXPERIMENTS]
        + heldout_files()
    )
    return targets + BUILT_BASE_MODEL


# ---- eval stage: paths and input functions of rules/eval.smk ------------------------------------

from vero.eval.evaluate import eval_job_gpus
from vero.eval.registry import (
    get_benchmark,
    paper_reference,
    registry_path,
    suite_benchmarks,
)
from vero.eval.sweep import sweep_checkpoints
from vero.models import tiny_model_dir

EVAL_BENCHMARKS = suite_benchmarks(CFG)
EVAL_RESOURCES = rule_resources("eval_benchmark")
# eval.jobs: the wildcard pattern of the rule that evaluates; the other rule's never matches
_NEVER = "(?!)"
EVAL_JOB_PATTERNS = {
    "per_benchmark": (
        "|".join(EVAL_BENCHMARKS) if CFG["eval"]["jobs"] == "per_benchmark" else _NEVER
    ),
    "per_checkpoint": (
        r"final|checkpoint-\d+" if CFG["eval"]["jobs"] == "per_checkpoint" else _NEVER
    ),
}


def eval_model_input(wildcards):
    """The base model dir when the workflow builds it; a run's final model (training finished)."""
    if wildcards.experiment == "base":
        return BUILT_BASE_MODEL
    return [final_model(wildcards.experiment)]


def eval_gpus(wildcards):
    """The configured GPUs, or more when a judge is served in the job for this benchmark."""
    return eval_job_gpus(CFG, wildcards.benchmark, EVAL_RESOURCES.get("gpu", 0))


def benchmark_data(benchmark):
    """Local benchmark files (the mini suite's held-out split, eval.local_data); hub data: none."""
    spec = get_benchmark(CFG, benchmark)
    return [spec.local_path] if spec.local_path else []


def eval_data_input(wildcards):
    return benchmark_data(wildcards.benchmark)


def eval_suite_data(wildcards):
    """The local files of every benchmark of the suite (rule eval_checkpoint)."""
    return [p for b in EVAL_BENCHMARKS for p in benchmark_data(b)]


def eval_suite_gpus(wildcards):
    """The most GPUs any benchmark of the suite asks for (rule eval_checkpoint)."""
    return max(
        eval_job_gpus(CFG, b, EVAL_RESOURCES.get("gpu", 0)) for b in EVAL_BENCHMARKS
    )


def eval_suite_registry(wildcards):
    """The registry entries of the suite, as a param (the rerun trigger of rule eval_checkpoint)."""
    return repr([get_benchmark(CFG, b) for b in EVAL_BENCHMARKS])


def eval_registry_entry(wildcards):
    """The registry entry an eval_benchmark job evaluates, as a param (the rerun trigger)."""
    return repr(get_benchmark(CFG, wildcards.benchmark))


def eval_paper_reference(wildcards):
    """The paper's reference numbers the comparison table shows, as a param (the rerun trigger)."""
    return repr(paper_reference(registry_path(CFG)))


def eval_benchmark_outputs(wildcards):
    # (`checkpoint` and `benchmark` are Snakemake keywords, so no keyword arguments named so here)
    run_dir = res(f"eval/{wildcards.experiment}/{wildcards['checkpoint']}")
    return [f"{run_dir}/{name}.json" for name in EVAL_BENCHMARKS]


def eval_comparison_summaries(wildcards):
    return {name: eval_summary(name) for name in ["base", *EXPERIMENTS]}


def eval_sweep_summaries(wildcards):
    return {
        c: eval_summary(wildcards.experiment, c)
        for c in sweep_checkpoints(CFG, wildcards.experiment)
    }


# ---- analysis stage: paths and input functions of rules/analysis.smk --------------------------------

from vero.analysis.stages import analysis_experiments
from vero.analysis.dynamics import algorithm_runs
from vero.analysis.transfer import transfer_rows
from vero.eval.registry import suite_benchmarks


def _analysis_list(which):
    """The experiments an analysis list names. A list the user wrote was checked at load; one left
    at its schema default may name an experiment this config lacks (e.g. [mixed]): then the
    analyses reading it cannot build, and say so when they are asked for (not at parse, so the
    other targets still plan)."""
    try:
        return analysis_experiments(CFG, which), None
    except ConfigError as err:
        return (
            [],
            f"{err} (the default of analysis.{which}.experiments; set it in the config)",
        )


ANALYSIS = CFG["analysis"]
ANALYSIS_CKPT = ANALYSIS["checkpoint"]
LENGTH_EXPERIMENTS = analysis_experiments(
    CFG, "reasoning_length"
)  # default "all": never unknown
SKILL_EXPERIMENTS, SKILLS_PROBLEM = _analysis_list("skills")


def skill_files(wildcards):
    """The skill files the probe and the UMAP pool (analysis.skills.experiments)."""
    if SKILLS_PROBLEM:
        raise WorkflowError(f"the skills analyses cannot build: {SKILLS_PROBLEM}")
    return expand(
        res("analysis/skills/{experiment}.jsonl"), experiment=SKILL_EXPERIMENTS
    )


TRANSFER_ROWS = transfer_rows(CFG)
ALGORITHM_RUNS = algorithm_runs(CFG)


def eval_outputs(experiment, checkpoint=ANALYSIS_CKPT):
    """Per-sample eval traces of one experiment: one JSONL per benchmark of the suite.
    The base model has no checkpoints: always its `final` evaluation."""
    ckpt = "final" if experiment == "base" else checkpoint
    return [res(f"eval/{experiment}/{ckpt}/{b}.jsonl") for b in suite_benchmarks(CFG)]


ANALYSIS_OUT = {
    "length_csv": res("analysis/reasoning_length.csv"),
    "length_png": res("analysis/reasoning_length.png"),
    "probe_json": res("analysis/probe.json"),
    "probe_png": res("analysis/probe_confusion.png"),
    "probe_csv": res("analysis/probe_coefficients.csv"),
    "umap_png": res("analysis/umap.png"),
    "umap_html": res("analysis/umap.html"),
    "umap_points": res("analysis/umap_points.csv"),
    "umap_json": res("analysis/umap.json"),
    "transfer_csv": res("analysis/transfer.csv"),
    "transfer_png": res("analysis/transfer.png"),
    "dynamics_overlay": res("analysis/dynamics/algorithm_ablation.png"),
    "dynamics_csv": res("analysis/dynamics/summary.csv"),
    "summary": res("analysis/summary.json"),
}


def analysis_targets():
    """Every output of the analysis stage (the `analysis` target)."""
    return (
        list(ANALYSIS_OUT.values())
        + expand(
            res("analysis/skills/{experiment}.jsonl"), experiment=SKILL_EXPERIMENTS
        )
        + expand(res("analysis/dynamics/{experiment}.png"), experiment=EXPERIMENTS)
    )


# ---- serving environment: input functions of rules/envs.smk ----------------------------------


def _serves_judge(wildcards):
    serve = resolve_experiment(CFG, wildcards.experiment)["reward"]["judge"]
    return bool(serve.get("enabled")) and bool(
        (serve.get("serve") or {}).get("enabled")
    )


def vllm_server_env_input(stage):
    """Input function: the recorded serving python when the stage's job starts a vLLM server."""

    def needs(wildcards):
        if stage == "train":
            serving = _serves_judge(wildcards)
        elif stage == "eval":
            serving = CFG["eval"].get("backend") == "vllm_server"
        else:  # analysis skills
            skills = CFG["analysis"].get("skills") or {}
            serving = skills.get("extractor") == "llm" and bool(
                ((skills.get("llm") or {}).get("serve") or {}).get("enabled")
            )
        return [res("envs/vllm_python.txt")] if serving else []

    return needs


def vllm_python_prefix(wildcards, input):
    """`VERO_VLLM_PYTHON=<recorded python> ` before a job's command, when it starts a server."""
    files = list(input.get("vllm_env", []) or [])
    return f'VERO_VLLM_PYTHON="$(cat {files[0]})" ' if files else ""


# ---- reproduce_paper: models, resources and paths of rules/reproduce.smk ---------------------------

from vero.eval.reproduce import reproduce_models

REPRODUCE_MODELS = list(reproduce_models(CFG))
REPRODUCE_RESOURCES = (
    rule_resources("reproduce_benchmark")
    if "reproduce_benchmark" in CFG["resources"]
    else EVAL_RESOURCES
)


def reproduce_benchmark_outputs(wildcards):
    return [res(f"reproduce/{wildcards.rmodel}/{b}.json") for b in EVAL_BENCHMARKS]


def reproduce_summaries(wildcards=None):
    return {m: res(f"reproduce/{m}/summary.json") for m in REPRODUCE_MODELS}
