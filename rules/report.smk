# The one-page report: evaluation tables, transfer heatmap, reasoning length, probe, UMAP, curves.


rule build_report:
    input:
        comparison_csv=res("eval/comparison.csv"),
        comparison_md=res("eval/comparison.md"),
        transfer_png=res("analysis/transfer.png"),
        transfer_csv=res("analysis/transfer.csv"),
        length_png=res("analysis/reasoning_length.png"),
        length_csv=res("analysis/reasoning_length.csv"),
        probe_json=res("analysis/probe.json"),
        probe_png=res("analysis/probe_confusion.png"),
        umap_png=res("analysis/umap.png"),
        umap_html=res("analysis/umap.html"),
        dynamics=expand(
            res("analysis/dynamics/{experiment}.png"), experiment=EXPERIMENTS
        )
        + [res("analysis/dynamics/algorithm_ablation.png")],
        filter_md=res("data/filter_report.md"),
        summary=res("analysis/summary.json"),
    output:
        html=REPORT,
    log:
        logf("build_report"),
    conda:
        "../envs/analysis.yaml"
    resources:
        **rule_resources("build_report"),
    params:
        settings=job_settings("build_report"),
    shell:
        "python workflow_scripts/build_report.py --config-json {params.settings} --out {output.html}"
        " --comparison-csv {input.comparison_csv} --comparison-md {input.comparison_md}"
        " --transfer-png {input.transfer_png} --transfer-csv {input.transfer_csv}"
        " --length-png {input.length_png} --length-csv {input.length_csv}"
        " --probe-json {input.probe_json} --probe-png {input.probe_png}"
        " --umap-png {input.umap_png} --umap-html {input.umap_html}"
        " --dynamics {input.dynamics} --filter-md {input.filter_md}"
        " --analysis-summary {input.summary} > {log} 2>&1"
