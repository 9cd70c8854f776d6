"""Evaluate one (experiment, checkpoint) on every benchmark of the suite with one loaded model
(rule eval_checkpoint, `eval.jobs: per_checkpoint`); writes OUT_DIR/<benchmark>.jsonl and .json.

  python -m vero.config config/demo.yaml > config.json   # or the job's results/settings/... file
  python workflow_scripts/eval_checkpoint.py --config-json config.json \
      --experiment base --checkpoint final --benchmarks mini_stem mini_chart_ocr \
      --out-dir results/demo/eval/base/final
"""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-json", required=True)
    p.add_argument("--experiment", required=True, help="an experiment of the config, or 'base'")
    p.add_argument("--checkpoint", default="final", help="'final' or 'checkpoint-<step>'")
    p.add_argument("--benchmarks", nargs="+", required=True)
    p.add_argument("--out-dir", required=True)
    a = p.parse_args(argv)
    setup_cpu()
    from vero.eval.evaluate import evaluate_checkpoint
    from vero.settings import load_job_settings

    summaries = evaluate_checkpoint(
        load_job_settings(a.config_json),
        experiment=a.experiment,
        checkpoint=a.checkpoint,
        benchmarks=a.benchmarks,
        out_dir=a.out_dir,
    )
    for name, s in summaries.items():
        score = "unscored" if s["score"] is None else f"{s['score']:.1f}"
        print(f"{a.experiment}/{a.checkpoint}/{name}: score {score} ({s['n_scored']}/{s['n']} scored)")


if __name__ == "__main__":
    main()
