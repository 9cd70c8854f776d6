"""Job-level helpers of vero.eval.evaluate: config file, model paths, backend settings, CLI pairs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vero.config import ConfigError, load_config
from vero.eval.evaluate import (
    backend_kwargs,
    eval_job_gpus,
    judge_for,
    load_config_json,
    model_path_for,
    parse_named_paths,
)

REPO = Path(__file__).resolve().parent.parent


def test_load_config_json_validates_and_names_the_file(tmp_path):
    cfg = load_config(REPO / "config" / "demo.yaml")
    good = tmp_path / "resolved.json"
    good.write_text(json.dumps(cfg))
    assert load_config_json(good)["eval"]["suite"] == "mini"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**cfg, "eval": {**cfg["eval"], "backend": "tgi"}}))
    with pytest.raises(ConfigError, match=r"(?s)bad\.json.*eval\.backend"):
        load_config_json(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config_json(tmp_path / "absent.json")


def test_model_paths_for_base_and_runs():
    demo = load_config(REPO / "config" / "demo.yaml", overrides={"results_dir": "out"})
    assert model_path_for(demo, "base", "final") == "out/models/tiny-qwen2_5_vl"
    assert model_path_for(demo, "mixed", "checkpoint-2") == "out/runs/mixed/checkpoint-2"
    paper = load_config(REPO / "config" / "config.yaml")
    assert model_path_for(paper, "base", "final") == "Qwen/Qwen3-VL-8B-Instruct"
    with pytest.raises(ValueError, match="only the checkpoint 'final'"):
        model_path_for(paper, "base", "checkpoint-40")
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        model_path_for(paper, "nope", "final")


def test_backend_settings_come_from_config():
    paper = load_config(
        REPO / "config" / "config.yaml", overrides={"eval": {"backend": "vllm", "tensor_parallel_size": 4}}
    )
    kw = backend_kwargs(paper)
    assert (kw["tensor_parallel_size"], kw["gpu_memory_utilization"], kw["dtype"]) == (4, 0.85, "bfloat16")
    assert kw["max_pixels"] == 16777216
    demo = load_config(REPO / "config" / "demo.yaml", overrides={"eval": {"backend": "openai"}})
    kw = backend_kwargs(demo)
    assert kw["base_url"] == "http://127.0.0.1:8000/v1" and kw["api_key_env"] == "VERO_EVAL_API_KEY"


def test_parse_named_paths():
    assert parse_named_paths(["base=a/s.json", "mixed=b=c.json"], "--summary") == {
        "base": "a/s.json",
        "mixed": "b=c.json",
    }
    with pytest.raises(ValueError, match="--summary expects NAME=PATH"):
        parse_named_paths(["base"], "--summary")
    with pytest.raises(ValueError, match="given twice"):
        parse_named_paths(["a=1", "a=2"], "--summary")


def test_judge_served_in_the_job_gets_its_gpus():
    paper = load_config(REPO / "config" / "config.yaml")  # judge served on 2 GPUs
    assert eval_job_gpus(paper, "mmvet_v2", 1) == paper["reward"]["judge"]["serve"]["gpus"]  # judge-scored
    assert eval_job_gpus(paper, "chartqa", 1) == 1
    assert eval_job_gpus(paper, "mmvet_v2", 4) == 4  # generation needs more anyway
    external = load_config(
        REPO / "config" / "config.yaml", overrides={"reward": {"judge": {"serve": {"enabled": False}}}}
    )
    assert eval_job_gpus(external, "mmvet_v2", 1) == 1
    demo = load_config(REPO / "config" / "demo.yaml")  # judge off
    assert eval_job_gpus(demo, "mini_captioning_if", 0) == 0


def test_judge_client_from_config_or_none():
    demo = load_config(REPO / "config" / "demo.yaml")
    with judge_for(demo) as judge:
        assert judge is None
    external = load_config(
        REPO / "config" / "config.yaml",
        overrides={"reward": {"judge": {"serve": {"enabled": False}, "base_url": "http://judge:9000/v1"}}},
    )
    with judge_for(external) as judge:
        assert judge.endpoint.startswith("http://judge:9000/v1")
    with judge_for(external, needed=False) as judge:
        assert judge is None  # no judge-scored sample: no client, no server
