"""Filter one category's raw rows, counting drops per reason code (rule data_filter)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--config-json",
        required=True,
        help="the job's settings (results/settings/<rule>/<sha>.json) or a config as JSON",
    )
    p.add_argument("--category", required=True)
    p.add_argument("--input", required=True, help="data/raw/{category}.parquet")
    p.add_argument("--out", required=True, help="data/filtered/{category}.parquet")
    p.add_argument("--report", required=True, help="data/filtered/{category}.report.json")
    p.add_argument(
        "--eval-sets", nargs="*", default=[], help="contamination references (held-out Parquet files)"
    )
    a = p.parse_args(argv)
    setup_cpu()
    from vero.data.stages import filter_stage
    from vero.settings import load_job_settings

    filter_stage(load_job_settings(a.config_json), a.category, a.input, a.out, a.report, a.eval_sets)


if __name__ == "__main__":
    main()
