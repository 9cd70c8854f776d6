"""The memory plan (vero.plan) against hand computations: the paper config and Qwen2.5-VL-7B."""

from __future__ import annotations

import json
import re

import pytest

from vero import plan as vp
from vero.config import ConfigError, deep_merge, load_config, resolve_experiment

GIB = 1024**3


@pytest.fixture(scope="module")
def paper():
    return resolve_experiment(load_config("config/config.yaml"), "mixed")


def gib(x: float) -> float:
    return round(x / GIB, 2)


@pytest.mark.parametrize(
    ("model", "total", "vision"),
    [
        ("Qwen/Qwen3-VL-8B-Instruct", 8_767_123_696, 576_388_336),
        ("Qwen/Qwen2.5-VL-7B-Instruct", 8_292_166_656, 676_550_144),
        ("XiaomiMiMo/MiMo-VL-7B-SFT", 8_301_791_232, 679_172_096),
    ],
)
def test_parameter_counts_equal_transformers_modules(model, total, vision):
    """count_params from the published dims = the parameters of transformers' own model classes
    built on the meta device from the same dims (the figures in the parametrisation)."""
    counts = vp.count_params(vp.model_dims(model))
    assert counts["total"] == total and counts["vision"] == vision


@pytest.mark.slow
def test_meta_device_models_have_the_counted_parameters():
    import torch
    from transformers import AutoModelForImageTextToText, Qwen2_5_VLConfig, Qwen3VLConfig

    for name in ("Qwen/Qwen3-VL-8B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"):
        d = vp.PUBLISHED_DIMS[name]
        cls = Qwen3VLConfig if d["model_type"] == "qwen3_vl" else Qwen2_5_VLConfig
        cfg = cls(text_config=d["text"], vision_config=d["vision"], tie_word_embeddings=False)
        with torch.device("meta"):
            model = AutoModelForImageTextToText.from_config(cfg)
        assert sum(p.numel() for p in model.parameters()) == vp.count_params(vp.model_dims(name))["total"], (
            name
        )


def test_paper_config_plan_by_hand(paper):
    """Qwen3-VL-8B, 8 GPUs FSDP2, bf16 weights, micro-batch 1 of 18,432 + 18,432 tokens, vLLM at
    0.7 of 80 GiB, the Qwen3-32B judge shared at 0.35."""
    plan = vp.make_plan(paper)
    P, N, s, c = 8_767_123_696, 8, 36_864, 18_432
    h, L, inter, kv, V = 4096, 36, 12288, 8 * 128, 151_936
    assert plan.layout["training_processes"] == N and plan.layout["micro_batch"] == 1
    mg = plan.memory_gib
    assert mg["weights"] == gib(2 * P / N) == 2.04
    assert mg["gradients"] == gib(2 * P / N)
    assert mg["optimizer"] == gib(4 * P / N) == 4.08
    largest_unit = V * h  # the embedding (and the head) outweigh a decoder layer
    assert mg["gathered_units"] == gib(4 * largest_unit)
    ad = mg["activations_detail"]
    assert ad["layer_inputs"] == gib(L * s * h * 2) == 10.12
    assert ad["layer_recompute"] == gib(s * (4 * h + 2 * kv + 3 * inter) * 2)
    assert ad["logits"] == gib(c * V * 8)
    assert ad["vision"] == gib(4 * c * 1152 * 2 * (27 + 8))
    # KV cache: 36 layers x 8 KV heads x 128 x (K, V) x 2 bytes = 147,456 B per token
    assert plan.vllm["kv_bytes_per_token"] == 147_456
    pool = 0.7 * 80 * GIB
    kv_cache = pool - 2 * P - 2 * GIB
    assert mg["vllm_pool"] == 56.0 and mg["vllm_kv_cache"] == gib(kv_cache)
    assert plan.vllm["kv_cache_tokens"] == int(kv_cache // 147_456)
    state = 2 * P / N + 4 * P / N + 4 * largest_unit
    assert plan.phases_gib["rollout"] == gib(state + pool + 1 * GIB + 3 * GIB)
    assert plan.phases_gib["scoring"] == gib(state + 0.35 * 80 * GIB + 3 * GIB)
    act = sum([L * s * h * 2, s * (4 * h + 2 * kv + 3 * inter) * 2, c * V * 8, 4 * c * 1152 * 2 * 35])
    assert plan.phases_gib["update"] == gib(state + 2 * P / N + act + 1 * GIB + 3 * GIB)
    assert plan.vllm["max_utilization_that_fits"] == round((80 * GIB - state - 4 * GIB) / (80 * GIB), 3)
    # the judge's weights: 32.8B x 2 bytes over 8 GPUs
    assert plan.judge["weights_per_gpu_gib"] == gib(2 * 32.8e9 / 8)
    assert plan.fits, plan.problems
    assert max(v for v in plan.phases_gib.values() if v) <= 80
    # step time: 2,048 completions x 1,500 tokens over 8 GPUs at 4,000 tok/s, or 18,432 tokens at 80 tok/s
    st = plan.step_s
    assert st["rollout"] == round(max(2048 * 1500 / (8 * 4000), 18432 / 80), 1) == 230.4
    assert st["update"] == round(2048 * 3000 / (8 * 3000), 1) == 256.0
    assert st["logprob"] == round(2048 * 3000 / (8 * 3 * 3000), 1)


def test_qwen2_5_vl_7b_plan_by_hand(paper):
    cfg = deep_merge(
        paper,
        {
            "model": {"family": "qwen2_5_vl", "base": "Qwen/Qwen2.5-VL-7B-Instruct"},
            "train": {"max_prompt_length": None},
            "reward": {"judge": {"enabled": False}},
        },
    )
    plan = vp.make_plan(cfg)
    P, N = 8_292_166_656, 8
    prompt, completion = 14_336, 10_240  # the family's lengths (release gspo_qwen25vl.yaml)
    s, h, L, inter, kv, V = prompt + completion, 3584, 28, 18944, 4 * 128, 152_064
    assert plan.lengths == {"max_prompt_length": prompt, "max_completion_length": completion, "sequence": s}
    assert plan.vllm["kv_bytes_per_token"] == 28 * 4 * 128 * 2 * 2 == 57_344
    ad = plan.memory_gib["activations_detail"]
    assert ad["layer_inputs"] == gib(L * s * h * 2)
    assert ad["layer_recompute"] == gib(s * (4 * h + 2 * kv + 3 * inter) * 2)
    assert ad["logits"] == gib(completion * V * 8)
    assert ad["vision"] == gib(4 * prompt * 1280 * 2 * (32 + 8))
    assert plan.memory_gib["weights"] == gib(2 * P / N)
    assert plan.layout["judge"] == "not served in the job" and plan.phases_gib["scoring"] is None
    assert plan.fits


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"train": {"micro_batch_size": 8}}, "train.micro_batch_size"),
        ({"train": {"vllm_gpu_memory_utilization": 0.95}}, "train.vllm_gpu_memory_utilization"),
        ({"train": {"vllm_gpu_memory_utilization": 0.25}}, "train.vllm_gpu_memory_utilization"),
        ({"train": {"use_vllm": False}}, "train.use_vllm"),
        (
            {"reward": {"judge": {"serve": {"gpu_memory_utilization": 0.95}}}},
            "reward.judge.serve.gpu_memory_utilization",
        ),
    ],
)
def test_a_config_that_cannot_fit_is_refused_naming_the_key(paper, change, key):
    with pytest.raises(vp.PlanDoesNotFit, match=re.escape(f"config key '{key}'")):
        vp.check_fits(deep_merge(paper, change))


def test_the_check_is_skipped_on_cpu_and_on_request(paper):
    too_big = deep_merge(paper, {"train": {"micro_batch_size": 8}})
    assert vp.check_fits(deep_merge(too_big, {"train": {"launcher": {"kind": "cpu"}}})) is None
    assert vp.check_fits(deep_merge(too_big, {"train": {"plan": {"check": False}}})) is None
    unknown = deep_merge(paper, {"model": {"base": "someone/unknown-vlm"}})
    assert vp.check_fits(unknown) is None  # no dims: no plan, training is not blocked
    with pytest.raises(ConfigError, match=r"model\.base"):
        vp.make_plan(unknown)


def test_a_local_config_json_is_read(tmp_path, paper):
    d = vp.PUBLISHED_DIMS["Qwen/Qwen2.5-VL-7B-Instruct"]
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(
        json.dumps(
            {
                "model_type": "qwen2_5_vl",
                "text_config": {**d["text"], "num_hidden_layers": 2},
                "vision_config": d["vision"],
            }
        )
    )
    dims = vp.model_dims(str(model_dir))
    assert dims.num_layers == 2 and dims.source.endswith("config.json")


def test_the_launcher_refuses_before_starting_anything(paper, monkeypatch):
    from vero.train import launch

    started = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: started.append(a))
    cfg = load_config("config/config.yaml", {"train": {"micro_batch_size": 8}})
    with pytest.raises(vp.PlanDoesNotFit, match=r"train\.micro_batch_size"):
        launch.run_launched(
            cfg,
            config_json="c.json",
            experiment="mixed",
            mix="m.parquet",
            base_model="Qwen/Qwen3-VL-8B-Instruct",
            output_dir="out",
        )
    assert started == []


def test_cli_prints_the_plan(capsys):
    assert vp.main([]) == 0
    out = capsys.readouterr().out
    assert "verdict: fits" in out and "8.77B parameters" in out and "KV cache" in out
    assert vp.main(["--set", "train.micro_batch_size=8"]) == 1
    assert "config key 'train.micro_batch_size'" in capsys.readouterr().out
