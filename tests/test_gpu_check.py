"""scripts/gpu_check.sh --dry-run on CPU: every step's config and command is built and validated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_dry_run_passes_on_cpu(tmp_path):
    env = {**os.environ, "VERO_GPU_PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        ["bash", str(REPO / "scripts/gpu_check.sh"), "--dry-run", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    assert result["dry_run"] is True and len(result["would_run"]) == 3
    for flag in ("use_vllm = True", "vllm_mode = colocate", "vllm_enable_sleep_mode = True", "bf16 = True"):
        assert f"GSPO step: {flag}" in proc.stdout
    cmd = result["fsdp_command"]
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"] and cmd[cmd.index("--config_file") + 1].endswith(
        "multi_gpu_fsdp.yaml"
    )
    assert (tmp_path / "work" / "tiny-qwen3_vl" / "config.json").is_file()
    assert 0 < result["plan_peak_gib"] < 80  # the tiny model's plan was made and fits
    assert "trl" in result["versions"] and "envs/gpu.yaml mismatches" in result["versions"]


def test_gpu_check_refuses_an_interpreter_without_vllm(tmp_path):
    """Without --dry-run, an interpreter lacking vLLM/TRL is an error naming what to do, not a skip."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    proc = subprocess.run(
        ["bash", str(REPO / "scripts/gpu_check.sh"), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env={**os.environ, "VERO_GPU_PYTHON": str(fake)},
        timeout=60,
    )
    assert proc.returncode == 3 and "VERO_GPU_INSTALL=1" in proc.stderr
