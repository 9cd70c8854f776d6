"""Warm start of the embedded tiny VLM: a short supervised run on VeroMini's `pretrain` split.

A randomly initialised tiny model scores 0 everywhere, so RL has no signal (every group of
rollouts gets the same reward, every advantage is 0) and no ablation can tell a working recipe
from a broken one. The warm start teaches it the output format and some of each task, so the
base model of the demo starts partway: above zero in every category, well below the ceiling.
It plays the part of the instruction-tuned base model the paper starts RL from (docs/recipe.md#5-training:
Qwen3-VL-8B-Instruct); the paper itself does no SFT stage, and neither does any experiment here.

Data: the `pretrain` partition of VeroMini (vero.data.veromini.generator), which shares no image
with the train split and neither a question nor an image with the held-out mini suite. Each row
carries a worked target: `<think>{rationale}</think><answer>{answer}</answer>`, the rationale a
short reasoning written from the drawn facts, the answer in the format the reward grades.

Training: TRL's SFTTrainer on prompt-completion rows (loss on the completion only), the same
prompt (`vero.prompts.build_messages`, the recipe's system prompt) as RL and evaluation.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vero.config import ConfigError

# Columns the warm start reads from the pretrain file, besides the canonical record.
TARGET_COLUMNS = ("rationale", "response")


@dataclass(frozen=True)
class WarmStartSettings:
    """`model.tiny.warm_start` of the config (defaults and descriptions: config/schema/model.yaml)."""

    steps: int = 0
    samples_per_category: int = 0
    batch_size: int = 12
    learning_rate: float = 1e-3
    warmup_steps: int = 0
    seed: int = 0

    @property
    def enabled(self) -> bool:
        return self.steps > 0

    @classmethod
    def from_config(cls, cfg: Mapping) -> WarmStartSettings:
        model_cfg = cfg.get("model") if isinstance(cfg, Mapping) else None
        ws = dict(((model_cfg or {}).get("tiny") or {}).get("warm_start") or {})
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(ws) - known)
        if unknown:
            raise ConfigError(
                f"config key 'model.tiny.warm_start': unknown keys {unknown}; known: {sorted(known)}"
            )
        settings = cls(**ws)
        if settings.enabled and settings.samples_per_category < 1:
            raise ConfigError(
                "config key 'model.tiny.warm_start.samples_per_category': must be >= 1 when "
                f"warm_start.steps is {settings.steps}"
            )
        return settings


def warm_start_enabled(cfg: Mapping) -> bool:
    """Whether the workflow warm-starts the tiny model (only when `model.base` is "tiny")."""
    return cfg.get("model", {}).get("base") == "tiny" and WarmStartSettings.from_config(cfg).enabled


def target_text(row: Mapping[str, Any], coords: str) -> str:
    """The completion a pretrain row teaches: think block (its rationale) and answer block.

    The answer block is the row's `response` when it has one (instruction following: a text that
    meets every constraint), else the reference answer formatted as the reward grades it
    (`vero.train.data.sft_answer`: one `\\boxed{}` or JSON boxes/points in the family's coords).
    """
    from vero.train.data import sft_answer

    answer = row.get("response") or sft_answer(row, coords)
    if not answer:
        raise ValueError(f"row {row.get('id')!r} ({row.get('reward_type')}) has no answer to teach")
    think = (row.get("rationale") or "").strip()
    if not think:
        raise ValueError(f"row {row.get('id')!r} has an empty rationale")
    return f"<think>{think}</think><answer>{answer}</answer>"


def pretrain_dataset(path: str | Path, coords: str, system_prompt: str | None = None):
    """The pretrain file as TRL prompt-completion rows with images (a `datasets.Dataset`)."""
    import pyarrow.parquet as pq
    from datasets import Dataset, Features, Image, List, Value

    from vero.prompts import build_messages

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: pretrain data not found (rule data_pretrain writes it)")
    table = pq.read_table(path)
    missing = [
        c
        for c in ("question", "images", "reward_type", "answer", "image_size", *TARGET_COLUMNS)
        if c not in table.column_names
    ]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    rows = table.to_pylist()
    message = [{"role": Value("string"), "content": [{"type": Value("string"), "text": Value("string")}]}]
    features = Features(
        {
            "prompt": message,
            "completion": message,
            "images": List(Image()),
            "category": Value("string"),
        }
    )
    data = {
        "prompt": [build_messages(r["question"], len(r["images"]), system_prompt) for r in rows],
        "completion": [
            [{"role": "assistant", "content": [{"type": "text", "text": target_text(r, coords)}]}]
            for r in rows
        ],
        "images": [[{"bytes": b, "path": None} for b in r["images"]] for r in rows],
        "category": [r["category"] for r in rows],
    }
    return Dataset.from_dict(data, features=features)


# Long: the SFT run as one sequence (model, data, TRL's SFTConfig and SFTTrainer, train, save), read
# top to bottom as the module docstring describes it.
def run_warm_start(
    base_dir: str | Path,
    pretrain_path: str | Path,
    out_dir: str | Path,
    settings: WarmStartSettings,
    *,
    coords: str = "absolute",
    system_prompt: str | None = None,
    dtype: str = "float32",
) -> Path:
    """Train `base_dir` on the pretrain file for `settings.steps` updates and save it to `out_dir`.

    Writes `out_dir` (model + processor, an ordinary model directory), `warm_start_log.jsonl`
    (the loss of every logged step) and `warm_start.json` (settings, rows, epochs, final loss)
    inside it. Written to `out_dir.tmp` first and renamed, so `out_dir` is never partial.
    """
    from vero.runtime import setup_cpu

    setup_cpu()
    import torch
    from transformers import TrainerCallback, set_seed
    from trl import SFTConfig, SFTTrainer

    from vero.models import load_model_and_processor

    if not settings.enabled:
        raise ValueError("warm start with steps = 0: nothing to train")
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    set_seed(settings.seed)
    dataset = pretrain_dataset(pretrain_path, coords, system_prompt)
    model, processor = load_model_and_processor(str(base_dir), dtype=dtype)
    log_rows: list[dict] = []

    class _Log(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                log_rows.append(
                    {
                        "step": state.global_step,
                        **{k: v for k, v in logs.items() if isinstance(v, (int, float))},
                    }
                )

    args = SFTConfig(
        output_dir=str(tmp / "trainer"),
        max_steps=settings.steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=1,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=settings.warmup_steps,
        weight_decay=0.0,
        max_grad_norm=1.0,
        logging_steps=max(1, settings.steps // 50),
        save_strategy="no",
        report_to="none",
        seed=settings.seed,
        data_seed=settings.seed,
        use_cpu=not torch.cuda.is_available(),
        bf16=False,
        fp16=False,
        dataloader_num_workers=0,
        max_length=None,
        completion_only_loss=True,
        packing=False,
        disable_tqdm=False,
        activation_checkpointing=False,  # TRL's SFTConfig turns it on by default; it only costs time here
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=processor, callbacks=[_Log()]
    )
    trainer.train()
    trainer.save_model(str(tmp))
    processor.save_pretrained(str(tmp))
    shutil.rmtree(tmp / "trainer", ignore_errors=True)
    losses = [r["loss"] for r in log_rows if "loss" in r]
    with open(tmp / "warm_start_log.jsonl", "w") as f:
        for r in log_rows:
            f.write(json.dumps(r) + "\n")
    summary = {
        "settings": asdict(settings),
        "base_model": str(base_dir),
        "pretrain": str(pretrain_path),
        "rows": len(dataset),
        "epochs": round(settings.steps * settings.batch_size / max(1, len(dataset)), 3),
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
    }
    if losses and not all(math.isfinite(x) for x in losses):
        raise RuntimeError(f"warm start diverged: non-finite loss in {losses}")
    (tmp / "warm_start.json").write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    return out_dir
