"""Read the configured training source into data/raw/{category}.parquet (rule data_raw)."""

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
    p.add_argument("--out-dir", required=True, help="directory for {category}.parquet")
    p.add_argument("--report", required=True, help="ingestion report (JSON)")
    a = p.parse_args(argv)
    setup_cpu()
    from vero.data.readers import SourceError
    from vero.data.stages import raw_stage
    from vero.settings import load_job_settings

    try:
        raw_stage(load_job_settings(a.config_json), a.out_dir, a.report)
    except SourceError as err:  # an unreadable file, an unknown config or unmapped ability values
        sys.exit(f"data_raw: {err}")


if __name__ == "__main__":
    main()
