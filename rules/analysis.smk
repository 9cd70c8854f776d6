# Behavioral analysis (RECIPE.md §6 and the ablations of §4): reasoning length, skills, the skill
# probe, the skill UMAP, the transfer matrix, training dynamics, and a summary + W&B run.
# Logic lives in vero.analysis; these rules only wire files to workflow_scripts/analysis_*.py.
# Paths and input functions: rules/common.smk (analysis stage section).


rule analysis_reasoning_length:
    input:
        traces=[p for e in LENGTH_EXPERIMENTS for p in eval_outputs(e)],
    output:
        csv=ANALYSIS_OUT["length_csv"],
        png=ANALYSIS_OUT["length_png"],
    log:
        logf("analysis_reasoning_length"),
    benchmark:
        benchf("analysis_reasoning_length")
    conda:
        "../envs/analysis.yaml"
    resources:
        **rule_resources("analysis_reasoning_length"),
    params:
        settings=job_settings("analysis_reasoning_length"),
        traces=_pairs("--trace", {e: eval_outputs(e) for e in LENGTH_EXPERIMENTS}),
    shell:
        "python workflow_scripts/analysis_reasoning_length.py --config-json {params.settings}"
        " {params.traces} --out-csv {output.csv} --out-png {output.png} > {log} 2>&1"


rule analysis_skills:
    input:
        traces=lambda wc: eval_outputs(wc.experiment),
        vllm_env=vllm_server_env_input("skills"),
    output:
        jsonl=res("analysis/skills/{experiment}.jsonl"),
    log:
        logf("analysis_skills/{experiment}"),
    benchmark:
        benchf("analysis_skills/{experiment}")
    conda:
        "../envs/analysis.yaml"
    resources:
        **rule_resources("analysis_skills"),
    params:
        settings=job_settings("analysis_skills"),
        vllm_python=vllm_python_prefix,
        cache=res("analysis/skills_cache"),
    shell:
        "{params.vllm_python}python workflow_scripts/analysis_skills.py --config-json {params.settings}"
        " --experiment {wildcards.experiment} --traces {input.traces}"
        " --cache-dir {params.cache} --out {output.jsonl} > {log} 2>&1"


rule analysis_probe:
    input:
        skills=skill_files,
    output:
        json=ANALYSIS_OUT["probe_json"],
        png=ANALYSIS_OUT["probe_png"],
        csv=ANALYSIS_OUT["probe_csv"],
    log:
        logf("analysis_probe"),
    benchmark:
        benchf("analysis_probe")
    conda:
        "../envs/analysis.yaml"
    resources:
        **rule_resources("analysis_probe"),
    params:
        settings=job_settings("analysis_probe"),
    shell:
        "python workflow_scripts/analysis_probe.py --config-json {params.settings} --skills {input.skills}"
        " --out-json {output.json} --out-png {output.png} --out-csv {output.csv} > {log} 2>&1"


rule analysis_umap:
    input:
        skills=skill_files,
    output:
        png=ANALYSIS_OUT["umap_png"],
        html=ANALYSIS_OUT["umap_html"],
        points=ANALYSIS_OUT["umap_points"],
        json=ANALYSIS_OUT["umap_json"],
    log:
        logf("analysis_umap"),
    benchmark:
        benchf("analysis_umap")
    conda:
        "../envs/analysis.yaml"
    resources:
        **rule_resources("analysis_umap"),
    params:
        settings=job_settings("analysis_umap"),
    shell:
        "python workflow_scripts/analysis_umap.py --config-json {params.settings} --skills {input.skills}"
        " --out-png {output.png} --out-html {output.html} --out-points {output.points}"
        " --out-json {output.json} > {log} 2>&1"


rule analysis_transfer:
    input:
        base=eval_summary("base", "final"),
        summaries=[eval_summary(e, ANALYSIS_CKPT) for _, e in TRANSFER_ROWS],
    output:
        csv=ANALYSIS_OUT["transfer_csv"],
        png=ANALYSIS_OUT["transfer_png"],
    log:
        logf("analysis_transfer"),
    conda:
        "../envs/analysis.yaml"
    resources:
        **rule_resources("analysis_transfer"),
    params:
        settings=job_settings("analysis_transfer"),
        summaries=" ".join(
            f"--summary {e}={eval_summary(e, ANALYSIS_CKPT)}" for _, e in TRANSFER_ROWS
        ),
    shell:
        "python workflow_scripts/analysis_transfer.py --config-json {params.settings}"
        " --base-summary {input.base} {params.summaries}"
        " --out-csv {output.csv} --out-png {output.png} > {log} 2>&1"


rule analysis_dynamics:
    input:
        logs=expand(res("runs/{experiment}/train_log.jsonl"), experiment=EXPERIMENTS),
    output:
        pngs=expand(res("analysis/dynamics/{experiment}.png"), experiment=EXPERIMENTS),
        csv=ANALYSIS_OUT["dynamics_csv"],
    log:
        logf("analysis_dynamics"),
    conda:
        "../envs/analysis.yaml"
    resources:
        **rule_resources("analysis_dynamics"),
    params:
        settings=job_settings("analysis_dynamics"),
        out_dir=lambda wildcards, output: os.path.dirname(output.csv),
        logs=" ".join(
            f"--log {e}={res(f'runs/{e}/train_log.jsonl')}" for e in EXPERIMENTS
        ),
    shell:
        "python workflow_scripts/analysis_dynamics.py --config-json {params.settings} {params.logs}"
        " --out-dir {params.out_dir} --out-csv {output.csv} > {log} 2>&1"


rule analysis_dynamics_algorithm:
    input:
        logs=expand(res("runs/{experiment}/train_log.jsonl"), experiment=ALGORITHM_RUNS),
    output:
        overlay=ANALYSIS_OUT["dynamics_overlay"],
    log:
        logf("analysis_dynamics_algorithm"),
    conda:
        "../envs/analysis.yaml"
    resources:
        **rule_resources("analysis_dynamics"),
    params:
        settings=job_settings("analysis_dynamics_algorithm"),
        logs=" ".join(
            f"--log {e}={res(f'runs/{e}/train_log.jsonl')}" for e in ALGORITHM_RUNS
        ),
    shell:
        "python workflow_scripts/analysis_dynamics.py --config-json {params.settings} {params.logs}"
        " --out-overlay {output.overlay} > {log} 2>&1"


rule analysis_summary:
    input:
        length_csv=ANALYSIS_OUT["length_csv"],
        probe_json=ANALYSIS_OUT["probe_json"],
        probe_csv=ANALYSIS_OUT["probe_csv"],
        umap_json=ANALYSIS_OUT["umap_json"],
        umap_html=ANALYSIS_OUT["umap_html"],
        transfer_csv=ANALYSIS_OUT["transfer_csv"],
        dynamics_csv=ANALYSIS_OUT["dynamics_csv"],
        pngs=[
            ANALYSIS_OUT[k]
            for k in (
                "length_png",
                "probe_png",
                "umap_png",
                "transfer_png",
                "dynamics_overlay",
            )
        ]
        + expand(res("analysis/dynamics/{experiment}.png"), experiment=EXPERIMENTS),
    output:
        json=ANALYSIS_OUT["summary"],
    log:
        logf("analysis_summary"),
    conda:
        "../envs/analysis.yaml"
    resources:
        **rule_resources("analysis_summary"),
    params:
        settings=job_settings("analysis_summary"),
    shell:
        "python workflow_scripts/analysis_summary.py --config-json {params.settings} --out {output.json}"
        " --length-csv {input.length_csv} --probe-json {input.probe_json}"
        " --probe-csv {input.probe_csv} --umap-json {input.umap_json}"
        " --umap-html {input.umap_html} --transfer-csv {input.transfer_csv}"
        " --dynamics-csv {input.dynamics_csv} --pngs {input.pngs} > {log} 2>&1"
