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
    assert model_path_for(demo, "base", "final") == "out/models/tiny-qwen2_5_vl-warm"  # warm-started
    cold = load_config(
        REPO / "config" / "demo.yaml",
        overrides={"results_dir": "out", "model": {"tiny": {"warm_start": {"steps": 0}}}},
    )
    assert model_path_for(cold, "base", "final") == "out/models/tiny-qwen2_5_vl"
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
    more = paper["reward"]["judge"]["serve"]["gpus"] + 4
    assert eval_job_gpus(paper, "mmvet_v2", more) == more  # generation needs more anyway
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


def test_sampling_defaults_are_the_releases():
    from vero.eval.evaluate import generation_settings

    paper = load_config(REPO / "config" / "config.yaml")
    s = generation_settings(paper)
    assert (s["temperature"], s["top_p"], s["max_new_tokens"]) == (0.6, 0.95, 16384)


def test_system_turn_modes():
    from vero.eval.prompting import RELEASE_HARNESS_SYSTEM_PROMPT, resolve_system_prompt
    from vero.prompts import SYSTEM_PROMPT

    paper = load_config(REPO / "config" / "config.yaml")
    assert paper["eval"]["system_prompt"] == "project"  # checkpoints trained here: the training prompt
    assert backend_kwargs(paper)["system_prompt"] == SYSTEM_PROMPT
    model = load_config(REPO / "config" / "config.yaml", overrides={"eval": {"system_prompt": "model"}})
    assert resolve_system_prompt(model) is None and backend_kwargs(model)["system_prompt"] is None
    assert resolve_system_prompt(paper, "release_harness") == RELEASE_HARNESS_SYSTEM_PROMPT
    custom = load_config(
        REPO / "config" / "config.yaml",
        overrides={"eval": {"system_prompt": "custom", "system_prompt_text": "Hi."}},
    )
    assert resolve_system_prompt(custom) == "Hi."
    with pytest.raises(ValueError, match=r"eval\.system_prompt_text"):
        resolve_system_prompt({"eval": {"system_prompt": "custom"}})
    no_turn = load_config(REPO / "config" / "config.yaml", overrides={"train": {"system_prompt": ""}})
    assert resolve_system_prompt(no_turn) is None  # "" = no system turn, as in training


def test_messages_put_images_before_text_and_replay_turns():
    from vero.eval.prompting import sample_messages
    from vero.eval.samples import EvalSample

    s = EvalSample("1", "b", "stem", "Q?", [b"a", b"b"], (1, 1), "reward", "A")
    assert sample_messages(s, "Sys") == [
        {"role": "system", "content": [{"type": "text", "text": "Sys"}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Q?"}]},
    ]
    turns = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A chart."}]},
        {"role": "user", "content": [{"type": "text", "text": "Which year?"}]},
    ]
    s.messages = turns
    assert sample_messages(s) == turns and sample_messages(s) is not turns
