"""Train one experiment (rule train).

  python -m vero.config config/demo.yaml > config.json   # or the job's results/settings/... file
  python workflow_scripts/train.py --config-json config.json --experiment mixed \
      --mix results/data/mix/mixed.parquet --base-model results/models/tiny-qwen2_5_vl \
      --output-dir results/runs/mixed

Without --in-process the script launches the job as `train.launcher.kind` says (vero.train.launch:
plain python on CPU, accelerate on one or several GPUs, srun + accelerate on several nodes) and
that launched process runs this script again with --in-process. The final model is written to
OUTPUT_DIR/final; a rerun resumes from the newest complete OUTPUT_DIR/checkpoint-* (--resume auto).

Exit status: 0 trained; 143 stopped by a signal after saving its checkpoint (rerun to resume); 1 an
error. The error's one-line summary (what failed, with its path or endpoint) goes to stderr, which
the train rule sends to the job log, and to --error-fd, which the rule points at Snakemake's own
stderr: with a full disk the job log may not take another byte, and the reason still shows next to
Snakemake's error. After the SLURM time-limit warning (SIGURG, profiles/slurm) the job puts itself
back in the queue (`scontrol requeue`), so Snakemake keeps waiting on the same job id.
"""

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from vero.runtime import setup_cpu

PREEMPTED_EXIT = 143  # 128 + SIGTERM: stopped by a signal, checkpoint saved


def report(message: str, error_fd: int | None) -> None:
    """Say `message` on stderr and on `error_fd`; neither failing (a full disk) hides the other."""
    line = (message.rstrip("\n") + "\n").encode("utf-8", "replace")
    for fd in dict.fromkeys([2, error_fd]):
        if fd is None:
            continue
        with contextlib.suppress(OSError):
            os.write(fd, line)


def requeue_this_job() -> str | None:
    """`scontrol requeue` of the SLURM job this process runs in; returns what happened (None outside
    SLURM). Only rank 0 asks."""
    job = os.environ.get("SLURM_JOB_ID")
    if not job or int(os.environ.get("RANK", "0")) != 0:
        return None
    scontrol = shutil.which("scontrol")
    if scontrol is None:
        return f"SLURM job {job}: scontrol not found, not requeued (Snakemake's retries resubmit it)"
    done = subprocess.run([scontrol, "requeue", job], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return (
            f"SLURM job {job}: `scontrol requeue` failed ({done.stderr.strip() or done.returncode}); "
            "Snakemake's retries resubmit it"
        )
    return f"SLURM job {job} requeued; it resumes from the checkpoint when it starts again"


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
    p.add_argument(
        "--heldout",
        nargs="*",
        default=[],
        help="data/heldout/{category}.parquet: the held-out split of train.validation",
    )
    p.add_argument("--in-process", action="store_true", help="train here (the launched process)")
    p.add_argument(
        "--error-fd",
        type=int,
        help="also write the final error line to this open descriptor (the rule passes Snakemake's stderr)",
    )
    a = p.parse_args(argv)
    error_fd = a.error_fd
    if error_fd is not None:
        try:
            os.fstat(error_fd)
        except OSError:
            error_fd = None
    setup_cpu()

    from vero.config import ConfigError, resolve_experiment
    from vero.settings import load_job_settings

    try:
        cfg = load_job_settings(a.config_json)
        resume = a.resume or resolve_experiment(cfg, a.experiment)["train"]["resume"]
        kind = resolve_experiment(cfg, a.experiment)["train"]["launcher"]["kind"]
    except ConfigError as exc:
        report(f"train: {exc}", error_fd)
        sys.exit(1)

    if not a.in_process and kind != "cpu":
        from vero.train.launch import run_launched

        code = run_launched(
            cfg,
            config_json=str(a.config_json),
            experiment=a.experiment,
            mix=str(a.mix),
            base_model=a.base_model,
            output_dir=str(a.output_dir),
            resume=resume,
            python=sys.executable,
            script=__file__,
            heldout=a.heldout,
        )
        if code:
            report(
                f"train: {a.experiment}: the launched training exited with status {code}; its own "
                "message (a checkpoint saved after a signal, or the error) is in the job log above",
                error_fd,
            )
        sys.exit(code)

    from vero.rewards.judge import JudgeError, JudgeUnavailable
    from vero.train import run_experiment
    from vero.train.trainer import TrainingPreempted

    try:
        final = run_experiment(
            cfg, a.experiment, a.output_dir, a.mix, a.base_model, resume=resume, heldout=a.heldout
        )
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):  # trained: a late signal changes nothing
            signal.signal(sig, signal.SIG_IGN)
    except TrainingPreempted as exc:  # checkpoint saved; SLURM requeues, the rerun resumes
        report(f"train: {exc}", error_fd)
        if exc.requeue:
            requeued = requeue_this_job()
            if requeued:
                report(f"train: {requeued}", error_fd)
        elif exc.signal_name == "SIGURG" and os.environ.get("SLURM_JOB_ID"):
            report(
                "train: the time-limit warning came before this start finished a step: the job's time "
                "limit (resources.train_experiment.runtime) is shorter than the --signal lead of the "
                "profile; not requeued",
                error_fd,
            )
        sys.exit(PREEMPTED_EXIT)
    except (JudgeUnavailable, JudgeError, ConfigError) as exc:
        report(f"train: {a.experiment}: {exc}", error_fd)
        sys.exit(1)
    except OSError as exc:  # disk full, read-only results, a missing file: the message names the path
        where = f"{exc.filename}: " if exc.filename and str(exc.filename) not in str(exc) else ""
        report(f"train: {a.experiment}: {where}{exc}", error_fd)
        sys.exit(1)
    print(json.dumps({"experiment": a.experiment, "final": final}))


if __name__ == "__main__":
    main()
