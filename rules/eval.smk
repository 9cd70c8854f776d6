# Checkpoint evaluation (VeroEval or the VeroMini mini suite): one job per
# (experiment, checkpoint, benchmark), so a failed benchmark reruns alone, or with eval.jobs
# per_checkpoint one job per (experiment, checkpoint) for the whole suite; a summary (and W&B eval
# run) per (experiment, checkpoint); the comparison table; checkpoint-sweep curves.
# With `--sdm conda` the jobs run in envs/gpu.yaml; backend vllm_server starts vLLM's server from
# $VERO_VLLM_PYTHON (envs/vllm.yaml), as the judge server does.
# Paths and input functions: rules/common.smk (eval stage section).


rule eval_benchmark:
    input:
        model=eval_model_input,
        data=eval_data_input,
        vllm_env=vllm_server_env_input("eval"),
    output:
        jsonl=res("eval/{experiment}/{checkpoint}/{benchmark}.jsonl"),
        summary=res("eval/{experiment}/{checkpoint}/{benchmark}.json"),
    log:
        logf("eval_benchmark/{experiment}/{checkpoint}/{benchmark}"),
    benchmark:
        benchf("eval_benchmark/{experiment}/{checkpoint}/{benchmark}")
    wildcard_constraints:
        benchmark=EVAL_JOB_PATTERNS["per_benchmark"],
    conda:
        "../envs/gpu.yaml"
    resources:
        **{k: v for k, v in EVAL_RESOURCES.items() if k != "gpu"},
        gpu=eval_gpus,
    params:
        settings=job_settings("eval_benchmark"),
        vllm_python=vllm_python_prefix,
        # the benchmark's registry entry: editing it reruns that benchmark's jobs only
        registry_entry=eval_registry_entry,
    shell:
        "{params.vllm_python}python workflow_scripts/eval_benchmark.py --config-json {params.settings}"
        " --experiment {wildcards.experiment} --checkpoint {wildcards.checkpoint}"
        " --benchmark {wildcards.benchmark}"
        " --out-jsonl {output.jsonl} --out-summary {output.summary} > {log} 2>&1"


# eval.jobs per_checkpoint: one job loads the model once and evaluates the whole suite
rule eval_checkpoint:
    input:
        model=eval_model_input,
        data=eval_suite_data,
        vllm_env=vllm_server_env_input("eval"),
    output:
        jsonl=expand(
            res("eval/{{experiment}}/{{checkpoint}}/{benchmark}.jsonl"),
            benchmark=EVAL_BENCHMARKS,
        ),
        summary=expand(
            res("eval/{{experiment}}/{{checkpoint}}/{benchmark}.json"),
            benchmark=EVAL_BENCHMARKS,
        ),
    log:
        logf("eval_checkpoint/{experiment}/{checkpoint}"),
    benchmark:
        benchf("eval_checkpoint/{experiment}/{checkpoint}")
    # its outputs match only under per_checkpoint, as eval_benchmark's only under per_benchmark
    wildcard_constraints:
        checkpoint=EVAL_JOB_PATTERNS["per_checkpoint"],
    conda:
        "../envs/gpu.yaml"
    resources:
        **{k: v for k, v in EVAL_RESOURCES.items() if k != "gpu"},
        gpu=eval_suite_gpus,
    params:
        settings=job_settings("eval_checkpoint"),
        vllm_python=vllm_python_prefix,
        # every registry entry of the suite: editing one reruns this job
        registry_entries=eval_suite_registry,
        benchmarks=" ".join(EVAL_BENCHMARKS),
        out_dir=lambda wildcards: res(
            f"eval/{wildcards.experiment}/{wildcards['checkpoint']}"
        ),
    shell:
        "{params.vllm_python}python workflow_scripts/eval_checkpoint.py --config-json {params.settings}"
        " --experiment {wildcards.experiment} --checkpoint {wildcards.checkpoint}"
        " --benchmarks {params.benchmarks} --out-dir {params.out_dir} > {log} 2>&1"


rule eval_summary:
    input:
        benchmarks=eval_benchmark_outputs,
    output:
        summary=res("eval/{experiment}/{checkpoint}/summary.json"),
    log:
        logf("eval_summary/{experiment}/{checkpoint}"),
    benchmark:
        benchf("eval_summary/{experiment}/{checkpoint}")
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("eval_summary"),
    params:
        settings=job_settings("eval_summary"),
    shell:
        "python workflow_scripts/eval_summary.py --config-json {params.settings}"
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
    benchmark:
        benchf("eval_comparison")
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("eval_comparison"),
    params:
        settings=job_settings("eval_comparison"),
        paper_reference=eval_paper_reference,
        summaries=lambda wildcards: named_args(
            "--summary", eval_comparison_summaries(wildcards)
        ),
    shell:
        "python workflow_scripts/eval_comparison.py --config-json {params.settings} {params.summaries}"
        " --out-md {output.md} --out-csv {output.csv} > {log} 2>&1"


rule eval_sweep:
    input:
        summaries=lambda wildcards: list(eval_sweep_summaries(wildcards).values()),
    output:
        csv=res("eval/{experiment}/sweep.csv"),
        json=res("eval/{experiment}/sweep.json"),
    log:
        logf("eval_sweep/{experiment}"),
    benchmark:
        benchf("eval_sweep/{experiment}")
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("eval_sweep"),
    params:
        settings=job_settings("eval_sweep"),
        summaries=lambda wildcards: named_args(
            "--summary", eval_sweep_summaries(wildcards)
        ),
    shell:
        "python workflow_scripts/eval_sweep.py --config-json {params.settings} --experiment {wildcards.experiment}"
        " {params.summaries} --out-csv {output.csv} --out-json {output.json} > {log} 2>&1"


localrules:
    eval_sweeps,


# Named target: the checkpoint-sweep curves of every experiment (eval.sweep_every_k).
rule eval_sweeps:
    input:
        expand(res("eval/{experiment}/sweep.csv"), experiment=EXPERIMENTS),
