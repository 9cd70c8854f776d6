"""One prepared check of the GPU path on a CUDA machine without hub access (scripts/gpu_check.sh).

    python -m vero.gpucheck --out DIR [--dry-run]

Steps, each timed, with the GPU's peak memory:
  1. versions: python, torch / CUDA, vLLM, TRL, transformers, accelerate, attention kernels, and
     the pins of envs/gpu.yaml the interpreter does not hold
  2. build the tiny Qwen3-VL offline (vero.models.build_tiny_vlm) and a 12-row VeroMini mix
  3. two GSPO steps through vero.train.run_experiment with TRL's colocated vLLM and sleep mode,
     bf16 (the paper config's rollout settings: importance-sampling correction off)
  4. one FSDP2 step: the multi_gpu launcher (accelerate launch, config/accelerate/multi_gpu_fsdp.yaml)
     on this machine's GPUs, vLLM colocated as in 3
  5. one evaluation of the step-3 model with the `vllm` backend on the mini suite
Results land in DIR/gpu_check.json (and each step's log in DIR). `--dry-run` runs nothing on a
GPU: it builds and validates every step's config and command and prints them (CPU; a test runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from vero.config import deep_merge, load_config

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("torch", "vllm", "trl", "transformers", "accelerate", "datasets", "flash_attn", "deepspeed")


def versions() -> dict:
    import importlib

    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = getattr(importlib.import_module(name), "__version__", "?")
        except Exception as exc:  # report, do not stop: the check says what is missing
            out[name] = f"missing ({type(exc).__name__})"
    try:
        import torch

        out["cuda"] = torch.version.cuda
        out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception as exc:
        out["cuda"] = f"unavailable ({exc})"
    out["attention"] = (
        "flash_attention_2" if not str(out.get("flash_attn", "")).startswith("missing") else "sdpa"
    )
    from vero.envcheck import installed_mismatches, installed_versions, read_env

    spec = read_env(REPO / "envs" / "gpu.yaml")
    out["envs/gpu.yaml mismatches"] = installed_mismatches(spec, installed_versions(sys.executable))
    return out


def check_config(work: Path, model_dir: Path, *, gpus: int) -> dict:
    """The demo config turned into the GPU path: tiny Qwen3-VL, vLLM colocate + sleep, bf16."""
    cfg = load_config(
        REPO / "config" / "demo.yaml",
        {
            "results_dir": str(work / "results"),
            "model": {"family": "qwen3_vl", "base": str(model_dir), "dtype": "bfloat16"},
            "wandb": {"mode": "disabled"},
            "train": {
                "use_vllm": True,
                "vllm_enable_sleep_mode": True,
                "vllm_gpu_memory_utilization": 0.3,
                "vllm_importance_sampling_correction": False,
                "precision": "bf16",
                "max_steps": 2,
                "save_steps": 2,
                "max_completion_length": 32,
                "batch_size": 6,
                "mini_batch_size": 6,
                "num_generations": 2,
                "launcher": {"kind": "single_gpu"},
                "plan": {"gpu_memory_gib": 80},
            },
            "eval": {
                "backend": "vllm",
                "max_samples": 4,
                "max_new_tokens": 32,
                "vllm": {"gpu_memory_utilization": 0.3},
            },
        },
    )
    fsdp = deep_merge(
        cfg,
        {
            "train": {
                "max_steps": 1,
                "save_steps": 1,
                "launcher": {
                    "kind": "multi_gpu",
                    "gpus_per_node": gpus,
                    "accelerate_config": str(REPO / "config/accelerate/multi_gpu_fsdp.yaml"),
                },
            }
        },
    )
    return {"gspo": cfg, "fsdp": fsdp}


def write_inputs(work: Path) -> tuple[Path, Path]:
    """The tiny Qwen3-VL (text head_dim 32) and a 12-row mix in the data stage's block order."""
    from vero.categories import CATEGORIES
    from vero.data.io import write_records
    from vero.data.veromini import generate_veromini
    from vero.models import build_tiny_vlm

    model_dir = work / "tiny-qwen3_vl"
    if not (model_dir / "config.json").is_file():
        build_tiny_vlm("qwen3_vl", model_dir)
    mix = work / "mix.parquet"
    by_cat = {c: list(generate_veromini(2, seed=5, categories=[c])) for c in CATEGORIES}
    write_records(mix, [by_cat[c][b] for b in range(2) for c in CATEGORIES])
    for c in CATEGORIES:  # the mini suite for step 5
        write_records(
            work / "results" / "data" / "heldout" / f"{c}.parquet",
            generate_veromini(2, seed=0, split="heldout", categories=[c]),
        )
    return model_dir, mix


def fsdp_command(cfg: dict, work: Path, model_dir: Path, mix: Path) -> list[str]:
    from vero.config import resolve_experiment
    from vero.train.launch import build_train_command

    config_json = work / "fsdp_config.json"
    config_json.write_text(json.dumps(cfg))
    return build_train_command(
        resolve_experiment(cfg, "mixed"),
        config_json=str(config_json),
        experiment="mixed",
        mix=str(mix),
        base_model=str(model_dir),
        output_dir=str(work / "fsdp_run"),
        resume="never",
        python=sys.executable,
        script=str(REPO / "workflow_scripts" / "train.py"),
    )


def step_timer():
    """A TrainerCallback recording each optimizer step's wall time (s)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []
            self._t = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self._t = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(round(time.monotonic() - self._t, 2))

    return StepTimer()


class GpuMemory:
    """Peak GPU memory used (MiB, all processes) sampled with nvidia-smi while a step runs."""

    def __init__(self):
        self.proc = None
        self.samples: list[int] = []

    def __enter__(self):
        try:
            self.proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-lms", "250"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        except FileNotFoundError:
            self.proc = None
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.terminate()
            out, _ = self.proc.communicate(timeout=10)
            self.samples = [int(x) for x in out.split() if x.strip().isdigit()]

    @property
    def peak_mib(self) -> int | None:
        return max(self.samples) if self.samples else None


def run(out: Path, dry_run: bool) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    result: dict = {"dry_run": dry_run, "steps": {}}
    t0 = time.monotonic()
    result["versions"] = versions()
    print(f"[gpu_check] versions: {json.dumps(result['versions'])}", flush=True)

    t = time.monotonic()
    model_dir, mix = write_inputs(work)
    result["steps"]["build_tiny_vlm_and_mix"] = {"seconds": round(time.monotonic() - t, 1)}
    gpus = 1 if dry_run else max(1, int(__import__("torch").cuda.device_count()))
    cfgs = check_config(work, model_dir, gpus=gpus)
    from vero.config import resolve_experiment
    from vero.train.trl_config import grpo_config_kwargs

    trl = grpo_config_kwargs(
        resolve_experiment(cfgs["gspo"], "mixed"), str(work / "run"), num_processes=1, use_cpu=False
    )
    for key in (
        "use_vllm",
        "vllm_mode",
        "vllm_enable_sleep_mode",
        "vllm_importance_sampling_correction",
        "bf16",
    ):
        print(f"[gpu_check] GSPO step: {key} = {trl[key]}", flush=True)
    from vero.plan import check_fits

    plan = check_fits(resolve_experiment(cfgs["gspo"], "mixed"), base_model=str(model_dir), num_processes=1)
    result["plan_peak_gib"] = max(v for v in plan.phases_gib.values() if v is not None)
    cmd = fsdp_command(cfgs["fsdp"], work, model_dir, mix)
    print(f"[gpu_check] FSDP2 step: {shlex.join(cmd)}", flush=True)
    result["fsdp_command"] = cmd
    plan_steps = [
        "GSPO x2: vero.train.run_experiment (TRL colocate vLLM, sleep mode, bf16)",
        "FSDP2 x1: " + shlex.join(cmd[:6]) + " ...",
        "eval: vero.eval.evaluate.evaluate_benchmark backend vllm, mini suite, 4 samples",
    ]
    if dry_run:
        for s in plan_steps:
            print(f"[gpu_check] would run: {s}", flush=True)
        result["would_run"] = plan_steps
        return result

    import torch

    from vero.train import run_experiment

    t = time.monotonic()
    torch.cuda.reset_peak_memory_stats()
    timer = step_timer()
    with GpuMemory() as mem:
        final = run_experiment(
            cfgs["gspo"], "mixed", work / "results" / "runs" / "mixed", mix, model_dir, callbacks=[timer]
        )
    log = [json.loads(x) for x in (work / "results/runs/mixed/train_log.jsonl").read_text().splitlines()]
    result["steps"]["gspo_vllm_colocate_sleep_bf16"] = {
        "seconds": round(time.monotonic() - t, 1),
        "step_times_s": timer.times,
        "steps": [e["step"] for e in log if "loss" in e],
        "peak_allocated_mib": torch.cuda.max_memory_allocated() // 2**20,
        "peak_gpu_used_mib": mem.peak_mib,
        "final": final,
    }

    t = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with GpuMemory() as mem, open(out / "fsdp_step.log", "w") as logf:
        code = subprocess.run(cmd, env=env, stdout=logf, stderr=subprocess.STDOUT, cwd=REPO).returncode
    result["steps"]["fsdp2_step"] = {
        "seconds": round(time.monotonic() - t, 1),
        "exit_status": code,
        "peak_gpu_used_mib": mem.peak_mib,
    }

    from vero.eval.evaluate import evaluate_benchmark

    t = time.monotonic()
    with GpuMemory() as mem:
        summary = evaluate_benchmark(
            cfgs["gspo"],
            experiment="mixed",
            checkpoint="final",
            benchmark="mini_stem",
            out_jsonl=str(out / "eval_mini_stem.jsonl"),
            out_summary=str(out / "eval_mini_stem.json"),
        )
    result["steps"]["eval_vllm_backend"] = {
        "seconds": round(time.monotonic() - t, 1),
        "n": summary.get("n"),
        "peak_gpu_used_mib": mem.peak_mib,
    }
    result["total_seconds"] = round(time.monotonic() - t0, 1)
    result["ok"] = code == 0 and result["steps"]["gspo_vllm_colocate_sleep_bf16"]["steps"] == [1, 2]
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--dry-run", action="store_true")
    a = p.parse_args(argv)
    out = Path(a.out)
    result = run(out, a.dry_run)
    (out / "gpu_check.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"[gpu_check] wrote {out / 'gpu_check.json'}", flush=True)
    return 0 if result.get("ok", a.dry_run) else 1


if __name__ == "__main__":
    sys.exit(main())
