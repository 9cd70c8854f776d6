"""The checkpoint-sweep curve of one experiment: score per saved step (rule eval_sweep)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--experiment", required=True)
    p.add_argument("--summary", action="append", required=True, metavar="CHECKPOINT=SUMMARY_JSON")
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-json", required=True)
    p.add_argument("--no-wandb", action="store_true", help="skip the W&B sweep run")
    a = p.parse_args(argv)
    setup_cpu()
    from vero.eval.evaluate import parse_named_paths
    from vero.eval.writers import write_sweep
    from vero.settings import load_job_settings

    paths = parse_named_paths(a.summary, "--summary")
    rows = write_sweep(
        load_job_settings(a.config_json),
        experiment=a.experiment,
        summary_paths=paths,
        out_csv=a.out_csv,
        out_json=a.out_json,
        track=not a.no_wandb,
    )
    for r in rows:
        print(f"{r['checkpoint']:>16} step {r['step']:>6}: overall {r['overall']}")


if __name__ == "__main__":
    main()
