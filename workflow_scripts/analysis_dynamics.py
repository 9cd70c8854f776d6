"""Training curves per run and the algorithm-ablation overlay (rule analysis_dynamics)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--log", action="append", required=True, metavar="EXPERIMENT=JSONL", help="repeatable")
    p.add_argument("--out-dir", help="one {experiment}.png per run is written here")
    p.add_argument("--out-overlay", help="the algorithm-ablation overlay")
    p.add_argument("--out-csv", help="one summary row per run")
    a = p.parse_args(argv)
    setup_cpu()
    from vero.analysis.stages import dynamics_stage, parse_pairs
    from vero.settings import load_job_settings

    logs = {k: v[0] for k, v in parse_pairs(a.log, flag="--log").items()}
    dynamics_stage(load_job_settings(a.config_json), logs, a.out_dir, a.out_overlay, a.out_csv)


if __name__ == "__main__":
    main()
