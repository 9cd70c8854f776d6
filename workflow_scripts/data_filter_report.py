"""Aggregate the per-category filter reports; fail with the table over the drop limit.

Rule data_filter_report.
"""

import argparse
import sys

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--config-json",
        required=True,
        help="the job's settings (results/settings/<rule>/<sha>.json) or a config as JSON",
    )
    p.add_argument("--reports", nargs="+", required=True, help="data/filtered/{category}.report.json")
    p.add_argument("--ingest-report", help="data/raw/ingest_report.json")
    p.add_argument("--out-json", required=True)
    p.add_argument("--out-md", required=True)
    a = p.parse_args(argv)
    setup_cpu()
    from vero.data.filtering import FilterDropError
    from vero.data.stages import filter_report_stage
    from vero.settings import load_job_settings

    try:
        filter_report_stage(
            load_job_settings(a.config_json), a.reports, a.ingest_report, a.out_json, a.out_md
        )
    except FilterDropError as err:
        sys.exit(f"data_filter_report: {err}")


if __name__ == "__main__":
    main()
