"""The conda environments resolve for a Linux CUDA machine (vero.envcheck; needs the package index).

These tests reach PyPI, as CI does. Without the index they FAIL (IndexUnreachable), they do not
skip: an environment check that passes without looking would say nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vero import envcheck

REPO = Path(__file__).resolve().parents[1]
ENV_FILES = envcheck.default_env_files(REPO)


@pytest.fixture(scope="module")
def resolutions():
    resolved, errors = envcheck.resolve_all(ENV_FILES)
    assert not errors, "\n\n".join(str(e) for e in errors)
    return {r.spec.path.name: r for r in resolved}


def test_every_env_file_resolves_for_linux_cuda(resolutions):
    assert sorted(resolutions) == sorted(p.name for p in ENV_FILES) and len(ENV_FILES) >= 3
    gpu = resolutions["gpu.yaml"].packages
    # one environment holds TRL, vLLM and a transformers with `activation_checkpointing` (>= 5.23)
    assert gpu["vllm"] == "0.30.0" and gpu["trl"] == "1.16.0" and gpu["torch"] == "2.13.0"
    major, minor = (int(x) for x in gpu["transformers"].split(".")[:2])
    assert (major, minor) >= (5, 23)
    assert tuple(int(x) for x in gpu["numpy"].split(".")[:2]) < (2, 4)  # mistral-common on <= 3.12
    # the Linux wheel of torch is the CUDA build: its CUDA libraries come with it
    assert any(name.startswith("nvidia-") for name in gpu), sorted(gpu)
    assert "flash-attn" not in gpu  # source-only on PyPI: never built by the env (gpu.post-deploy.sh)
    # serving runs the same vLLM as the rollouts
    assert resolutions["vllm.yaml"].packages["vllm"] == gpu["vllm"]


def test_a_conflict_fails_naming_both_sides(tmp_path):
    """The pins envs/vllm.yaml had before (vllm 0.33.0 needs torch 2.14.0)."""
    env = tmp_path / "vllm_old.yaml"
    env.write_text(
        "dependencies:\n  - python=3.11\n  - pip\n  - pip:\n      - vllm==0.33.0\n      - torch==2.13.0\n"
    )
    with pytest.raises(envcheck.EnvCheckError) as info:
        envcheck.resolve(envcheck.read_env(env))
    message = str(info.value)
    assert not isinstance(info.value, envcheck.IndexUnreachable), message
    assert str(env) in message and "torch==2.14.0" in message and "torch==2.13.0" in message


def test_an_unreachable_index_fails_loudly(monkeypatch, capsys):
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")  # fail fast (uv retries 3 times by default)
    spec = envcheck.read_env(REPO / "envs" / "vllm.yaml")
    with pytest.raises(envcheck.IndexUnreachable, match="NOT checked"):
        envcheck.resolve(spec, index_url="http://127.0.0.1:9/simple", timeout_s=120)
    # and the command line exits non-zero saying so
    assert envcheck.main(["--index-url", "http://127.0.0.1:9/simple", str(REPO / "envs/vllm.yaml")]) == 1
    assert "FAILED" in capsys.readouterr().err


def test_env_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "nopython.yaml"
    bad.write_text("dependencies:\n  - pip\n  - pip: [httpx==0.28.1]\n")
    with pytest.raises(envcheck.EnvCheckError, match=re.escape(str(bad))):
        envcheck.read_env(bad)
    nopip = tmp_path / "nopip.yaml"
    nopip.write_text("dependencies:\n  - python=3.12\n")
    with pytest.raises(envcheck.EnvCheckError, match="pip"):
        envcheck.read_env(nopip)


def test_pins_and_installed_mismatches():
    spec = envcheck.read_env(REPO / "envs" / "gpu.yaml")
    pins = spec.pins
    assert pins["trl"] == "1.16.0" and "trl[vllm]" not in pins  # extras dropped from the name
    installed = dict(pins, torch="2.13.0+cpu", transformers="5.19.0")
    installed.pop("wandb")
    out = envcheck.installed_mismatches(spec, installed, skip=["vllm", "deepspeed"])
    assert out == {
        "transformers": {"pinned": pins["transformers"], "installed": "5.19.0"},
        "wandb": {"pinned": pins["wandb"], "installed": None},
    }


def test_every_rule_env_exists_and_the_server_env_is_declared():
    """Each `conda:` a rule names is one of envs/*.yaml, and envs/vllm.yaml is one of them."""
    named = set()
    for smk in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        named |= set(re.findall(r'conda:\s*\n\s*"([^"]+)"', smk.read_text()))
    files = {(REPO / "rules" / n).resolve() for n in named}
    assert files <= {p.resolve() for p in ENV_FILES}, files
    assert (REPO / "envs" / "vllm.yaml").resolve() in files
