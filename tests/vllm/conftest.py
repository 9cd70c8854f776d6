"""The vLLM CPU tier (`make test-vllm`): settings, skip rules and shared fixtures.

These tests run inside `.venv-vllm` (scripts/vllm_env.sh), where vLLM's CPU build sits beside
torch 2.13 CPU. Elsewhere (the main `.venv` has no vLLM) every `vllm`-marked test is skipped with
a message saying so; where `make test-vllm` could not install vLLM it points
VERO_VLLM_INSTALL_FAILED at the install error, and the skip message carries that error.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

# vLLM on this VM (docs/environment.md#vllm-on-cpu): the KV cache is sized explicitly (the VM
# reports a 10 GiB NUMA node and vLLM would take most of it).
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
# One OpenMP thread per engine, the same habit as the rest of the suite.
os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

INSTALL_FAILED_ENV = "VERO_VLLM_INSTALL_FAILED"
NOT_INSTALLED = "vLLM not installed in this environment; run make test-vllm"


def vllm_skip_reason() -> str | None:
    """Why the vllm tests cannot run here, or None when they can."""
    failed = os.environ.get(INSTALL_FAILED_ENV)
    if failed:
        path = Path(failed)
        detail = path.read_text(errors="replace").strip() if path.is_file() else f"(no file {path})"
        return f"vLLM could not be installed by scripts/vllm_env.sh, so the vLLM tier did not run:\n{detail}"
    if importlib.util.find_spec("vllm") is None:
        return NOT_INSTALLED
    return None


def pytest_collection_modifyitems(config, items):
    reason = vllm_skip_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("vllm") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_text_lm_dir(tmp_path_factory) -> Path:
    """A tiny Qwen3 text model (head_dim 32): the judge stand-in."""
    from vero.models import build_tiny_text_lm

    return build_tiny_text_lm(tmp_path_factory.mktemp("tiny-judge") / "tiny-qwen3")


@pytest.fixture(scope="session")
def mini_suite_dir(tmp_path_factory) -> Path:
    """A results dir holding the VeroMini held-out split (2 samples per category): the mini suite."""
    from vero.categories import CATEGORIES
    from vero.data.io import write_records
    from vero.data.veromini import generate_veromini

    root = tmp_path_factory.mktemp("mini-results")
    for category in CATEGORIES:
        rows = generate_veromini(2, seed=0, split="heldout", categories=[category])
        write_records(root / "data" / "heldout" / f"{category}.parquet", rows)
    return root
