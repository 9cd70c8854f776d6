"""Training on the tiny VLM: learning, the TRL loss vs the reference, every variant, resume.

All on CPU with one thread; each test stays under a minute on an idle core.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from vero.categories import CATEGORIES
from vero.config import deep_merge, load_config, resolve_experiment, validate_config
from vero.data.io import write_records
from vero.data.mixing import build_mix
from vero.data.veromini import generate_veromini
from vero.train import objective, run_experiment
from vero.train.data import load_mix
from vero.train.trl_config import ALGORITHMS, build_grpo_config

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def write_balanced_mix(path: Path, n_blocks: int = 4, seed: int = 5) -> Path:
    """A VeroMini mix built by the data stage's own mixer (blocks of six, one row per category)."""
    per_category = {}
    for c in CATEGORIES:
        per_category[c] = path.parent / f"{c}.parquet"
        write_records(per_category[c], generate_veromini(n_blocks, seed=seed, categories=[c]))
    build_mix(per_category, list(CATEGORIES), n_blocks, 6, None, seed, path)
    return path


@pytest.fixture(scope="module")
def mix(tmp_path_factory):
    return write_balanced_mix(tmp_path_factory.mktemp("mix") / "mixed.parquet")


def demo_config(tmp_path: Path, **train) -> dict:
    """The demo config, W&B off, two-step training with short completions unless overridden."""
    raw = load_config(REPO / "config" / "demo.yaml")
    raw = deep_merge(
        raw,
        {
            "results_dir": str(tmp_path),
            "wandb": {"mode": "disabled", "dir": str(tmp_path / "wandb")},
            "train": {"max_steps": 2, "save_steps": 2, "max_completion_length": 24, **train},
        },
    )
    return validate_config(raw)


def read_log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]


# ---- (a) learning ---------------------------------------------------------------------------


def test_gspo_raises_reward_on_a_learnable_task(tiny_vlm_dir, mix, tmp_path):
    """The task: emit tokens from the lower half of the vocabulary.

    Chosen because a randomly initialised tiny VLM starts at a mean reward of about 0.5 with
    spread inside each group (so GSPO's group-normalised advantages carry signal from step 1),
    and the optimum is reachable by a simple shift of the output distribution, so 15 GSPO steps
    on CPU move it clearly. It runs the project's GSPO configuration (sequence-level ratio,
    clip 3e-4/4e-4, beta 0) and trainer; only the reward and the learning rate differ.
    """
    from vero.models import load_model_and_processor
    from vero.train.trainer import VeroGRPOTrainer

    cfg = demo_config(
        tmp_path,
        max_steps=15,
        save_steps=100,
        num_generations=4,
        max_completion_length=8,
        learning_rate=1e-2,
        warmup_steps=0,
    )
    resolved = resolve_experiment(cfg, "mixed")
    args = build_grpo_config(resolved, str(tmp_path / "run"), num_processes=1)
    args.save_strategy = "no"
    assert args.importance_sampling_level == "sequence" and args.epsilon_high == 4e-4
    dataset, _ = load_mix(mix, mix_batch_size=6, single_category=False)
    model, processor = load_model_and_processor(tiny_vlm_dir, dtype="float32")
    half = model.config.text_config.vocab_size // 2

    def low_half_tokens(completions, completion_ids, **kwargs):
        return [sum(t < half for t in ids) / max(len(ids), 1) for ids in completion_ids]

    trainer = VeroGRPOTrainer(
        model=model,
        reward_funcs=[low_half_tokens],
        args=args,
        train_dataset=dataset,
        processing_class=processor,
    )
    trainer.train()
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    assert len(rewards) == 15
    start, end = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert start < 0.65, rewards
    assert end > start + 0.2 and end > 0.75, rewards


# ---- (b) TRL's loss under our config = the reference objective ------------------------------


@pytest.mark.parametrize("algorithm", ["gspo", "grpo", "dapo"])
def test_trl_loss_matches_reference_objective(tiny_vlm_dir, mix, tmp_path, algorithm):
    from vero.models import load_model_and_processor
    from vero.train.trainer import VeroGRPOTrainer

    cfg = demo_config(tmp_path, algorithm=algorithm)
    args = build_grpo_config(resolve_experiment(cfg, "mixed"), str(tmp_path / "run"), num_processes=1)
    dataset, _ = load_mix(mix, mix_batch_size=6, single_category=False)
    model, processor = load_model_and_processor(tiny_vlm_dir, dtype="float32")
    trainer = VeroGRPOTrainer(
        model=model, reward_funcs=[lambda completions, **kw: [0.0] * len(completions)], args=args,
        train_dataset=dataset, processing_class=processor,
    )  # fmt: skip
    # A fixed toy batch: current log-probs, the rollout policy's, advantages, padding mask.
    old = torch.tensor([[-1.0, -2.0, -0.5, -1.5], [-0.7, -1.2, -3.0, -0.1], [-2.0, -0.3, -0.9, -1.1]])
    shift = torch.tensor([[1e-3, -5e-4, 1.1e-3, 2e-4], [-6e-4, -4e-4, 0.9, 0.0], [0.3, -0.25, 0.1, 0.05]])
    new = old + shift
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]])
    adv = torch.tensor([1.0, -1.0, 0.5])
    trainer._get_per_token_logps_and_entropies = lambda *a, **k: (new, torch.ones_like(new), None)
    trainer.current_gradient_accumulation_steps = 1
    trainer.model.train()
    inputs = {
        "prompt_ids": torch.ones(3, 2, dtype=torch.long),
        "prompt_mask": torch.ones(3, 2, dtype=torch.long),
        "completion_ids": torch.ones(3, 4, dtype=torch.long),
        "completion_mask": mask,
        "advantages": adv,
        "old_per_token_logps": old,
        "num_items_in_batch": mask.sum().float(),
    }
    trl_loss = trainer._compute_loss(trainer.model, inputs).item()
    spec = ALGORITHMS[algorithm]
    reference = objective.clipped_policy_loss(
        new, old, adv, mask, level=spec["importance_sampling_level"], eps_low=spec["epsilon"],
        eps_high=spec["epsilon_high"], aggregation="token_mean" if algorithm == "dapo" else "sequence_mean",
    ).item()  # fmt: skip
    assert trl_loss == pytest.approx(reference, rel=1e-5, abs=1e-7)
    # and the variants really differ on this batch
    if algorithm == "gspo":
        token_level = objective.clipped_policy_loss(
            new, old, adv, mask, level="token", eps_low=0.2, eps_high=0.2
        )
        assert not math.isclose(trl_loss, token_level.item(), rel_tol=1e-3)


# ---- (c) every variant trains on the tiny VLM with the Vero reward --------------------------


@pytest.mark.parametrize("experiment", ["mixed", "algo_grpo", "algo_dapo", "reward_math_verify", "sft"])
def test_variant_trains_two_steps(tiny_vlm_dir, mix, tmp_path, experiment, monkeypatch):
    import vero.tracking

    cfg = demo_config(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg["wandb"]["dir"] = str(tmp_path / "wandb")
    started = []

    def spy_init_run(**kwargs):
        started.append(kwargs)
        return real_init_run(**kwargs)

    real_init_run = vero.tracking.init_run
    monkeypatch.setattr(vero.tracking, "init_run", spy_init_run)
    run_dir = tmp_path / "runs" / experiment
    final = Path(run_experiment(cfg, experiment, run_dir, mix, tiny_vlm_dir))
    assert final == run_dir / "final"
    assert (final / "model.safetensors").is_file() and (final / "processor_config.json").is_file()
    assert json.loads((final / "train_summary.json").read_text())["global_step"] == 2
    assert (run_dir / "checkpoint-2" / "trainer_state.json").is_file()
    log = [e for e in read_log(run_dir) if "loss" in e]
    assert [e["step"] for e in log] == [1, 2]
    resolved = json.loads((run_dir / "resolved_config.json").read_text())
    assert resolved["experiment"]["name"] == experiment
    # one offline W&B run for the experiment: group = its ablation, the resolved config
    (run,) = started
    assert (run["experiment"], run["group"], run["job_type"]) == (
        experiment,
        resolved["experiment"]["ablation"],
        "train",
    )
    assert run["config"] == resolve_experiment(cfg, experiment)
    assert len(list((tmp_path / "wandb" / "wandb").glob("offline-run-*"))) == 1
    if experiment == "sft":
        assert all(math.isfinite(e["loss"]) for e in log)
        return
    reward_name = "math_verify_reward" if experiment == "reward_math_verify" else "vero_reward"
    for entry in log:
        assert math.isfinite(entry[f"rewards/{reward_name}/mean"])
        assert "entropy" in entry and "completions/mean_length" in entry
        # category-balanced rollout batches survived TRL's dataloader
        shares = {c: entry.get(f"batch/category_share/{c}") for c in CATEGORIES}
        assert shares == pytest.approx({c: 1 / 6 for c in CATEGORIES}), shares
        assert "reward/category/stem/accuracy" in entry and "reward/format" in entry
    assert (
        resolved["trl_args"]["loss_type"]
        == ALGORITHMS[resolve_experiment(cfg, experiment)["train"]["algorithm"]]["loss_type"]
    )
    rollouts = [json.loads(line) for line in (run_dir / "rollouts.jsonl").read_text().splitlines()]
    assert rollouts and {"step", "id", "category", "completion", "reward"} <= set(rollouts[0])


# ---- (d) a killed job resumes from its checkpoint -------------------------------------------

KILLED_RUN = """
import os, signal, sys
from transformers import TrainerCallback
from vero.config import validate_config
from vero.train import run_experiment
import json

class DieAfterSave(TrainerCallback):
    # SIGKILL right after checkpoint-2 is on disk, as a preempted SLURM job dies
    def on_save(self, args, state, control, **kwargs):
        if state.global_step == 2:
            os.kill(os.getpid(), signal.SIGKILL)

cfg = validate_config(json.loads(open(sys.argv[1]).read()))
run_experiment(cfg, "mixed", sys.argv[2], sys.argv[3], sys.argv[4], callbacks=[DieAfterSave()])
"""


def test_killed_run_resumes_from_its_checkpoint(tiny_vlm_dir, mix, tmp_path):
    cfg = demo_config(tmp_path, max_steps=4, save_steps=2, max_completion_length=16)
    cfg_json = tmp_path / "resolved_config.json"
    cfg_json.write_text(json.dumps(cfg))
    run_dir = tmp_path / "runs" / "mixed"
    driver = tmp_path / "killed_run.py"
    driver.write_text(textwrap.dedent(KILLED_RUN))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.run(
        [sys.executable, str(driver), str(cfg_json), str(run_dir), str(mix), str(tiny_vlm_dir)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert first.returncode == -signal.SIGKILL, first.stderr[-3000:]
    assert (run_dir / "checkpoint-2" / "trainer_state.json").is_file()
    assert not (run_dir / "final").exists()
    # Snakemake removes the outputs of the failed job, train_log.jsonl included
    (run_dir / "train_log.jsonl").unlink()

    # the rerun: the train rule's command, unchanged (a fresh process, as a requeued job)
    second = subprocess.run(
        [sys.executable, "workflow_scripts/train.py", "--config-json", str(cfg_json), "--experiment", "mixed",
         "--mix", str(mix), "--base-model", str(tiny_vlm_dir), "--output-dir", str(run_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming mixed from" in second.stderr
    starts = json.loads((run_dir / "run_info.json").read_text())["starts"]
    assert [s["start_step"] for s in starts] == [0, 2]
    assert starts[1]["resumed_from"].endswith("checkpoint-2")
    assert json.loads((run_dir / "final" / "train_summary.json").read_text())["global_step"] == 4
    steps = [e["step"] for e in read_log(run_dir) if "loss" in e]
    assert steps == [1, 2, 3, 4]
    rollouts = [json.loads(line) for line in (run_dir / "rollouts.jsonl").read_text().splitlines()]
    per_step = [sum(r["step"] == s for r in rollouts) for s in (1, 2, 3, 4)]
    assert per_step == [per_step[0]] * 4 and per_step[0] > 0  # no step lost or written twice
    # both starts logged to the same W&B run
    run_id = (run_dir / "wandb_run_id.txt").read_text().strip()
    runs = sorted((tmp_path / "wandb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(r.name.endswith(f"-{run_id}") for r in runs)


def test_sigterm_saves_a_checkpoint_and_the_rerun_finishes(tiny_vlm_dir, mix, tmp_path):
    """SLURM preemption: SIGTERM mid-run -> checkpoint at the end of that step, no final/."""
    from transformers import TrainerCallback

    from vero.train.trainer import TrainingPreempted

    class SigtermAtStep1(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 0:
                os.kill(os.getpid(), signal.SIGTERM)

    cfg = demo_config(tmp_path, max_steps=3, save_steps=3, max_completion_length=8)
    run_dir = tmp_path / "runs" / "mixed"
    handler_before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingPreempted, match="step 1"):
        run_experiment(cfg, "mixed", run_dir, mix, tiny_vlm_dir, callbacks=[SigtermAtStep1()])
    assert (run_dir / "checkpoint-1" / "trainer_state.json").is_file()
    assert not (run_dir / "final").exists()
    assert signal.getsignal(signal.SIGTERM) == handler_before  # the job's own handler is back
    run_experiment(cfg, "mixed", run_dir, mix, tiny_vlm_dir)
    assert json.loads((run_dir / "final" / "train_summary.json").read_text())["global_step"] == 3
    starts = json.loads((run_dir / "run_info.json").read_text())["starts"]
    assert [s["start_step"] for s in starts] == [0, 1]


def test_launcher_runs_the_job_through_accelerate(tiny_vlm_dir, mix, tmp_path):
    """The train rule's command with a GPU launcher: the script builds `accelerate launch ...`,
    prints it and runs it; the launched process trains (here on CPU, accelerate's single_gpu
    config falling back to the CPU)."""
    cfg = demo_config(tmp_path, max_completion_length=8)
    cfg["train"]["launcher"]["kind"] = "single_gpu"
    cfg_json = tmp_path / "resolved_config.json"
    cfg_json.write_text(json.dumps(cfg))
    run_dir = tmp_path / "runs" / "mixed"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    proc = subprocess.run(
        [sys.executable, "workflow_scripts/train.py", "--config-json", str(cfg_json), "--experiment", "mixed",
         "--mix", str(mix), "--base-model", str(tiny_vlm_dir), "--output-dir", str(run_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    launched = next(line for line in proc.stderr.splitlines() if line.startswith("[vero.train.launch]"))
    # the accelerate config is found through the package (vero.resources): an absolute path
    assert re.search(
        r"-m accelerate\.commands\.launch --config_file /\S+/config/accelerate/single_gpu\.yaml ", launched
    )
    assert launched.endswith("--in-process")
    assert json.loads((run_dir / "final" / "train_summary.json").read_text())["global_step"] == 2
