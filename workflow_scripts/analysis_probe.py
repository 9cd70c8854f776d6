"""Logistic-regression probe: source category from a trace's skills (rule analysis_probe)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--skills", nargs="+", required=True, help="analysis/skills/*.jsonl")
    p.add_argument("--out-json", required=True)
    p.add_argument("--out-png", required=True)
    p.add_argument("--out-csv", required=True, help="top coefficients per category")
    a = p.parse_args(argv)
    setup_cpu()
    from vero.analysis.stages import probe_stage
    from vero.settings import load_job_settings

    probe_stage(load_job_settings(a.config_json), a.skills, a.out_json, a.out_png, a.out_csv)


if __name__ == "__main__":
    main()
