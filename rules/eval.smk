# Checkpoint evaluation (VeroEval or the VeroMini mini suite): one job per
# (experiment, checkpoint, benchmark), so a failed benchmark reruns alone; a summary (and W&B eval
# run) per (experiment, checkpoint); the comparison table; checkpoint-sweep curves.
# With `--sdm conda` the jobs run in envs/gpu.yaml; backend vllm_server starts vLLM's server from
# $VERO_VLLM_PYTHON (envs/vllm.yaml), as the judge server does.

from vero.eval.evaluate import eval_job_gpus
from vero.eval.registry import get_benchmark, suite_benchmarks
from vero.eval.sweep import sweep_checkpoints
from vero.models import tiny_model_dir

EVAL_BENCHMARKS = suite_benchmarks(CFG)
EVAL_RESOURCES = rule_resources("eval_benchmark")


def eval_model_input(wildcards):
    """The base model dir when the workflow builds it; a run's final model (training finished)."""
    if wildcards.experiment == "base":
        if CFG["model"]["base"] == "tiny":
            return [tiny_model_dir(RESULTS, CFG["model"]["family"])]
        return []
    return [final_model(wildcards.experiment)]


def eval_gpus(wildcards):
    """The configured GPUs, or more when a judge is served in the job for this benchmark."""
    return eval_job_gpus(CFG, wildcards.benchmark, EVAL_RESOURCES.get("gpu", 0))


def eval_data_input(wildcards):
    """Local benchmark files (the mini suite's held-out split, eval.local_data); hub data: none."""
    spec = get_benchmark(CFG, wildcards.benchmark)
    return [spec.local_path] if spec.local_path else []


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


def named_args(flag, named):
    return " ".join(f"{flag} {name}={path}" for name, path in named.items())


rule eval_benchmark:
    input:
        model=eval_model_input,
        data=eval_data_input,
    output:
        jsonl=res("eval/{experiment}/{checkpoint}/{benchmark}.jsonl"),
        summary=res("eval/{experiment}/{checkpoint}/{benchmark}.json"),
    log:
        logf("eval_benchmark/{experiment}/{checkpoint}/{benchmark}"),
    benchmark:
        benchf("eval_benchmark/{experiment}/{checkpoint}/{benchmark}")
    wildcard_constraints:
        benchmark="|".join(EVAL_BENCHMARKS),
    conda:
        "../envs/gpu.yaml"
    resources:
        **{k: v for k, v in EVAL_RESOURCES.items() if k != "gpu"},
        gpu=eval_gpus,
    params:
        cfg=CONFIG_JSON,
    shell:
        "{PY} workflow_scripts/eval_benchmark.py --config-json {params.cfg}"
        " --experiment {wildcards.experiment} --checkpoint {wildcards.checkpoint}"
        " --benchmark {wildcards.benchmark}"
        " --out-jsonl {output.jsonl} --out-summary {output.summary} > {log} 2>&1"


rule eval_summary:
    input:
        benchmarks=eval_benchmark_outputs,
    output:
        summary=res("eval/{experiment}/{checkpoint}/summary.json"),
    log:
        logf("eval_summary/{experiment}/{checkpoint}"),
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("eval_summary"),
    params:
        cfg=CONFIG_JSON,
    shell:
        "{PY} workflow_scripts/eval_summary.py --config-json {params.cfg}"
        " --experiment {wildcards.experiment} --checkpoint {wildcards.checkpoint}"
        " --benchmarks {input.benchmarks} --out {output.summary} > {log} 2>&1"


rule eval_comparison:
    input:
        summaries=lambda wildcards: list(eval_comparison_summaries(wildcards).values()),
    output:
        md=res("eval/comparison.md"),
        csv=res("eval/comparison.csv"),
    log:
        logf("eval_comparison"),
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("eval_comparison"),
    params:
        cfg=CONFIG_JSON,
        summaries=lambda wildcards: named_args(
            "--summary", eval_comparison_summaries(wildcards)
        ),
    shell:
        "{PY} workflow_scripts/eval_comparison.py --config-json {params.cfg} {params.summaries}"
        " --out-md {output.md} --out-csv {output.csv} > {log} 2>&1"


rule eval_sweep:
    input:
        summaries=lambda wildcards: list(eval_sweep_summaries(wildcards).values()),
    output:
        csv=res("eval/{experiment}/sweep.csv"),
        json=res("eval/{experiment}/sweep.json"),
    log:
        logf("eval_sweep/{experiment}"),
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("eval_sweep"),
    params:
        cfg=CONFIG_JSON,
        summaries=lambda wildcards: named_args(
            "--summary", eval_sweep_summaries(wildcards)
        ),
    shell:
        "{PY} workflow_scripts/eval_sweep.py --config-json {params.cfg} --experiment {wildcards.experiment}"
        " {params.summaries} --out-csv {output.csv} --out-json {output.json} > {log} 2>&1"


localrules:
    eval_sweeps,


# Named target: the checkpoint-sweep curves of every experiment (eval.sweep_every_k).
rule eval_sweeps:
    input:
        expand(res("eval/{experiment}/sweep.csv"), experiment=EXPERIMENTS),
