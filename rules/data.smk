# Data stage (docs/recipe.md#3-data-vero-600k): source -> raw per category -> filtered (+ reports) -> mix per experiment,
# the VeroMini held-out split (the mini eval suite), and the embedded tiny VLM.
# Logic lives in vero.data (and vero.models); these rules only wire files to workflow_scripts/.
# With `--sdm conda` they run in envs/gpu.yaml, which holds datasets, math-verify and lm-eval.
# Paths and input functions: rules/common.smk (data stage section).


rule data_raw:
    input:
        source_files(),
    output:
        parquet=expand(DATA["raw"], category=CATEGORIES),
        report=DATA["ingest_report"],
    log:
        logf("data_raw"),
    benchmark:
        benchf("data_raw")
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("data_raw"),
    params:
        settings=job_settings("data_raw"),
        out_dir=lambda wildcards, output: os.path.dirname(output.parquet[0]),
    shell:
        "python workflow_scripts/data_raw.py --config-json {params.settings}"
        " --out-dir {params.out_dir} --report {output.report} > {log} 2>&1"


rule data_heldout:
    output:
        parquet=expand(DATA["heldout"], category=CATEGORIES),
    log:
        logf("data_heldout"),
    benchmark:
        benchf("data_heldout")
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("data_heldout"),
    params:
        settings=job_settings("data_heldout"),
        out_dir=lambda wildcards, output: os.path.dirname(output.parquet[0]),
    shell:
        "python workflow_scripts/data_heldout.py --config-json {params.settings}"
        " --out-dir {params.out_dir} > {log} 2>&1"


rule data_filter:
    input:
        raw=DATA["raw"],
        heldout=heldout_files(),
        eval_sets=CFG["data"]["filter"]["eval_sets"],
    output:
        parquet=DATA["filtered"],
        report=DATA["filter_category_report"],
    log:
        logf("data_filter/{category}"),
    benchmark:
        benchf("data_filter/{category}")
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("data_filter"),
    params:
        settings=job_settings("data_filter"),
    shell:
        "python workflow_scripts/data_filter.py --config-json {params.settings} --category {wildcards.category}"
        " --input {input.raw} --out {output.parquet} --report {output.report}"
        " --eval-sets {input.heldout} {input.eval_sets} > {log} 2>&1"


# Accounts for every row read (ingestion and filter drops, per category and per source); fails,
# printing the table, when a category an experiment uses is empty or data.filter.max_drop_fraction
# is exceeded.
rule data_filter_report:
    input:
        reports=expand(DATA["filter_category_report"], category=CATEGORIES),
        ingest=DATA["ingest_report"],
    output:
        json=DATA["filter_report_json"],
        md=DATA["filter_report_md"],
    log:
        logf("data_filter_report"),
    benchmark:
        benchf("data_filter_report")
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("data_filter_report"),
    params:
        settings=job_settings("data_filter_report"),
    shell:
        "python workflow_scripts/data_filter_report.py --config-json {params.settings}"
        " --reports {input.reports} --ingest-report {input.ingest}"
        " --out-json {output.json} --out-md {output.md} 2>&1 | tee {log}"


# The training prompt file (data.prompt.system: file) is an input: editing it reruns the mixes and
# so the training that reads them.
rule data_mix:
    input:
        filtered=mix_inputs,
        report=DATA["filter_report_json"],
        prompt=(
            [CFG["data"]["prompt"]["file"]]
            if CFG["data"]["prompt"]["system"] == "file"
            else []
        ),
    output:
        parquet=DATA["mix"],
    log:
        logf("data_mix/{experiment}"),
    benchmark:
        benchf("data_mix/{experiment}")
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("data_mix"),
    params:
        settings=job_settings("data_mix"),
        filtered_dir=res("data/filtered"),
    shell:
        "python workflow_scripts/data_mix.py --config-json {params.settings} --experiment {wildcards.experiment}"
        " --filtered-dir {params.filtered_dir} --out {output.parquet} > {log} 2>&1"


rule build_tiny_model:
    output:
        directory(TINY_MODEL),
    log:
        logf("build_tiny_model"),
    benchmark:
        benchf("build_tiny_model")
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("build_tiny_model"),
    params:
        settings=job_settings("build_tiny_model"),
    shell:
        "python workflow_scripts/build_tiny_model.py --config-json {params.settings} --out {output} > {log} 2>&1"


# The demo's warm start (model.tiny.warm_start, vero.models.warm_start): VeroMini's pretrain
# split, then a short supervised run of the built tiny model on it; every experiment and the
# base evaluation start from the result. Only in the DAG when model.base is "tiny" and steps > 0.
rule data_pretrain:
    output:
        parquet=DATA["pretrain"],
    log:
        logf("data_pretrain"),
    benchmark:
        benchf("data_pretrain")
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("data_pretrain"),
    params:
        settings=job_settings("data_pretrain"),
    shell:
        "python workflow_scripts/data_pretrain.py --config-json {params.settings} --out {output.parquet} > {log} 2>&1"


rule warm_start:
    input:
        base=TINY_MODEL,
        data=DATA["pretrain"],
    output:
        directory(WARM_MODEL),
    log:
        logf("warm_start"),
    benchmark:
        benchf("warm_start")
    conda:
        "../envs/gpu.yaml"
    resources:
        **rule_resources("warm_start"),
    params:
        settings=job_settings("warm_start"),
    shell:
        "python workflow_scripts/warm_start.py --config-json {params.settings} --base {input.base}"
        " --data {input.data} --out {output} > {log} 2>&1"
