"""Evaluate one (experiment, checkpoint, benchmark): generate, score, write JSONL + summary JSON
(rule eval_benchmark).

  python -m vero.config config/demo.yaml > config.json   # or the job's results/settings/... file
  python workflow_scripts/eval_benchmark.py --config-json config.json \
      --experiment base --checkpoint final --benchmark mini_stem \
      --out-jsonl results/demo/eval/base/final/mini_stem.jsonl \
      --out-summary results/demo/eval/base/final/mini_stem.json
"""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-json", required=True)
    p.add_argument("--experiment", required=True, help="an experiment of the config, or 'base'")
    p.add_argument("--checkpoint", default="final", help="'final' or 'checkpoint-<step>'")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--out-jsonl", required=True)
    p.add_argument("--out-summary", required=True)
    a = p.parse_args(argv)
    setup_cpu()
    from vero.eval.evaluate import evaluate_benchmark
    from vero.settings import load_job_settings

    s = evaluate_benchmark(
        load_job_settings(a.config_json),
        experiment=a.experiment,
        checkpoint=a.checkpoint,
        benchmark=a.benchmark,
        out_jsonl=a.out_jsonl,
        out_summary=a.out_summary,
    )
    score = "unscored" if s["score"] is None else f"{s['score']:.1f}"
    print(f"{a.experiment}/{a.checkpoint}/{a.benchmark}: score {score} ({s['n_scored']}/{s['n']} scored)")


if __name__ == "__main__":
    main()
