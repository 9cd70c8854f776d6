"""Merge the per-benchmark summaries of one (experiment, checkpoint) into summary.json and log
the per-benchmark table to a W&B eval run (rule eval_summary)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--experiment", required=True)
    p.add_argument("--checkpoint", default="final")
    p.add_argument("--benchmarks", nargs="+", required=True, help="per-benchmark summary JSON files")
    p.add_argument("--out", required=True)
    p.add_argument("--no-wandb", action="store_true", help="skip the W&B eval run")
    a = p.parse_args(argv)
    setup_cpu()
    from vero.eval.writers import summarize_checkpoint
    from vero.settings import load_job_settings

    s = summarize_checkpoint(
        load_job_settings(a.config_json),
        experiment=a.experiment,
        checkpoint=a.checkpoint,
        benchmark_jsons=a.benchmarks,
        out=a.out,
        track=not a.no_wandb,
    )
    overall = s["overall"]["score"]
    print(f"{a.experiment}/{a.checkpoint}: overall {'unscored' if overall is None else f'{overall:.1f}'}")


if __name__ == "__main__":
    main()
