"""Step time and peak memory of the project's trainer vs bare TRL GRPOTrainer, on CPU.

  OMP_NUM_THREADS=1 python benchmarks/train_step.py [--steps 12] [--repeats 2]

Both sides train the same tiny Qwen2.5-VL on the same VeroMini mix with the same GRPOConfig
(the demo's GSPO settings, every completion generated to the length limit so both sides do the
same work) and the same Vero reward:
  vero  `vero.train.run_experiment` as the train rule runs it: block sampler, train_log.jsonl,
        rollouts.jsonl, per-category metrics, run files (W&B disabled on both sides);
  bare  `trl.GRPOTrainer` built from the identical GRPOConfig with the plain reward function.
Each side runs in its own process (so peak RSS is its own), alternating `--repeats` times.
Step time is the median optimizer-step wall time after `--warmup` steps; peak memory is the
process's max RSS. The ratios vero / bare are printed last (target <= 1.10).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _setup(work: Path, steps: int) -> tuple[dict, Path, Path]:
    """Config, mix and tiny model shared by both sides (built once by the parent)."""
    from vero.categories import CATEGORIES
    from vero.config import deep_merge, load_config, validate_config
    from vero.data.io import write_records
    from vero.data.mixing import build_mix
    from vero.data.veromini import generate_veromini
    from vero.models import build_tiny_vlm

    cfg = load_config(REPO / "config" / "demo.yaml")
    cfg = validate_config(
        deep_merge(
            cfg,
            {
                "results_dir": str(work),
                "wandb": {"mode": "disabled"},
                "train": {
                    "max_steps": steps,
                    "save_steps": steps + 1,
                    "logging_steps": 1,
                    # every completion runs to the length limit: equal work on both sides
                    "generation_kwargs": {"min_new_tokens": cfg["train"]["max_completion_length"]},
                },
            },
        )
    )
    n = cfg["mix"]["batch_size"] // len(CATEGORIES) * steps
    paths = {}
    for c in CATEGORIES:
        paths[c] = work / "filtered" / f"{c}.parquet"
        write_records(paths[c], generate_veromini(n, seed=11, categories=[c]))
    mix = work / "mix.parquet"
    build_mix(paths, list(CATEGORIES), n, cfg["mix"]["batch_size"], None, 0, mix)
    model = build_tiny_vlm(cfg["model"]["family"], work / "tiny", **cfg["model"]["tiny"])
    return cfg, mix, model


def _step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter() - self._t)

    return StepTimer()


def run_side(side: str, cfg_path: Path, mix: Path, model_dir: Path, out: Path) -> dict:
    from vero.runtime import setup_cpu

    setup_cpu()
    cfg = json.loads(cfg_path.read_text())
    timer = _step_timer()
    if side == "vero":
        from vero.train import run_experiment

        run_experiment(cfg, "mixed", out, mix, model_dir, resume="never", callbacks=[timer])
        history = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    else:
        from transformers import set_seed
        from trl import GRPOConfig, GRPOTrainer

        from vero.config import resolve_experiment
        from vero.models import coords_for, load_model_and_processor, model_load_kwargs
        from vero.rewards import make_trl_reward
        from vero.train.data import load_mix
        from vero.train.trl_config import VERO_ONLY_KEYS, grpo_config_kwargs, max_completion_length

        resolved = resolve_experiment(cfg, "mixed")
        set_seed(int(resolved["seed"]))
        dataset, _ = load_mix(mix, mix_batch_size=resolved["mix"]["batch_size"], single_category=False)
        model, processor = load_model_and_processor(str(model_dir), **model_load_kwargs(resolved))
        coords = coords_for(resolved["model"]["family"])
        reward = make_trl_reward(
            resolved["reward"], coords=coords, max_completion_tokens=max_completion_length(resolved)
        )
        kwargs = grpo_config_kwargs(resolved, str(out), num_processes=1, run_name="bare")
        args = GRPOConfig(**{k: v for k, v in kwargs.items() if k not in VERO_ONLY_KEYS})
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[reward],
            args=args,
            train_dataset=dataset,
            processing_class=processor,
            callbacks=[timer],
        )
        trainer.train()
        history = trainer.state.log_history
    lengths = [h["completions/mean_length"] for h in history if "completions/mean_length" in h]
    return {
        "step_times": timer.times,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "mean_completion_length": statistics.mean(lengths),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=12, help="optimizer steps per run")
    p.add_argument("--warmup", type=int, default=2, help="first steps left out of the median")
    p.add_argument("--repeats", type=int, default=2, help="runs per side, alternating")
    p.add_argument("--side", choices=["vero", "bare"], help=argparse.SUPPRESS)  # child process
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    if a.side:
        result = run_side(a.side, a.work / "config.json", a.work / "mix.parquet", a.work / "tiny", a.out)
        (a.out / "bench.json").write_text(json.dumps(result))
        return

    from vero.runtime import setup_cpu

    setup_cpu()
    with tempfile.TemporaryDirectory(prefix="vero-train-bench-") as tmp:
        work = Path(tmp)
        cfg, _, _ = _setup(work, a.steps)
        (work / "config.json").write_text(json.dumps(cfg))
        results: dict[str, list[dict]] = {"bare": [], "vero": []}
        for r in range(a.repeats):
            for side in ("bare", "vero"):
                out = work / f"{side}-{r}"
                out.mkdir()
                cmd = [sys.executable, __file__, "--side", side, "--work", str(work), "--out", str(out)]
                env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "disabled"}
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if proc.returncode:
                    sys.exit(f"{side} run failed:\n{proc.stderr[-4000:]}")
                results[side].append(json.loads((out / "bench.json").read_text()))

    def median_step(side: str) -> float:
        per_run = [statistics.median(r["step_times"][a.warmup :]) for r in results[side]]
        return statistics.median(per_run)

    def peak(side: str) -> float:
        return statistics.median(r["peak_rss_mb"] for r in results[side])

    print(f"tiny {cfg['model']['family']}, {a.steps} steps x {a.repeats} runs per side, CPU, 1 thread")
    print(f"{'side':6} {'median step (s)':>16} {'peak RSS (MB)':>14} {'completion tokens':>18}")
    for side in ("bare", "vero"):
        length = statistics.mean(r["mean_completion_length"] for r in results[side])
        print(f"{side:6} {median_step(side):16.3f} {peak(side):14.0f} {length:18.1f}")
    print(f"step time ratio vero/bare: {median_step('vero') / median_step('bare'):.3f}")
    print(f"peak memory ratio vero/bare: {peak('vero') / peak('bare'):.3f}")


if __name__ == "__main__":
    main()
