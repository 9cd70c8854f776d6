"""Config loading: schema validation with key paths, defaults, experiment resolution, README sync."""

from __future__ import annotations

import pytest
import yaml

from vero.config import (
    REPO_ROOT,
    ConfigError,
    config_hash,
    load_config,
    resolve_experiment,
    validate_config,
)
from vero.workflow import experiments_in_ablation, resources_for

CONFIGS = [REPO_ROOT / "config" / "config.yaml", REPO_ROOT / "config" / "demo.yaml"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    cfg = load_config(path)
    assert cfg["reward"]["alpha"] == 0.2
    assert set(cfg["experiments"]) >= {"mixed", "reward_math_verify", "algo_grpo", "algo_dapo", "sft"}


def test_paper_config_carries_the_recipe():
    cfg = load_config(CONFIGS[0])
    t = cfg["train"]
    assert (t["algorithm"], t["learning_rate"], t["warmup_steps"]) == ("gspo", 1e-6, 40)
    assert (t["batch_size"], t["mini_batch_size"], t["num_generations"], t["temperature"]) == (
        256,
        128,
        8,
        1.0,
    )
    assert t["save_steps"] == 40
    assert cfg["reward"]["overlong"] == {"enabled": True, "buffer": 2048, "penalty": 1.0, "max_length": 16384}
    j = cfg["reward"]["judge"]
    assert (
        j["temperature"],
        j["top_p"],
        j["top_k"],
        j["max_tokens"],
        j["timeout_s"],
        j["max_concurrency"],
    ) == (
        0.7,
        0.8,
        20,
        1024,
        150,
        64,
    )


def _demo():
    return yaml.safe_load(CONFIGS[1].read_text())


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"train": {"algorithm": "ppo"}}, "train.algorithm"),
        ({"reward": {"alpha": 1.5}}, "reward.alpha"),
        ({"reward": {"judge": {"timeout_s": "soon"}}}, "reward.judge.timeout_s"),
        ({"model": {"family": "llava"}}, "model.family"),
        ({"experiments": {"mixed": {"train": {"reward": "bleu"}}}}, "experiments.mixed.train.reward"),
        ({"experiments": {"mixed": {"ablation": "other"}}}, "experiments.mixed.ablation"),
        ({"experiments": {"mixed": {"categories": ["stem", "poetry"]}}}, "experiments.mixed.categories.1"),
        ({"typo_section": 1}, "<root>"),
        ({"wandb": {"mode": "loud"}}, "wandb.mode"),
    ],
)
def test_invalid_config_names_the_key_path(patch, path):
    from vero.config import deep_merge

    with pytest.raises(ConfigError) as err:
        validate_config(deep_merge(_demo(), patch))
    assert f"'{path}'" in str(err.value)


def test_missing_required_section_is_named():
    raw = _demo()
    del raw["model"]["family"]
    with pytest.raises(ConfigError, match=r"config key 'model': 'family' is a required property"):
        validate_config(raw)


def test_defaults_filled_and_input_untouched():
    raw = _demo()
    raw["reward"].pop("overlong")
    cfg = validate_config(raw)
    assert cfg["reward"]["overlong"]["buffer"] == 2048
    assert "overlong" not in raw["reward"]


def test_resolve_experiment_merges_overrides():
    cfg = load_config(CONFIGS[1])
    grpo = resolve_experiment(cfg, "algo_grpo")
    assert grpo["train"]["algorithm"] == "grpo" and grpo["ablation"] == "algorithm"
    assert grpo["train"]["learning_rate"] == cfg["train"]["learning_rate"]
    single = resolve_experiment(cfg, "single_stem")
    assert single["categories"] == ["stem"]
    assert len(resolve_experiment(cfg, "mixed")["categories"]) == 6
    with pytest.raises(ConfigError, match=r"experiments\.nope"):
        resolve_experiment(cfg, "nope")


def test_config_hash_is_stable_and_order_free():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_ablation_groups_include_the_mixed_reference():
    cfg = load_config(CONFIGS[0])
    assert experiments_in_ablation(cfg, "algorithm") == ["mixed", "algo_grpo", "algo_dapo"]
    assert experiments_in_ablation(cfg, "transfer")[0] == "mixed"
    assert len(experiments_in_ablation(cfg, "transfer")) == 7


def test_resources_merge_default_and_reject_unknown_keys():
    cfg = {"resources": {"default": {"runtime": 30, "mem_mb": 1000}, "train": {"gpu": 8, "runtime": 600}}}
    assert resources_for(cfg, "train") == {"runtime": 600, "mem_mb": 1000, "gpu": 8}
    assert resources_for(cfg, "eval") == {"runtime": 30, "mem_mb": 1000}
    with pytest.raises(ConfigError, match=r"resources.train.*gpus"):
        resources_for({"resources": {"train": {"gpus": 8}}}, "train")


def test_readme_config_reference_matches_schema():
    from vero.config_doc import BEGIN, END, render

    readme = (REPO_ROOT / "README.md").read_text()
    block = readme[readme.index(BEGIN) : readme.index(END) + len(END)]
    assert block == render(), "README config reference is stale: run `python -m vero.config_doc --write`"


def test_every_schema_key_is_documented():
    from vero.config import load_schema
    from vero.config_doc import _rows

    schema = load_schema()
    missing = [k for sec, sub in schema["properties"].items() for k, _, _, d in _rows(sub, sec) if not d]
    missing += [k for k, v in schema["properties"].items() if not v.get("description")]
    assert not missing, f"schema keys without a description: {missing}"


def test_wandb_dir_follows_results_dir():
    raw = _demo()
    raw["results_dir"] = "/scratch/me/vero"
    assert validate_config(raw)["wandb"]["dir"] == "/scratch/me/vero/wandb"
    raw["wandb"]["dir"] = "/elsewhere"
    assert validate_config(raw)["wandb"]["dir"] == "/elsewhere"
