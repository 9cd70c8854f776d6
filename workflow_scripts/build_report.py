"""Build results/report/report.html (rule build_report)."""

import argparse
from pathlib import Path

from vero.report import ReportInputs, build_report
from vero.settings import load_job_settings


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--comparison-csv", type=Path, required=True)
    p.add_argument("--comparison-md", type=Path)
    p.add_argument("--transfer-png", type=Path)
    p.add_argument("--transfer-csv", type=Path)
    p.add_argument("--length-png", type=Path)
    p.add_argument("--length-csv", type=Path)
    p.add_argument("--probe-json", type=Path)
    p.add_argument("--probe-png", type=Path)
    p.add_argument("--umap-png", type=Path)
    p.add_argument("--umap-html", type=Path)
    p.add_argument("--dynamics", type=Path, nargs="*", default=[])
    p.add_argument("--filter-md", type=Path)
    p.add_argument("--analysis-summary", type=Path)
    a = p.parse_args(argv)
    inputs = ReportInputs(
        comparison_csv=a.comparison_csv,
        comparison_md=a.comparison_md,
        transfer_png=a.transfer_png,
        transfer_csv=a.transfer_csv,
        reasoning_length_png=a.length_png,
        reasoning_length_csv=a.length_csv,
        probe_json=a.probe_json,
        probe_confusion_png=a.probe_png,
        umap_png=a.umap_png,
        umap_html=a.umap_html,
        dynamics_pngs=list(a.dynamics),
        filter_report_md=a.filter_md,
        analysis_summary_json=a.analysis_summary,
        config=load_job_settings(a.config_json),
    )
    out = build_report(inputs, a.out)
    print(f"report written to {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
