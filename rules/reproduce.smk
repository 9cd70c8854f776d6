# The reproduce_paper target: the released Vero checkpoints and their base models
# (eval.reproduce.models) on the suite, one job per (model, benchmark), a summary per model and the
# per-benchmark deltas against the paper's table (results/reproduce/paper_deltas.{md,csv,png}).
# Library: vero.eval.reproduce. Resources: resources.reproduce_benchmark, else eval_benchmark's.

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


rule reproduce_benchmark:
    input:
        data=eval_data_input,
    output:
        jsonl=res("reproduce/{rmodel}/{benchmark}.jsonl"),
        summary=res("reproduce/{rmodel}/{benchmark}.json"),
    log:
        logf("reproduce_benchmark/{rmodel}/{benchmark}"),
    benchmark:
        benchf("reproduce_benchmark/{rmodel}/{benchmark}")
    wildcard_constraints:
        rmodel="|".join(REPRODUCE_MODELS) or "^$",
        benchmark="|".join(EVAL_BENCHMARKS),
    conda:
        "../envs/gpu.yaml"
    resources:
        **{k: v for k, v in REPRODUCE_RESOURCES.items() if k != "gpu"},
        gpu=lambda wildcards: eval_job_gpus(
            CFG, wildcards.benchmark, REPRODUCE_RESOURCES.get("gpu", 0)
        ),
    params:
        settings=job_settings("reproduce_benchmark"),
    shell:
        "python workflow_scripts/reproduce_benchmark.py --config-json {params.settings}"
        " --model {wildcards.rmodel} --benchmark {wildcards.benchmark}"
        " --out-jsonl {output.jsonl} --out-summary {output.summary} > {log} 2>&1"


rule reproduce_summary:
    input:
        benchmarks=reproduce_benchmark_outputs,
    output:
        summary=res("reproduce/{rmodel}/summary.json"),
    log:
        logf("reproduce_summary/{rmodel}"),
    wildcard_constraints:
        rmodel="|".join(REPRODUCE_MODELS) or "^$",
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("eval_summary"),
    params:
        settings=job_settings("reproduce_summary"),
    shell:
        "python workflow_scripts/reproduce_summary.py --config-json {params.settings}"
        " --model {wildcards.rmodel} --benchmarks {input.benchmarks} --out {output.summary} > {log} 2>&1"


rule reproduce_table:
    input:
        summaries=lambda wildcards: list(reproduce_summaries().values()),
    output:
        md=res("reproduce/paper_deltas.md"),
        csv=res("reproduce/paper_deltas.csv"),
        png=res("reproduce/paper_deltas.png"),
    log:
        logf("reproduce_table"),
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("eval_comparison"),
    params:
        settings=job_settings("reproduce_table"),
        summaries=lambda wildcards: named_args("--summary", reproduce_summaries()),
    shell:
        "python workflow_scripts/reproduce_table.py --config-json {params.settings} {params.summaries}"
        " --out-md {output.md} --out-csv {output.csv} --out-png {output.png} > {log} 2>&1"


localrules:
    reproduce_paper,


# Named target: the released checkpoints and their base models against the paper's table.
rule reproduce_paper:
    input:
        rules.reproduce_table.output,
