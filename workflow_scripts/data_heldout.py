"""Generate VeroMini's held-out split, the mini eval suite (rule data_heldout)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--config-json",
        required=True,
        help="the job's settings (results/settings/<rule>/<sha>.json) or a config as JSON",
    )
    p.add_argument("--out-dir", required=True, help="directory for {category}.parquet")
    a = p.parse_args(argv)
    setup_cpu()
    from vero.data.stages import heldout_stage
    from vero.settings import load_job_settings

    heldout_stage(load_job_settings(a.config_json), a.out_dir)


if __name__ == "__main__":
    main()
