"""Config loading: schema validation with key paths, defaults, experiment resolution, README sync;
the exact round trip of every value (property tests), typed `--config` overrides, and the checks
that make a config that validates not fail later in a job (issue 11 items 1, 4, 6)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vero.config import (
    REPO_ROOT,
    ConfigError,
    ConfigLoader,
    coerce_overrides,
    config_hash,
    deep_merge,
    dump_json,
    load_config,
    load_workflow_config,
    resolve_experiment,
    validate_config,
    write_yaml,
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


# ---- exact round trip (issue 11 item 1) -------------------------------------------------------


def same(a, b) -> bool:
    """Equal values of equal types (1 is not 1.0, -0.0 is not 0.0, inf is inf)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return math.copysign(1.0, a) == math.copysign(1.0, b) and (a == b or (a != a and b != b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
# YAML itself (not this project) treats NEL, LS and PS as line breaks inside plain scalars, and
# PyYAML's writer emits control characters it cannot read back: keep those out of YAML files
yaml_texts = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x85\u2028\u2029\ufeff"),
    max_size=12,
)
floats = st.floats(allow_nan=False)  # ±inf, -0.0, subnormals, 1e-06, 1e+20 ...
positive = st.floats(min_value=5e-324, allow_nan=False)


def _json_values(text_strategy):
    leaves = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | floats | text_strategy
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text_strategy, inner, max_size=3),
        max_leaves=12,
    )


@st.composite
def generated_configs(draw, texts=texts):
    """The demo config with every kind of value a config can hold put where the schema allows it."""
    free_form = st.dictionaries(texts, _json_values(texts), max_size=4)
    cfg = _demo()
    cfg["seed"] = draw(st.integers(-(2**63), 2**63))
    cfg["train"].update(
        learning_rate=draw(positive),
        temperature=draw(st.floats(min_value=1e-300, max_value=1e300)),
        weight_decay=draw(st.floats(min_value=0, allow_nan=False)),
        generation_kwargs=draw(free_form),
        system_prompt=draw(st.none() | texts),
        epsilon_high=draw(st.none() | st.floats(min_value=0, allow_nan=False)),
    )
    cfg["reward"]["overlong"]["penalty"] = draw(st.floats(min_value=0, allow_nan=False))
    cfg["data"]["filter"]["eval_sets"] = draw(st.lists(texts, max_size=3))
    cfg.setdefault("analysis", {}).setdefault("skills", {}).setdefault("llm", {})["extra_body"] = draw(
        free_form
    )
    cfg["eval"]["vllm"] = {"extra_engine_args": draw(free_form)}
    cfg["experiments"]["mixed"]["description"] = draw(texts)
    cfg["experiments"]["sft"]["train"]["learning_rate"] = draw(positive)
    return cfg


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_configs(texts=yaml_texts))
def test_every_value_round_trips_through_a_config_file(tmp_path_factory, raw):
    """A YAML file (YAML 1.2 floats) reads back as exactly the values written."""
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(write_yaml(raw))
    assert same(load_config(path), validate_config(raw))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_configs())
def test_every_value_round_trips_from_validation_to_job(tmp_path_factory, raw):
    """Validated config -> a job's settings file -> what the job reads: identical values."""
    from vero.settings import job_settings_file, load_job_settings, resolved_view
    from vero.workflow import JOB_SETTINGS

    cfg = validate_config(raw)
    assert same(json.loads(dump_json(cfg)), cfg)
    view = resolved_view(cfg)
    settings_dir = tmp_path_factory.mktemp("settings")
    for rule, wildcards in (
        ("train_experiment", {"experiment": "sft"}),
        ("eval_benchmark", {"experiment": "mixed", "benchmark": "mini_stem", "checkpoint": "final"}),
        ("analysis_skills", {"experiment": "mixed"}),
        ("data_filter", {"category": "stem"}),
    ):
        path = job_settings_file(view, rule, JOB_SETTINGS[rule], wildcards, settings_dir=settings_dir)
        job = load_job_settings(path)
        seen = json.loads(json.dumps(job, allow_nan=True))  # everything the job can read
        for key, value in seen.items():
            if key != "wandb":
                assert same(value, _pick(view[key], value)), (rule, key)
        if rule == "train_experiment":
            trained = resolve_experiment(job, "sft")["train"]
            assert same(json.loads(json.dumps(trained)), resolve_experiment(cfg, "sft")["train"])


def _pick(full, shown):
    """The part of `full` whose keys `shown` has (what a cut kept)."""
    if isinstance(shown, dict) and isinstance(full, dict):
        return {k: _pick(full[k], v) for k, v in shown.items()}
    return full


def _cli_text(value) -> str:
    """A value as a user types it after `--config KEY=` (YAML flow syntax)."""
    return yaml.dump(value, Dumper=yaml.SafeDumper, default_flow_style=True, width=10**9).strip()


schema_typed_overrides = st.fixed_dictionaries(
    {
        "train": st.fixed_dictionaries(
            {
                "learning_rate": positive,
                "max_steps": st.integers(1, 10**12),
                "system_prompt": st.none() | st.text("abc xyz", min_size=1, max_size=8),
                "epsilon_low": st.none() | st.floats(min_value=0, allow_nan=False),
                "gradient_checkpointing": st.booleans(),
            }
        ),
        "eval": st.fixed_dictionaries(
            {
                "temperature": st.floats(min_value=0, allow_nan=False),
                "max_samples": st.none() | st.integers(1),
            }
        ),
        "data": st.fixed_dictionaries(
            {
                "filter": st.fixed_dictionaries(
                    {"eval_sets": st.lists(st.text("ab/c.", min_size=1, max_size=6))}
                )
            }
        ),
        "experiments": st.fixed_dictionaries(
            {"mixed": st.fixed_dictionaries({"train": st.fixed_dictionaries({"learning_rate": positive})})}
        ),
    }
)


@settings(max_examples=40, deadline=None)
@given(schema_typed_overrides)
def test_command_line_values_arrive_as_the_schema_types(overrides):
    """`--config KEY=VALUE` as Snakemake parses it (YAML base loader: nested scalars are strings),
    coerced back to exactly the values the user meant."""
    from snakemake.cli import parse_config

    parsed = parse_config([f"{k}={_cli_text(v)}" for k, v in overrides.items()])
    assert same(coerce_overrides(parsed), overrides)


def test_yaml_reads_1e_minus_6_as_a_number(tmp_path):
    path = tmp_path / "c.yaml"
    text = re.sub(r"\n  learning_rate: \S+", "\n  learning_rate: 1e-6", CONFIGS[1].read_text(), count=1)
    path.write_text(re.sub(r"\n  (max_new_tokens: \d+)", r"\n  \1\n  top_p: 1E+0", text, count=1))
    cfg = load_config(path)
    assert same(cfg["train"]["learning_rate"], 1e-06) and same(cfg["eval"]["top_p"], 1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed: 1\nseed: 2\n", "duplicate key 'seed'"),
        ("experiments: {mixed: {description: 2024-05-01}}\n", "experiments.mixed.description': date"),
        ("train: {generation_kwargs: {1: 2}}\n", "train.generation_kwargs.1': keys must be strings"),
        ("train: {generation_kwargs: {x: .nan}}\n", "train.generation_kwargs.x': NaN"),
        ("train: {max_steps: 10.0}\n", "train.max_steps': 10.0 is not of type 'integer'"),
    ],
)
def test_values_json_cannot_carry_exactly_fail_at_load(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    base = CONFIGS[1].read_text()
    path.write_text(base + "\n" + text if text.startswith("seed") else base)
    if not text.startswith("seed"):
        raw = deep_merge(_demo(), yaml.load(text, Loader=ConfigLoader))
        with pytest.raises(ConfigError, match=re.escape(message)):
            validate_config(raw)
        return
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


# ---- typed overrides (item 4) -----------------------------------------------------------------


def test_nested_override_coerced_and_merged_not_replacing():
    from snakemake.cli import parse_config

    cli = parse_config(
        [
            'train={"learning_rate": 2e-6, "launcher": {"kind": "cpu"}}',
            'experiments={"mixed": {"train": {"max_steps": 10}}}',
            "eval={max_samples: null, benchmarks: [mini_stem]}",
            "seed=7",
        ]
    )
    cfg = load_workflow_config([CONFIGS[1]], cli)
    assert same(cfg["train"]["learning_rate"], 2e-06) and cfg["train"]["batch_size"] == 12  # merged
    assert cfg["experiments"]["mixed"] == {
        "categories": "all",
        "ablation": "main",
        "train": {"max_steps": 10},
    }
    assert cfg["experiments"]["sft"]["train"] == {"trainer": "sft"}  # other experiments untouched
    assert resolve_experiment(cfg, "mixed")["train"]["max_steps"] == 10
    assert cfg["eval"]["max_samples"] is None and cfg["eval"]["benchmarks"] == ["mini_stem"]
    assert cfg["seed"] == 7


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "train={learnin_rate: 1e-6}",
            "--config key 'train.learnin_rate': not a key of the config; did you mean 'learning_rate'?",
        ),
        ("trian={max_steps: 1}", "--config key 'trian': not a key of the config; did you mean 'train'?"),
        ("train={max_steps: many}", "--config key 'train.max_steps': 'many' is not an integer"),
        (
            "data={filter: {min_source_rows: 1.5}}",
            "--config key 'data.filter.min_source_rows': '1.5' is not an integer",
        ),
        ("reward={alpha: 3}", "--config key 'reward.alpha': 3 is greater than the maximum of 1"),
        ("experiments={mixed: {train: {algorithm: ppo}}}", "config key 'experiments.mixed.train.algorithm'"),
        ("experiments={mixed: {train: {max_step: 1}}}", "--config key 'experiments.mixed.train.max_step'"),
    ],
)
def test_bad_command_line_values_name_the_command_line_key(entry, message):
    from snakemake.cli import parse_config

    with pytest.raises(ConfigError) as err:
        load_workflow_config([CONFIGS[1]], parse_config([entry]))
    assert message in str(err.value)


def test_config_file_errors_are_not_blamed_on_the_command_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIGS[1].read_text().replace("alpha: 0.2", "alpha: 2"))
    with pytest.raises(ConfigError) as err:
        load_workflow_config([path], {"seed": 1})
    assert "config key 'reward.alpha'" in str(err.value) and "--config key" not in str(err.value)


def test_free_form_values_read_as_yaml_scalars():
    out = coerce_overrides(
        {"train": {"generation_kwargs": {"top_p": "0.9", "min_new_tokens": "4", "x": "abc"}}}
    )
    assert same(out["train"]["generation_kwargs"], {"top_p": 0.9, "min_new_tokens": 4, "x": "abc"})
    assert coerce_overrides({"train": {"system_prompt": "null"}})["train"]["system_prompt"] is None
    assert coerce_overrides({"results_dir": 2024}) == {"results_dir": "2024"}


# ---- validation catches what jobs would fail on (item 6) --------------------------------------


def _paper():
    return yaml.load(CONFIGS[0].read_text(), Loader=ConfigLoader)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        # 8 GPUs, 4 serve the judge: 4 processes; 128 prompts x 8 = 1024 completions split, 8 per
        # micro-batch. With 6 GPUs per node, 2 train and 1024/2 = 512 per process: fine; with 7, 3
        # processes: 1024 does not split.
        ({"train": {"launcher": {"gpus_per_node": 7}}}, "config key 'train.mini_batch_size'"),
        ({"train": {"micro_batch_size": 48}}, "config key 'train.micro_batch_size'"),
        ({"train": {"mini_batch_size": 96}}, "config key 'train.mini_batch_size'"),
        (
            {"experiments": {"algo_grpo": {"train": {"mini_batch_size": 100}}}},
            "config key 'experiments.algo_grpo.train.mini_batch_size'",
        ),
        (
            {"mix": {"batch_size": 100}},
            "config key 'train.batch_size': 256 is not a multiple of mix.batch_size",
        ),
        (
            {"reward": {"judge": {"serve": {"layout": "dedicated", "gpus": 8}}}},
            "config key 'reward.judge.serve.gpus'",
        ),
        (
            {"analysis": {"skills": {"experiments": ["mixed", "mixd"]}}},
            "config key 'analysis.skills.experiments.1': unknown experiment 'mixd'",
        ),
        (
            {"analysis": {"reasoning_length": {"experiments": ["nope"]}}},
            "config key 'analysis.reasoning_length.experiments.0'",
        ),
        ({"eval": {"benchmarks": ["chartqa", "no_such_bench"]}}, "config key 'eval.benchmarks'"),
        (
            {"eval": {"local_data": {"no_such_bench": "/x.jsonl"}}},
            "config key 'eval.local_data.no_such_bench'",
        ),
        ({"eval": {"paper_model": "gpt5"}}, "config key 'eval.paper_model'"),
        ({"train": {"max_steps": "4000"}}, "config key 'train.max_steps'"),
        ({"train": {"learning_rate": -1}}, "config key 'train.learning_rate'"),
    ],
)
def test_paper_config_mistakes_fail_at_load_naming_the_key(patch, message):
    with pytest.raises(ConfigError) as err:
        validate_config(deep_merge(_paper(), patch))
    assert message in str(err.value)


def test_batch_layout_is_checked_per_experiment_over_its_processes():
    cfg = load_config(CONFIGS[0])  # 8 GPUs per node, shared with the judge: 8 processes
    from vero.train.launch import training_processes

    assert all(training_processes(resolve_experiment(cfg, e)) == 8 for e in cfg["experiments"])
    # 4 GPUs, judge shared: 4 processes, 1024 completions -> 256 each: valid
    validate_config(deep_merge(_paper(), {"train": {"launcher": {"gpus_per_node": 4}}}))


@settings(max_examples=40, deadline=None)
@given(
    batch=st.sampled_from([6, 12, 24, 36]),
    mini=st.sampled_from([1, 2, 3, 4, 6, 12, 24]),
    micro=st.none() | st.sampled_from([1, 2, 3, 4, 8]),
    n=st.sampled_from([2, 3, 4, 8]),
    gpus=st.sampled_from([1, 2, 3, 4, 8]),
)
def test_load_time_layout_check_is_the_training_jobs_check(batch, mini, micro, n, gpus):
    """A config validates exactly when every training job's own batch arithmetic accepts it on
    the processes its launcher starts (GRPO: vero.train.trl_config.batch_geometry; SFT:
    sft_config_kwargs); and then TRL's GRPOConfig invariants hold (generation_batch_size =
    per-device batch x processes x steps_per_generation, a multiple of num_generations)."""
    from vero.train.launch import training_processes
    from vero.train.trl_config import batch_geometry, grpo_config_kwargs, sft_config_kwargs

    train = {"batch_size": batch, "mini_batch_size": mini, "micro_batch_size": micro, "num_generations": n}
    train["launcher"] = {"kind": "multi_gpu", "gpus_per_node": gpus} if gpus > 1 else {"kind": "cpu"}
    raw = deep_merge(_demo(), {"train": train})
    raw["experiments"] = {k: raw["experiments"][k] for k in ("mixed", "sft")}
    job_accepts = True
    for name in raw["experiments"]:  # what each training job computes, on the schema's defaults
        resolved = resolve_experiment(_defaults_filled(raw), name)
        processes = training_processes(resolved)
        try:
            if resolved["train"]["trainer"] == "rl":
                batch_geometry(resolved["train"], processes)
            else:
                sft_config_kwargs(resolved, "out", num_processes=processes)
        except ConfigError:
            job_accepts = False
    try:
        cfg = validate_config(raw)
    except ConfigError as err:
        assert not job_accepts, err
        return
    assert job_accepts
    resolved = resolve_experiment(cfg, "mixed")
    processes = training_processes(resolved)
    kw = grpo_config_kwargs(resolved, "out", num_processes=processes)
    generation = kw["per_device_train_batch_size"] * processes * kw["steps_per_generation"]
    assert generation == batch * n and generation % n == 0


def _defaults_filled(raw):
    """`raw` with the schema's defaults, without validation's checks."""
    from vero.config import _DefaultFillingValidator, load_schema

    cfg = deep_merge(raw, {})
    for _ in _DefaultFillingValidator(load_schema()).iter_errors(cfg):
        pass
    return cfg


def test_unknown_command_line_key_is_reported_as_such_by_snakemake(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "--config",
            "trian={max_steps: 1}",
            f"results_dir={tmp_path}",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "--config key 'trian': not a key of the config" in text
    assert "config/config.yaml:" not in text
