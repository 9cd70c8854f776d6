"""Merge one released model's per-benchmark summaries into summary.json and log a W&B eval run
(rule reproduce_summary)."""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--model", required=True, help="a name of eval.reproduce.models")
    p.add_argument("--benchmarks", nargs="+", required=True, help="per-benchmark summary JSON files")
    p.add_argument("--out", required=True)
    p.add_argument("--no-wandb", action="store_true", help="skip the W&B eval run")
    a = p.parse_args(argv)
    setup_cpu()
    from vero.eval.reproduce import summarize_model
    from vero.settings import load_job_settings

    s = summarize_model(
        load_job_settings(a.config_json),
        name=a.model,
        benchmark_jsons=a.benchmarks,
        out=a.out,
        track=not a.no_wandb,
    )
    overall = s["overall"]["score"]
    print(f"{a.model}: overall {'unscored' if overall is None else f'{overall:.1f}'}")


if __name__ == "__main__":
    main()
