"""Words in the think block per category and experiment (rule analysis_reasoning_length)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--trace", action="append", required=True, metavar="EXPERIMENT=JSONL", help="repeatable")
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-png", required=True)
    a = p.parse_args(argv)
    setup_cpu()
    from vero.analysis.stages import parse_pairs, reasoning_length_stage
    from vero.settings import load_job_settings

    reasoning_length_stage(
        load_job_settings(a.config_json), parse_pairs(a.trace, flag="--trace"), a.out_csv, a.out_png
    )


if __name__ == "__main__":
    main()
