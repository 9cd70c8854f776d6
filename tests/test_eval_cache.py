"""The generation-output cache is keyed on content: the same model, prompts and settings reuse the
outputs an earlier attempt generated; changed weights (even in place), prompts or sampling do not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vero.config import load_config
from vero.eval import evaluate as ev
from vero.eval.backends import Backend, Generation
from vero.eval.cache import directory_fingerprint, model_fingerprint

REPO = Path(__file__).resolve().parent.parent


class CountingBackend(Backend):
    """Answers every sample the same way and counts the generate calls."""

    name = "counting"

    def __init__(self):
        self.calls = 0

    def generate(self, samples, **kw):
        self.calls += 1
        return Generation(
            [f"<think>t</think><answer>{self.calls}</answer>" for _ in samples], [3] * len(samples), 0.1
        )


def _write_weights(run: Path, content: bytes) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text('{"model_type": "qwen2_5_vl"}')
    (run / "model.safetensors").write_bytes(content)
    (run / "optimizer.pt").write_bytes(os.urandom(64))  # trainer state: not part of the key


def test_fingerprint_follows_bytes_not_paths_or_trainer_state(tmp_path):
    run = tmp_path / "final"
    _write_weights(run, b"\x00" * 4096)
    first = model_fingerprint(str(run))
    (run / "optimizer.pt").write_bytes(os.urandom(64))
    assert model_fingerprint(str(run)) == first
    st = (run / "model.safetensors").stat()
    (run / "model.safetensors").write_bytes(b"\x01" + b"\x00" * 4095)  # same size ...
    os.utime(run / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns))  # ... and same mtime
    assert model_fingerprint(str(run)) != first  # content mode reads the bytes
    stat = directory_fingerprint(run, mode="stat")
    assert stat["model.safetensors"] == [4096, st.st_mtime_ns] and "optimizer.pt" not in stat
    assert model_fingerprint("org/absent-model")["resolved"] is False  # hub id not in the cache: id only


@pytest.fixture
def job(tmp_path, monkeypatch):
    """A mini-suite job of experiment `mixed` whose scoring fails once, leaving its outputs."""
    from tests.test_eval_workflow import write_heldout

    results = tmp_path / "results"
    cfg = load_config(
        REPO / "config" / "demo.yaml",
        overrides={
            "results_dir": str(results),
            "experiments": {"mixed": {"categories": "all", "ablation": "main"}},
            "eval": {"benchmarks": ["mini_stem"], "max_samples": 3},
        },
    )
    write_heldout(results, ["stem"])
    run = results / "runs" / "mixed" / "final"
    _write_weights(run, b"weights-v1" * 100)
    out = results / "eval" / "mixed" / "final"
    real_score_all = ev.score_all
    state = {"fail": True}

    def flaky_score_all(*a, **kw):
        if state["fail"]:
            state["fail"] = False
            raise RuntimeError("judge outage")
        return real_score_all(*a, **kw)

    monkeypatch.setattr(ev, "score_all", flaky_score_all)

    def attempt(cfg=cfg, backend=None, fail=False):
        state["fail"] = fail
        backend = backend or CountingBackend()
        kw = dict(experiment="mixed", checkpoint="final", benchmark="mini_stem", backend=backend, judge=None)
        try:
            s = ev.evaluate_benchmark(
                cfg, out_jsonl=out / "mini_stem.jsonl", out_summary=out / "mini_stem.json", **kw
            )
        except RuntimeError:
            s = None
        return backend.calls, s

    return attempt, run, out, cfg


def test_rerun_after_a_scoring_failure_reuses_outputs_of_the_same_model(job):
    attempt, _run, out, _cfg = job
    calls, summary = attempt(fail=True)
    assert calls == 1 and summary is None and (out / "mini_stem.jsonl.generated.json").exists()
    calls, summary = attempt()
    assert calls == 0 and summary["generation"]["reused_outputs"] is True
    assert not (out / "mini_stem.jsonl.generated.json").exists()  # removed once scoring succeeded


def test_retrained_weights_in_place_are_never_served_stale_outputs(job):
    attempt, run, _out, _cfg = job
    assert attempt(fail=True)[0] == 1
    _write_weights(run, b"weights-v2" * 100)  # a retrain into the same run directory
    calls, summary = attempt()
    assert calls == 1 and summary["generation"]["reused_outputs"] is False


def test_changed_sampling_or_prompt_regenerates(job):
    attempt, _run, _out, cfg = job
    assert attempt(fail=True)[0] == 1
    hotter = {**cfg, "eval": {**cfg["eval"], "temperature": 0.9}}
    assert attempt(cfg=hotter, fail=True)[0] == 1  # new setting: generated again (and kept)
    other_prompt = {**hotter, "eval": {**hotter["eval"], "system_prompt": "release_harness"}}
    calls, summary = attempt(cfg=other_prompt)
    assert calls == 1 and summary["generation"]["system_prompt_text"] == "You are a helpful assistant."
