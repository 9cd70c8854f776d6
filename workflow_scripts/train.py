"""Train one experiment (rule train).

  python -m vero.config config/demo.yaml > config.json   # or the job's results/settings/... file
  python workflow_scripts/train.py --config-json config.json --experiment mixed \
      --mix results/data/mix/mixed.parquet --base-model results/models/tiny-qwen2_5_vl \
      --output-dir results/runs/mixed

Without --in-process the script launches the job as `train.launcher.kind` says (vero.train.launch:
plain python on CPU, accelerate on one or several GPUs, srun + accelerate on several nodes) and
that launched process runs this script again with --in-process. The final model is written to
OUTPUT_DIR/final; a rerun resumes from the newest OUTPUT_DIR/checkpoint-* (--resume auto).
"""

import argparse
import json
import sys
from pathlib import Path

from vero.runtime import setup_cpu


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--config-json",
        type=Path,
        required=True,
        help="the job's settings (results/settings/<rule>/<sha>.json) or a config as JSON",
    )
    p.add_argument("--experiment", required=True, help="a key of experiments: in the config")
    p.add_argument("--mix", type=Path, required=True, help="data/mix/<experiment>.parquet")
    p.add_argument("--base-model", required=True, help="model directory or hub id")
    p.add_argument("--output-dir", type=Path, required=True, help="runs/<experiment>")
    p.add_argument("--resume", choices=["auto", "never"], help="default: the config's train.resume")
    p.add_argument("--in-process", action="store_true", help="train here (the launched process)")
    a = p.parse_args(argv)
    setup_cpu()

    from vero.config import ConfigError, resolve_experiment
    from vero.settings import load_job_settings

    try:
        cfg = load_job_settings(a.config_json)
        resume = a.resume or resolve_experiment(cfg, a.experiment)["train"]["resume"]
        kind = resolve_experiment(cfg, a.experiment)["train"]["launcher"]["kind"]
    except ConfigError as exc:
        sys.exit(f"train: {exc}")

    if not a.in_process and kind != "cpu":
        from vero.train.launch import run_launched

        sys.exit(
            run_launched(
                cfg,
                config_json=str(a.config_json),
                experiment=a.experiment,
                mix=str(a.mix),
                base_model=a.base_model,
                output_dir=str(a.output_dir),
                resume=resume,
                python=sys.executable,
                script=__file__,
            )
        )

    from vero.train import run_experiment
    from vero.train.trainer import TrainingPreempted

    try:
        final = run_experiment(cfg, a.experiment, a.output_dir, a.mix, a.base_model, resume=resume)
    except TrainingPreempted as exc:  # checkpoint saved; SLURM requeues, the rerun resumes
        print(f"train: {exc}", file=sys.stderr)
        sys.exit(143)
    print(json.dumps({"experiment": a.experiment, "final": final}))


if __name__ == "__main__":
    main()
