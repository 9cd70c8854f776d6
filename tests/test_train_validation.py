"""In-training validation (train.validation): TRL's evaluation loop on the held-out split at the
validation temperature, per-category rows in train_log.jsonl and W&B, and the paper config's keys
reaching TRL."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from vero.categories import CATEGORIES
from vero.config import deep_merge, load_config, resolve_experiment, validate_config
from vero.train.trainer import TrainLogCallback, validation_metrics, validation_sampling, validation_table
from vero.train.trl_config import batch_geometry, grpo_config_kwargs

REPO = Path(__file__).resolve().parent.parent


def _paper(**validation):
    raw = load_config(REPO / "config" / "config.yaml")
    if validation:
        raw = deep_merge(raw, {"train": {"validation": validation}})
    return validate_config(raw)


# ---- settings -----------------------------------------------------------------------------------


def test_paper_config_validates_as_the_release_and_reaches_trl():
    """vero-rl gspo_llmjudge_shared.yaml: test_freq 40, val_before_train true, val_kwargs
    temperature 0.7, top_p 1.0, n 1. Recipe steps become optimizer updates (2 per rollout batch)."""
    from vero.train.release import VeroGRPOConfig

    resolved = resolve_experiment(_paper(), "mixed")
    val = resolved["train"]["validation"]
    assert val == {
        "every_steps": 40,
        "before_training": True,
        "temperature": 0.7,
        "top_p": 1.0,
        "num_generations": 1,
        "max_samples_per_category": None,
    }
    kwargs = grpo_config_kwargs(resolved, "/tmp/out", num_processes=8, use_cpu=True)
    updates = batch_geometry(resolved["train"], 8).updates_per_batch
    assert updates == 2
    assert kwargs["eval_strategy"] == "steps" and kwargs["eval_steps"] == 80
    assert kwargs["eval_on_start"] is True
    assert kwargs["num_generations_eval"] == 1
    assert kwargs["per_device_eval_batch_size"] == kwargs["per_device_train_batch_size"]
    assert (kwargs["validation_temperature"], kwargs["validation_top_p"]) == (0.7, 1.0)
    assert kwargs["temperature"] == resolved["train"]["temperature"] == 1.0
    args = VeroGRPOConfig(**kwargs)  # TRL accepts the combination (eval batch vs num_generations_eval)
    assert args.eval_strategy == "steps" and args.eval_steps == 80 and args.validation_temperature == 0.7


def test_validation_off_by_default():
    raw = load_config(REPO / "config" / "config.yaml")
    raw["train"].pop("validation", None)
    resolved = resolve_experiment(validate_config(raw), "mixed")
    assert resolved["train"]["validation"]["every_steps"] is None
    assert grpo_config_kwargs(resolved, "/tmp/out", num_processes=8)["eval_strategy"] == "no"


def test_eval_batch_is_a_multiple_of_num_generations():
    resolved = resolve_experiment(_paper(num_generations=3), "mixed")
    kwargs = grpo_config_kwargs(resolved, "/tmp/out", num_processes=8)
    assert kwargs["per_device_eval_batch_size"] % 3 == 0
    assert kwargs["per_device_eval_batch_size"] >= kwargs["per_device_train_batch_size"]


@pytest.mark.parametrize(
    "bad", [{"every_steps": 0}, {"temperature": 0}, {"top_p": 1.5}, {"num_generations": 0}, {"n": 1}]
)
def test_bad_validation_settings_name_the_key(bad):
    from vero.config import ConfigError

    with pytest.raises(ConfigError, match="validation"):
        _paper(**bad)


def test_launched_command_carries_the_heldout_files():
    """accelerate / srun launches re-run workflow_scripts/train.py: the held-out files go with it."""
    from vero.train import launch

    resolved = resolve_experiment(_paper(), "mixed")
    args = dict(config_json="c.json", experiment="mixed", mix="m.parquet", base_model="b", output_dir="o")
    files = ["h/chart_ocr.parquet", "h/stem.parquet"]
    cmd = launch.build_train_command(resolved, **args, heldout=files)
    i = cmd.index("--heldout")
    assert cmd[i + 1 : i + 3] == files and cmd[i + 3] == "--in-process"
    assert "--heldout" not in launch.build_train_command(resolved, **args)


# ---- aggregation and sampling switch -----------------------------------------------------------


def test_validation_metrics_are_exact_sample_means_per_category():
    rows = [
        {"id": "a", "category": "stem", "reward": 1.0, "accuracy": 1.0, "format": 1.0, "overlong": 0.0},
        {"id": "b", "category": "stem", "reward": 0.2, "accuracy": 0.0, "format": 1.0, "overlong": 0.0},
        {"id": "c", "category": "stem", "reward": 0.0, "accuracy": 0.0, "format": 0.0, "overlong": 0.0},
        {"id": "d", "category": "chart_ocr", "reward": 0.8, "accuracy": 1.0, "format": 0.0, "overlong": -0.2},
        # the dataloader's padding repeats a prompt: counted once (num_generations 1)
        {"id": "d", "category": "chart_ocr", "reward": 0.0, "accuracy": 0.0, "format": 0.0, "overlong": 0.0},
        # a judge sample without a score: left out, as in training
        {"id": "e", "category": "stem", "reward": None, "accuracy": 0.0, "format": 1.0, "overlong": 0.0},
    ]
    m = {k: v[0] for k, v in validation_metrics(rows, num_generations=1, temperature=0.7, top_p=1.0).items()}
    assert m["reward/category/stem/total"] == pytest.approx(1.2 / 3)
    assert m["reward/category/stem/accuracy"] == pytest.approx(1 / 3)
    assert m["reward/category/stem/samples"] == 3
    assert m["reward/category/chart_ocr/total"] == pytest.approx(0.8)
    assert m["reward/category/chart_ocr/overlong"] == pytest.approx(-0.2)
    assert m["reward"] == pytest.approx(2.0 / 4)
    assert m["reward/accuracy"] == pytest.approx(2 / 4)
    assert m["validation/prompts"] == 5 and m["validation/samples"] == 4
    assert m["validation/unscored"] == 1 and m["reward/category/stem/unscored"] == 1
    assert m["validation/temperature"] == 0.7 and m["validation/top_p"] == 1.0
    table = validation_table(validation_metrics(rows, num_generations=1, temperature=0.7, top_p=1.0), 80)
    assert "after update 80 (temperature 0.7, 5 prompts, 1 unscored)" in table
    rows_shown = [line.split()[:2] for line in table.splitlines()[2:]]
    assert rows_shown == [["chart_ocr", "1"], ["stem", "3"], ["all", "4"]]
    assert table.splitlines()[-1].split()[2:] == ["0.500", "0.500"]


def test_validation_sampling_switches_and_restores_every_copy():
    from transformers import GenerationConfig

    class Engine:
        temperature, top_p = 1.0, 0.9

    class Trainer:
        def __init__(self):
            self.temperature, self.top_p = 1.0, 0.9
            self.generation_config = GenerationConfig(do_sample=True, temperature=1.0, top_p=0.9)
            self.generation_kwargs = {"temperature": 1.0, "top_p": 0.9, "max_new_tokens": 8}
            self.vllm_generation = Engine()

    t = Trainer()
    with validation_sampling(t, 0.7, 1.0):
        assert (t.temperature, t.top_p) == (0.7, 1.0)
        assert (t.generation_config.temperature, t.generation_config.top_p) == (0.7, 1.0)
        assert t.generation_kwargs == {"temperature": 0.7, "top_p": 1.0, "max_new_tokens": 8}
        assert (t.vllm_generation.temperature, t.vllm_generation.top_p) == (0.7, 1.0)
    assert (t.temperature, t.top_p, t.generation_config.temperature) == (1.0, 0.9, 1.0)
    assert t.generation_kwargs["temperature"] == 1.0 and t.vllm_generation.top_p == 0.9


def test_trl_reads_the_switched_attributes_at_every_generate_call():
    """The switch works because TRL 1.16 reads the sampling settings at call time: the vLLM engine
    wrapper from its own attributes in `generate` (vLLM cannot run here), transformers generate
    from `generation_config` / `generation_kwargs`. A TRL that caches them elsewhere fails this."""
    import inspect

    from trl.generation.vllm_generation import VLLMGeneration
    from trl.trainer.grpo_trainer import GRPOTrainer

    source = inspect.getsource(VLLMGeneration.generate)
    assert "temperature = self.temperature" in source and "top_p = self.top_p" in source
    gen = inspect.getsource(GRPOTrainer._generate_single_turn)
    assert "generation_config=self.generation_config" in gen
    assert "generation_kwargs=self.generation_kwargs" in gen


def test_recorder_collects_validation_rows_apart_from_training(tmp_path):
    """During a validation the recorder keeps one row per sample (reward and its terms), writes no
    rollout, and the reward's running self-evaluation monitor is a fresh one, put back after."""
    from vero.rewards import make_trl_reward
    from vero.train.run import RolloutRecorder

    reward = make_trl_reward(None, coords="absolute", max_completion_tokens=64)
    recorder = RolloutRecorder(reward, tmp_path / "rollouts.jsonl", samples_per_call=4)
    columns = {
        "id": ["a", "b"],
        "category": ["stem", "stem"],
        "reward_type": ["numeric", "numeric"],
        "answer": ["4", "4"],
        "tolerance": [None, None],
        "image_size": [[8, 8], [8, 8]],
        "question": ["2+2?", "2+2?"],
        "data_source": ["x", "x"],
    }
    completions = [
        [{"role": "assistant", "content": "<think>2+2</think><answer>\\boxed{4}</answer>"}],
        [{"role": "assistant", "content": "<think>2+2</think><answer>\\boxed{5}</answer>"}],
    ]
    training_monitor = reward.hacking
    recorder.start_validation()
    assert reward.hacking is not training_monitor
    rewards = recorder(prompts=[[], []], completions=completions, completion_ids=[[1], [1]], **columns)
    assert [r["accuracy"] for r in recorder.validation] == [1.0, 0.0]
    assert [r["reward"] for r in recorder.validation] == rewards and rewards[0] > rewards[1]
    assert reward.hacking.seen == 2 and training_monitor.seen == 0
    recorder.end_validation()
    assert recorder.validation is None and reward.hacking is training_monitor
    assert not (tmp_path / "rollouts.jsonl").exists()
    recorder(prompts=[[], []], completions=completions, completion_ids=[[1], [1]], **columns)
    assert training_monitor.seen == 2 and (tmp_path / "rollouts.jsonl").exists()


def test_a_validation_a_stop_skipped_is_made_up_on_resume(tmp_path):
    from vero.train.run import validation_missed

    def checkpoint(step, history):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir(exist_ok=True)
        (d / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": history}))
        return d

    trained = [{"step": 4, "loss": 0.1}]
    assert validation_missed(checkpoint(4, trained), eval_steps=4, max_steps=12)  # skipped by a stop
    assert not validation_missed(checkpoint(4, [*trained, {"step": 4, "eval_reward": 0.3}]), 4, 12)
    assert not validation_missed(checkpoint(6, [{"step": 6, "loss": 0.1}]), 4, 12)  # none due at 6
    assert validation_missed(checkpoint(7, [{"step": 7, "loss": 0.1}]), 4, 7)  # the last step's


def test_train_log_marks_validation_rows(tmp_path):
    line = TrainLogCallback._line({"step": 4, "eval_reward": 0.5})
    assert json.loads(line) == {"kind": "validation", "step": 4, "eval_reward": 0.5}
    assert "kind" not in json.loads(TrainLogCallback._line({"step": 4, "reward": 0.5}))


# ---- a real run on the tiny VLM ----------------------------------------------------------------


@pytest.mark.slow
def test_validation_rows_at_the_configured_steps_and_temperature(tiny_vlm_dir, tmp_path, monkeypatch):
    """Demo config, 4 steps, validation before training and every 2 steps on two held-out prompts
    per category at temperature 0.55 (training samples at 1.0): every generate call of the run is
    recorded, so the test sees which temperature each rollout was sampled at. The first
    captioning_if prompt is judge-scored and the demo has no judge: it is counted as unscored.
    Then the run is resumed from checkpoint-2 (as after a preemption): it does not validate again
    at its start, and its log (training and validation rows) equals the uninterrupted run's."""

    import shutil

    from transformers.generation.utils import GenerationMixin

    from tests.test_train_slow import write_balanced_mix
    from vero.data.stages import heldout_stage
    from vero.train import run_experiment

    calls: list[tuple[float, bool]] = []
    generate = GenerationMixin.generate

    def recording_generate(self, *args, **kwargs):
        cfg = kwargs.get("generation_config")
        calls.append((float(cfg.temperature), bool(self.training)))
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(GenerationMixin, "generate", recording_generate)

    raw = deep_merge(
        load_config(REPO / "config" / "demo.yaml"),
        {
            "results_dir": str(tmp_path),
            "wandb": {"mode": "offline", "dir": str(tmp_path / "wandb")},
            "train": {
                "max_steps": 4,
                "save_steps": 2,
                "max_completion_length": 16,
                "validation": {
                    "every_steps": 2,
                    "before_training": True,
                    "temperature": 0.55,
                    "max_samples_per_category": 2,
                },
            },
        },
    )
    cfg = validate_config(raw)
    heldout_dir = tmp_path / "data" / "heldout"
    heldout_stage(cfg, heldout_dir)
    heldout = sorted(heldout_dir.glob("*.parquet"))
    assert len(heldout) == len(CATEGORIES)
    mix = write_balanced_mix(tmp_path / "mix" / "mixed.parquet", n_blocks=4)
    run_dir = tmp_path / "runs" / "mixed"
    run_experiment(cfg, "mixed", run_dir, mix, tiny_vlm_dir, resume="never", heldout=heldout)

    temps = [t for t, _ in calls]
    # before training, 4 training rollout batches, a validation after steps 2 and 4
    assert temps == [0.55, 1.0, 1.0, 0.55, 1.0, 1.0, 0.55]
    assert [training for _, training in calls] == [False, True, True, False, True, True, False]

    log = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    val = [r for r in log if r.get("kind") == "validation"]
    assert [r["step"] for r in val] == [0, 2, 4]
    for r in val:
        assert r["eval_validation/temperature"] == 0.55
        assert r["eval_validation/prompts"] == 2 * len(CATEGORIES)
        assert r["eval_validation/unscored"] == 1 == r["eval_reward/category/captioning_if/unscored"]
        for cat in CATEGORIES:
            assert r[f"eval_reward/category/{cat}/samples"] == (1 if cat == "captioning_if" else 2)
            for term in ("total", "accuracy", "format", "overlong"):
                assert math.isfinite(r[f"eval_reward/category/{cat}/{term}"])
        assert 0.0 <= r["eval_reward/accuracy"] <= 1.0
    train_rows = [r for r in log if "kind" not in r and "reward" in r]
    assert train_rows and not any(k.startswith("eval_") for r in train_rows for k in r)
    report = json.loads((run_dir / "data_report.json").read_text())
    assert sorted(report["validation"]) == [str(p) for p in heldout]

    wandb_files = list((tmp_path / "wandb").rglob("offline-run-*/*.wandb"))
    assert wandb_files, "no offline W&B run"
    data = b"".join(p.read_bytes() for p in wandb_files)
    for cat in CATEGORIES:
        assert f"eval/reward/category/{cat}/accuracy".encode() in data
    assert b"eval/validation/temperature" in data

    # resume from checkpoint-2: steps 3-4 and the validation after step 4 are redone; the sampled
    # training completions (rollouts.jsonl) and the validation's entropy show the same RNG stream
    rollouts = (run_dir / "rollouts.jsonl").read_text()
    assert {json.loads(line)["step"] for line in rollouts.splitlines()} == {1, 2, 3, 4}
    shutil.rmtree(run_dir / "final")
    shutil.rmtree(run_dir / "checkpoint-4")
    calls.clear()
    run_experiment(cfg, "mixed", run_dir, mix, tiny_vlm_dir, resume="auto", heldout=heldout)
    assert [t for t, _ in calls] == [1.0, 1.0, 0.55]
    resumed = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]

    def timeless(rows):
        return [{k: v for k, v in r.items() if "time" not in k and "per_second" not in k} for r in rows]

    a, b = timeless(resumed), timeless(log)
    assert len(a) == len(b)
    differ = [
        (x.get("step"), sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k)))
        for x, y in zip(a, b, strict=True)
    ]
    assert not [d for d in differ if d[1]], differ
    assert (run_dir / "rollouts.jsonl").read_text() == rollouts

    # as after a stop signal at step 2: checkpoint-2 without the validation of step 2 (the stop
    # skips it). The resumed run makes it up before its first step, then trains as before (the
    # checkpoint's RNG state is restored after that validation)
    state_file = run_dir / "checkpoint-2" / "trainer_state.json"
    state = json.loads(state_file.read_text())
    state["log_history"] = [e for e in state["log_history"] if not (e["step"] == 2 and "eval_loss" in e)]
    state_file.write_text(json.dumps(state))
    shutil.rmtree(run_dir / "final")
    shutil.rmtree(run_dir / "checkpoint-4")
    calls.clear()
    run_experiment(cfg, "mixed", run_dir, mix, tiny_vlm_dir, resume="auto", heldout=heldout)
    assert [t for t, _ in calls] == [0.55, 1.0, 1.0, 0.55]
    again = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in again if r.get("kind") == "validation"] == [0, 2, 4]
    assert timeless(r for r in again if "kind" not in r) == timeless(r for r in log if "kind" not in r)
    assert (run_dir / "rollouts.jsonl").read_text() == rollouts


# ---- the workflow ------------------------------------------------------------------------------


def test_train_rule_passes_the_heldout_split_to_rl_experiments_only(tmp_path):
    """Demo config with validation on: the RL experiment's job takes data/heldout/{category}.parquet
    as input and on its command line, the SFT experiment's job neither; with validation off (the
    demo's default) no job does."""
    import re
    import subprocess
    import sys

    results = tmp_path / "results"

    def train_commands(*config):
        cmd = [sys.executable, "-m", "snakemake", f"{results}/runs/mixed/final", f"{results}/runs/sft/final"]
        cmd += ["-n", "-p", "--cores", "1", "--configfile", str(REPO / "config" / "demo.yaml")]
        cmd += ["--config", f"results_dir={results}", *config]
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        text = out.stdout + out.stderr
        return {m.group(1): m.group(0) for m in re.finditer(r"train\.py .*--experiment (\w+) .*", text)}

    commands = train_commands("train={validation: {every_steps: 2}}")
    heldout = [f"{results}/data/heldout/{c}.parquet" for c in CATEGORIES]
    assert "--heldout " + " ".join(heldout) + " --error-fd" in commands["mixed"]
    assert "--heldout  --error-fd" in commands["sft"]
    off = train_commands()
    assert sorted(off) == ["mixed", "sft"] and all("--heldout  --error-fd" in c for c in off.values())
