"""Transfer matrix of the single-category runs vs the base model (rule analysis_transfer)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--summary", action="append", default=[], metavar="EXPERIMENT=JSON", help="repeatable")
    p.add_argument("--base-summary", required=True)
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-png", required=True)
    a = p.parse_args(argv)
    setup_cpu()
    from vero.analysis.stages import parse_pairs, transfer_stage
    from vero.settings import load_job_settings

    summaries = {k: v[0] for k, v in parse_pairs(a.summary, flag="--summary").items()}
    transfer_stage(load_job_settings(a.config_json), summaries, a.base_summary, a.out_csv, a.out_png)


if __name__ == "__main__":
    main()
