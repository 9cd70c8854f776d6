"""Evaluate one released model of eval.reproduce.models on one benchmark (rule reproduce_benchmark).

  python workflow_scripts/reproduce_benchmark.py --config-json results/resolved_config.json \
      --model vero_qwen3i_8b --benchmark chartqa \
      --out-jsonl results/reproduce/vero_qwen3i_8b/chartqa.jsonl \
      --out-summary results/reproduce/vero_qwen3i_8b/chartqa.json
"""

import argparse

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-json", required=True)
    p.add_argument("--model", required=True, help="a name of eval.reproduce.models")
    p.add_argument("--benchmark", required=True)
    p.add_argument("--out-jsonl", required=True)
    p.add_argument("--out-summary", required=True)
    a = p.parse_args(argv)
    setup_cpu()
    from vero.eval.reproduce import evaluate_released
    from vero.settings import load_job_settings

    s = evaluate_released(
        load_job_settings(a.config_json),
        name=a.model,
        benchmark=a.benchmark,
        out_jsonl=a.out_jsonl,
        out_summary=a.out_summary,
    )
    score = "unscored" if s["score"] is None else f"{s['score']:.1f}"
    print(f"{a.model}/{a.benchmark}: score {score} ({s['n_scored']}/{s['n']} scored)")


if __name__ == "__main__":
    main()
