"""Fast tests of the training package: config mapping, sampler, objective, launch commands."""

from __future__ import annotations

import json
import math
import re
import shlex
import subprocess
from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader

from vero.categories import CATEGORIES
from vero.config import REPO_ROOT as REPO
from vero.config import ConfigError, load_config, resolve_experiment
from vero.train import launch, objective, sampler, trl_config


@pytest.fixture(scope="module")
def paper_cfg():
    return load_config("config/config.yaml")


@pytest.fixture(scope="module")
def demo_cfg():
    return load_config("config/demo.yaml")


# ---- GRPOConfig mapping ---------------------------------------------------------------------


def test_paper_defaults_map_to_gspo(paper_cfg):
    resolved = resolve_experiment(paper_cfg, "mixed")
    kw = trl_config.grpo_config_kwargs(resolved, "out", num_processes=8, use_cpu=False)
    assert kw["importance_sampling_level"] == "sequence"
    assert kw["loss_type"] == "grpo"
    assert (kw["epsilon"], kw["epsilon_high"]) == (3e-4, 4e-4)
    assert kw["beta"] == 0.0
    assert kw["num_generations"] == 8
    assert kw["temperature"] == 1.0
    assert kw["learning_rate"] == 1e-6
    assert kw["shuffle_dataset"] is False
    # Qwen3-VL response length when the config leaves it to the family
    assert kw["max_completion_length"] == 18432
    # 256 prompts x 8 = 2048 completions per rollout batch, 2 updates of 128 prompts each
    geo = trl_config.batch_geometry(resolved["train"], 8)
    assert geo.generation_batch_size == 2048
    assert geo.updates_per_batch == 2
    # one full-length completion (36,864 tokens) per forward/backward: the release's per-GPU budget
    assert kw["per_device_train_batch_size"] == 1
    assert kw["gradient_accumulation_steps"] == 128 * 8 // (8 * 1)
    assert kw["steps_per_generation"] == 2 * kw["gradient_accumulation_steps"]
    # recipe steps -> optimizer updates
    assert kw["max_steps"] == 8000 and kw["save_steps"] == 80 and kw["warmup_steps"] == 80
    assert kw["bf16"] is True and kw["fp16"] is False
    # vLLM colocate rollouts, asleep while training, sized to what a rollout can reach
    assert kw["use_vllm"] is True and kw["vllm_mode"] == "colocate" and kw["vllm_enable_sleep_mode"] is True
    assert kw["vllm_gpu_memory_utilization"] == 0.7 and kw["vllm_max_model_length"] == 18432 + 18432
    assert kw["vllm_importance_sampling_correction"] is False  # release: tis_imp_ratio_cap -1
    # the release's values where the paper is silent
    assert kw["weight_decay"] == 0.01 and kw["advantage_epsilon"] == 1e-6
    assert kw["delta"] == pytest.approx(math.exp(10))  # GSPO's sequence log-ratio cap of 10
    assert kw["judge_sleep_level"] == 1  # the judge shares the training GPUs
    grpo = trl_config.grpo_config_kwargs(
        resolve_experiment(paper_cfg, "algo_grpo"), "out", num_processes=8, use_cpu=False
    )
    assert grpo["delta"] == 10.0  # token level: verl's clip_ratio_c
    from vero.config import deep_merge

    without = deep_merge(
        resolved, {"train": {"use_vllm": False, "vllm_importance_sampling_correction": True}}
    )
    hf = trl_config.grpo_config_kwargs(without, "out", num_processes=8, use_cpu=False)
    assert hf["use_vllm"] is False and hf["vllm_importance_sampling_correction"] is False
    assert "vllm_mode" not in hf


# A fixed batch geometry for the arithmetic below (the demo's own values change with the demo).
GEOMETRY = {"batch_size": 6, "mini_batch_size": 6, "num_generations": 2, "max_completion_length": 48}


def _mixed(demo_cfg) -> dict:
    resolved = resolve_experiment(demo_cfg, "mixed")
    resolved["train"].update(GEOMETRY)
    return resolved


def test_real_grpoconfig_accepts_the_mapping(demo_cfg, tmp_path):
    resolved = _mixed(demo_cfg)
    cfg = trl_config.build_grpo_config(resolved, str(tmp_path), num_processes=1)
    assert cfg.generation_batch_size == 12  # 6 prompts x 2 generations
    assert cfg.steps_per_generation == 1
    assert cfg.importance_sampling_level == "sequence"
    assert cfg.epsilon_high == 4e-4
    assert cfg.max_completion_length == 48


@pytest.mark.parametrize(
    ("algorithm", "level", "loss", "eps"),
    [
        ("gspo", "sequence", "grpo", (3e-4, 4e-4)),
        ("grpo", "token", "grpo", (0.2, 0.2)),
        ("dapo", "token", "dapo", (0.2, 0.28)),
    ],
)
def test_algorithm_variants(demo_cfg, algorithm, level, loss, eps):
    resolved = resolve_experiment(demo_cfg, "mixed")
    resolved["train"]["algorithm"] = algorithm
    kw = trl_config.grpo_config_kwargs(resolved, "out", num_processes=1)
    assert (kw["importance_sampling_level"], kw["loss_type"], (kw["epsilon"], kw["epsilon_high"])) == (
        level,
        loss,
        eps,
    )


def test_ablation_experiments_resolve(paper_cfg):
    assert resolve_experiment(paper_cfg, "algo_grpo")["train"]["algorithm"] == "grpo"
    assert resolve_experiment(paper_cfg, "algo_dapo")["train"]["algorithm"] == "dapo"
    assert resolve_experiment(paper_cfg, "reward_math_verify")["train"]["reward"] == "math_verify_only"
    sft = resolve_experiment(paper_cfg, "sft")
    kw = trl_config.sft_config_kwargs(sft, "out", num_processes=8, use_cpu=False)
    # same sample budget as RL: max_steps x batch_size prompts, mini_batch_size per update
    updates = kw["max_steps"]
    prompts_per_update = kw["per_device_train_batch_size"] * kw["gradient_accumulation_steps"] * 8
    assert updates * prompts_per_update == 4000 * 256
    assert kw["train_sampling_strategy"] == "sequential"
    with pytest.raises(ConfigError, match=r"train\.trainer"):
        trl_config.grpo_config_kwargs(sft, "out", num_processes=8)


def test_explicit_clip_overrides(demo_cfg):
    resolved = resolve_experiment(demo_cfg, "mixed")
    resolved["train"].update(epsilon_low=1e-3, epsilon_high=2e-3)
    kw = trl_config.grpo_config_kwargs(resolved, "out", num_processes=1)
    assert (kw["epsilon"], kw["epsilon_high"]) == (1e-3, 2e-3)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"mini_batch_size": 5}, "train.mini_batch_size"),
        ({"mini_batch_size": 12}, "train.mini_batch_size"),
        ({"micro_batch_size": 5}, "train.micro_batch_size"),
    ],
)
def test_inconsistent_batch_sizes_name_the_key(demo_cfg, changes, key):
    train = {**_mixed(demo_cfg)["train"], **changes}
    with pytest.raises(ConfigError, match=re.escape(key)):
        trl_config.batch_geometry(train, 1)


def test_updates_must_split_over_processes(demo_cfg):
    train = _mixed(demo_cfg)["train"]  # 6 prompts x 2 = 12 completions
    assert trl_config.batch_geometry(train, 4).per_device_train_batch_size == 3
    with pytest.raises(ConfigError, match="processes"):
        trl_config.batch_geometry(train, 5)


# ---- the sampler ----------------------------------------------------------------------------


def _balanced_categories(n_blocks: int) -> list[str]:
    """A mix in the data stage's order: every block of 6 rows has each category once (rotated)."""
    rows = []
    for b in range(n_blocks):
        rows += [CATEGORIES[(b + i) % 6] for i in range(6)]
    return rows


def _generation_batches(smp, categories, batch_len):
    loader = DataLoader(list(range(len(categories))), batch_size=batch_len, sampler=smp)
    return [Counter(categories[i] for i in batch.tolist()) for batch in loader]


def test_block_sampler_keeps_category_shares_every_epoch():
    cats = _balanced_categories(10)
    n_gen, prompts = 4, 12  # a rollout batch = two mix blocks
    smp = sampler.BlockRepeatSampler(len(cats), mini_repeat_count=n_gen, batch_size=prompts, seed=3)
    for epoch in range(3):
        smp.set_epoch(epoch)
        batches = _generation_batches(smp, cats, prompts * n_gen)
        assert len(batches) == 5
        for counts in batches:
            assert counts == Counter({c: 2 * n_gen for c in CATEGORIES})


def test_block_sampler_order_first_epoch_and_resume_determinism():
    smp = sampler.BlockRepeatSampler(24, mini_repeat_count=2, batch_size=6, repeat_count=2, seed=7)
    first = list(smp)
    assert first[:24] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5] * 2  # the mix's order, each batch twice
    smp.set_epoch(1)
    later = list(smp)
    again = sampler.BlockRepeatSampler(24, mini_repeat_count=2, batch_size=6, repeat_count=2, seed=7)
    again.set_epoch(1)
    assert list(again) == later  # a resumed job sees the same order
    assert sorted(later) == sorted(first) and len(later) == len(smp)


def test_trl_default_sampler_would_break_the_shares():
    """The reason for BlockRepeatSampler: TRL's shuffling RepeatSampler mixes blocks."""
    from trl.trainer.utils import RepeatSampler

    cats = _balanced_categories(20)
    smp = RepeatSampler(cats, mini_repeat_count=2, batch_size=6, repeat_count=1, shuffle=True, seed=0)
    batches = _generation_batches(smp, cats, 12)
    assert any(counts != Counter({c: 2 for c in CATEGORIES}) for counts in batches)


def test_block_alignment_check():
    sampler.check_block_alignment(12, 6, single_category=False)
    sampler.check_block_alignment(7, 6, single_category=True)
    with pytest.raises(ConfigError, match=r"train\.batch_size"):
        sampler.check_block_alignment(9, 6, single_category=False)


# ---- the GSPO objective ---------------------------------------------------------------------


def _toy_batch():
    old = torch.tensor([[-1.0, -2.0, -0.5], [-0.7, -1.2, -3.0]])
    new = old + torch.tensor([[0.0010, -0.0005, 0.0011], [-0.0006, -0.0004, 0.9]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])  # last token of seq 2 is padding
    adv = torch.tensor([1.0, -1.0])
    return new, old, adv, mask


def test_gspo_matches_hand_computation():
    new, old, adv, mask = _toy_batch()
    # sequence ratios: exp of the mean token log-ratio over unmasked tokens
    s1 = math.exp((0.0010 - 0.0005 + 0.0011) / 3)  # 1.000533 > 1 + 4e-4: clipped, A > 0
    s2 = math.exp((-0.0006 - 0.0004) / 2)  # 0.999500 < 1 - 3e-4: clipped, A < 0
    ratio = objective.importance_ratio(new, old, mask, level="sequence")
    assert ratio.squeeze(1).tolist() == pytest.approx([s1, s2], rel=1e-6)
    term1 = min(s1 * 1.0, min(max(s1, 1 - 3e-4), 1 + 4e-4) * 1.0)  # = 1.0004
    term2 = min(s2 * -1.0, min(max(s2, 1 - 3e-4), 1 + 4e-4) * -1.0)  # = -0.9997
    expected = -(term1 + term2) / 2
    assert term1 == pytest.approx(1.0004) and term2 == pytest.approx(-0.9997)
    loss = objective.clipped_policy_loss(new, old, adv, mask, level="sequence", eps_low=3e-4, eps_high=4e-4)
    assert loss.item() == pytest.approx(expected, abs=1e-7)


def test_token_level_differs_from_sequence_level():
    new, old, adv, mask = _toy_batch()
    seq = objective.clipped_policy_loss(new, old, adv, mask, level="sequence", eps_low=0.2, eps_high=0.2)
    tok = objective.clipped_policy_loss(new, old, adv, mask, level="token", eps_low=0.2, eps_high=0.2)
    # with a wide clip nothing is clipped; token level averages token ratios, sequence level
    # exponentiates the mean log-ratio, so the two differ
    r = torch.exp(new - old)
    by_hand = -((r[0].mean()) * 1.0 + (r[1, :2].mean()) * -1.0) / 2
    assert tok.item() == pytest.approx(by_hand.item(), abs=1e-7)
    assert seq.item() != pytest.approx(tok.item(), abs=1e-9)


# ---- launch commands ------------------------------------------------------------------------


def _cmd(cfg, kind, **launcher):
    """The experiment with the given launcher and no judge served inside the job."""
    resolved = resolve_experiment(cfg, "mixed")
    resolved["reward"]["judge"]["serve"]["enabled"] = False
    resolved["train"]["launcher"] = {**resolved["train"]["launcher"], "kind": kind, **launcher}
    return resolved


ARGS = dict(
    config_json="r/resolved_config.json",
    experiment="mixed",
    mix="r/mix.parquet",
    base_model="m",
    output_dir="r/runs/mixed",
)


def test_cpu_command(demo_cfg):
    cmd = launch.build_train_command(_cmd(demo_cfg, "cpu"), **ARGS)
    assert cmd[:2] == ["python", str(REPO / "workflow_scripts/train.py")]
    assert cmd[-1] == "--in-process"
    assert cmd[cmd.index("--experiment") + 1] == "mixed"


def _accelerate_args(cmd):
    from accelerate.commands.launch import launch_command_parser

    i = cmd.index("accelerate.commands.launch")
    return launch_command_parser().parse_args(cmd[i + 1 :])


def test_single_and_multi_gpu_commands_parse_with_accelerate(paper_cfg):
    single = launch.build_train_command(_cmd(paper_cfg, "single_gpu", accelerate_config=None), **ARGS)
    args = _accelerate_args(single)
    assert args.config_file == str(REPO / "config/accelerate/single_gpu.yaml") and args.num_processes == 1
    assert args.training_script == str(REPO / "workflow_scripts/train.py")
    multi = launch.build_train_command(
        _cmd(
            paper_cfg,
            "multi_gpu",
            gpus_per_node=4,
            accelerate_config="config/accelerate/deepspeed_zero3.yaml",
        ),
        **ARGS,
    )
    args = _accelerate_args(multi)
    assert args.num_processes == 4 and args.num_machines == 1
    assert args.config_file == "config/accelerate/deepspeed_zero3.yaml"
    assert "--in-process" in args.training_script_args


def test_multi_node_command_under_slurm(paper_cfg, tmp_path):
    env = {"SLURM_JOB_NODELIST": "gpu[07-08]"}
    cmd = launch.build_train_command(
        _cmd(paper_cfg, "multi_node", nodes=2, gpus_per_node=8, main_process_port=29555), env=env, **ARGS
    )
    assert cmd[:7] == ["srun", "--nodes", "2", "--ntasks", "2", "--ntasks-per-node", "1"]
    assert cmd[-3:-1] == ["bash", "-c"]
    # each node's task expands its own SLURM_NODEID into --machine_rank
    echo = cmd[-1].replace("python -m accelerate.commands.launch", "echo", 1)
    out = subprocess.run(
        ["bash", "-c", echo],
        env={"SLURM_NODEID": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[out.index("--machine_rank") + 1] == "1"
    assert out[out.index("--main_process_ip") + 1] == "gpu07"
    assert out[out.index("--num_processes") + 1] == "16" and out[out.index("--num_machines") + 1] == "2"
    args = _accelerate_args(["python", "-m", "accelerate.commands.launch", *out])
    assert args.main_process_port == 29555 and args.machine_rank == 1


def test_multi_node_without_slurm_is_a_clear_error(paper_cfg):
    with pytest.raises(ConfigError, match="SLURM_JOB_NODELIST"):
        launch.build_train_command(_cmd(paper_cfg, "multi_node", nodes=2), env={}, **ARGS)


@pytest.mark.parametrize(
    ("nodelist", "host"),
    [
        ("node1", "node1"),
        ("gpu[03-05,9],cpu1", "gpu03"),
        ("a1,b2", "a1"),
        ("rack[2-3]-n[010-012]", "rack2-n010"),
    ],
)
def test_first_host(nodelist, host):
    assert launch.first_host(nodelist) == host


def test_shell_join_quotes_everything_but_slurm_vars():
    s = launch.shell_join_keep_vars(["echo", "a b", "$SLURM_NODEID", "$HOME"])
    assert shlex.split(s) == ["echo", "a b", "$SLURM_NODEID", "$HOME"]
    assert "'$HOME'" in s and '"$SLURM_NODEID"' in s


def test_accelerate_config_files_load():
    from accelerate.commands.config.config_args import load_config_from_file

    fsdp = load_config_from_file("config/accelerate/multi_gpu_fsdp.yaml")
    assert fsdp.distributed_type == "FSDP" and fsdp.fsdp_config["fsdp_version"] == 2
    zero = load_config_from_file("config/accelerate/deepspeed_zero3.yaml")
    assert zero.distributed_type == "DEEPSPEED" and zero.deepspeed_config["zero_stage"] == 3
    assert load_config_from_file("config/accelerate/single_gpu.yaml").num_processes == 1


def test_judge_served_in_the_job_takes_gpus_from_training(paper_cfg):
    resolved = _cmd(paper_cfg, "multi_gpu", gpus_per_node=8)
    resolved["reward"]["judge"].update(
        enabled=True,
        serve={**resolved["reward"]["judge"]["serve"], "enabled": True, "gpus": 4, "layout": "dedicated"},
    )
    assert launch.training_processes(resolved) == 4
    args = _accelerate_args(launch.build_train_command(resolved, **ARGS))
    assert args.num_processes == 4
    resolved["train"]["launcher"].update(kind="multi_node", nodes=2)
    with pytest.raises(ConfigError, match="multi-node"):
        launch.training_processes(resolved)
    resolved["train"]["launcher"].update(kind="multi_gpu", nodes=1)
    resolved["reward"]["judge"]["serve"]["gpus"] = 8
    with pytest.raises(ConfigError, match=r"reward\.judge\.serve\.gpus"):
        launch.training_processes(resolved)


# ---- run bookkeeping ------------------------------------------------------------------------


def test_latest_checkpoint_skips_incomplete_ones(tmp_path):
    from vero.train.run import latest_checkpoint

    assert latest_checkpoint(tmp_path) is None
    for step, complete in ((2, True), (10, True), (12, False)):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        if complete:
            (d / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (tmp_path / "checkpoint-x").mkdir()
    assert latest_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")


def test_rollout_recorder_logs_shares_and_samples(tmp_path):
    from types import SimpleNamespace

    from vero.train.run import RolloutRecorder

    def reward(completions, **columns):
        return [float(i) for i in range(len(completions))]

    reward.__name__ = "toy_reward"
    metrics = {}
    rec = RolloutRecorder(reward, tmp_path / "rollouts.jsonl", samples_per_call=3)
    assert rec.__name__ == "toy_reward"
    cats = ["stem", "stem", "chart_ocr", "chart_ocr"]
    out = rec(
        prompts=[None] * 4,
        completions=[[{"role": "assistant", "content": f"answer {i}"}] for i in range(4)],
        completion_ids=[[1]] * 4,
        category=cats,
        id=["a", "a", "b", "b"],
        reward_type=["numeric"] * 4,
        trainer_state=SimpleNamespace(global_step=6),
        log_metric=metrics.__setitem__,
    )
    assert out == [0.0, 1.0, 2.0, 3.0]
    assert metrics == {"batch/category_share/chart_ocr": 0.5, "batch/category_share/stem": 0.5}
    rows = [json.loads(line) for line in (tmp_path / "rollouts.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and {r["step"] for r in rows} == {7}
    for r in rows:
        i = int(r["completion"].split()[-1])
        assert r["reward"] == float(i) and r["category"] == cats[i]


def test_trim_step_log_keeps_steps_up_to_the_resumed_one(tmp_path):
    from types import SimpleNamespace

    from vero.train.trainer import TrimStepLogCallback

    path = tmp_path / "rollouts.jsonl"
    path.write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3)) + '{"step": 4, "compl')
    state = SimpleNamespace(is_world_process_zero=True, global_step=2)
    TrimStepLogCallback(path).on_train_begin(None, state, None)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2]


def test_judge_client_only_when_enabled_and_served_endpoint_wins(monkeypatch):
    from vero.serving import BASE_URL_ENV
    from vero.train.run import _judge_for

    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    assert _judge_for({"judge": {"enabled": False}}) is None
    judge = _judge_for({"judge": {"enabled": True, "base_url": "http://judge.example:9000/v1", "model": "m"}})
    assert judge.endpoint == "http://judge.example:9000/v1/chat/completions"
    monkeypatch.setenv(BASE_URL_ENV, "http://127.0.0.1:8123/v1")
    judge = _judge_for({"judge": {"enabled": True, "base_url": "http://judge.example:9000/v1", "model": "m"}})
    assert judge.endpoint == "http://127.0.0.1:8123/v1/chat/completions"


def test_colocate_sync_also_resets_the_engines_vision_encoder_cache():
    """TRL's weight sync resets the KV prefix cache only; vero's hook adds the encoder cache, after
    the weights are in, on colocate engines only (tests/vllm runs it on vLLM's CPU build)."""
    from types import SimpleNamespace

    from vero.train.trainer import reset_encoder_cache_on_sync

    calls = []
    engine = SimpleNamespace(reset_encoder_cache=lambda: calls.append("encoder"))
    gen = SimpleNamespace(mode="colocate", llm=SimpleNamespace(llm_engine=engine))
    gen.sync_weights = lambda: calls.append("weights")
    assert reset_encoder_cache_on_sync(gen)
    gen.sync_weights()
    gen.sync_weights()
    assert calls == ["weights", "encoder", "weights", "encoder"]

    server = SimpleNamespace(mode="server", sync_weights=lambda: calls.append("server"))
    assert not reset_encoder_cache_on_sync(server) and not reset_encoder_cache_on_sync(None)
