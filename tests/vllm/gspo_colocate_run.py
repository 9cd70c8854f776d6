"""Two GSPO steps through vero.train.run_experiment with `train.use_vllm: true` (TRL's colocate
mode: the vLLM engine lives in the training process). Run as a script, one process per run, since
a colocated engine initialises torch.distributed for its process:

    python tests/vllm/gspo_colocate_run.py --mode trl|reload --base MODEL_DIR --work DIR --out R.json

`--mode trl` runs TRL as it ships. `--mode reload` swaps TRL's colocate weight sync for vLLM's
own in-place reload (`model_runner.reload_weights`), the path that survives the CPU build's
prepacked linear layers (see tests/vllm/test_gspo_colocate.py), and then checks that a sync really
reaches the engine. The outcome, error included, is written to `--out` as JSON.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import traceback
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
os.environ.setdefault("WANDB_MODE", "disabled")

MAX_STEPS = 2
SHARPEN = 40.0  # embedding scale for the sync check, as in tests/vllm/_support.sharpen_checkpoint
PROMPTS = ["the image shows", "how many red squares", "answer the question", "count the circles"]

_generation = {}  # the VLLMGeneration of the run, recorded at its first weight sync


def write_mix(path: Path) -> None:
    """A 12-row VeroMini mix in the data stage's order: each block of six holds every category."""
    from vero.categories import CATEGORIES
    from vero.data.io import write_records
    from vero.data.veromini import generate_veromini

    by_cat = {c: list(generate_veromini(2, seed=5, categories=[c])) for c in CATEGORIES}
    write_records(path, [by_cat[c][b] for b in range(2) for c in CATEGORIES])


def adapt_training_args_to_installed_transformers() -> list[str]:
    """vLLM's CPU build pins transformers < 5.20, whose TrainingArguments call activation
    checkpointing `gradient_checkpointing`; vero.train writes the >= 5.23 name. Rename it when the
    installed GRPOConfig lacks it (the value is False on CPU either way)."""
    import trl

    import vero.train.run as run_module

    accepted = inspect.signature(trl.GRPOConfig.__init__).parameters
    if "activation_checkpointing" in accepted:
        return []
    original = run_module.grpo_config_kwargs

    def adapted(*args, **kwargs):
        out = original(*args, **kwargs)
        out["gradient_checkpointing"] = out.pop("activation_checkpointing")
        return out

    run_module.grpo_config_kwargs = adapted
    return ["activation_checkpointing -> gradient_checkpointing"]


def engine_model(generation):
    return generation.llm.llm_engine.model_executor.driver_worker.model_runner.model


def install_sync(mode: str) -> None:
    from trl.generation.vllm_generation import VLLMGeneration

    original = VLLMGeneration.sync_weights

    def sync_via_reload(self):
        _generation.setdefault("gen", self)
        runner = self.llm.llm_engine.model_executor.driver_worker.model_runner
        # Copies: the engine keeps (or repacks) what it is given; the trainer keeps updating its own.
        runner.reload_weights(
            weights_iterator=[(n, p.detach().clone()) for n, p in self._iter_named_params()]
        )
        self.llm.reset_prefix_cache()  # as TRL's sync; vero's trainer adds the encoder-cache reset
        _generation["syncs"] = _generation.get("syncs", 0) + 1

    def sync_recorded(self):
        _generation.setdefault("gen", self)
        return original(self)

    VLLMGeneration.sync_weights = sync_via_reload if mode == "reload" else sync_recorded
    generate = VLLMGeneration.generate

    def generate_counted(self, *args, **kwargs):  # the rollouts come from the engine
        _generation["generate_calls"] = _generation.get("generate_calls", 0) + 1
        return generate(self, *args, **kwargs)

    VLLMGeneration.generate = generate_counted

    from vllm.v1.engine.llm_engine import LLMEngine

    reset = LLMEngine.reset_encoder_cache

    def reset_counted(self):  # vero's trainer clears the engine's vision-encoder cache after a sync
        _generation["encoder_cache_resets"] = _generation.get("encoder_cache_resets", 0) + 1
        return reset(self)

    LLMEngine.reset_encoder_cache = reset_counted


def packed_linear_evidence(generation) -> dict:
    """What vLLM's CPU build did to the engine's linear layers after loading."""
    packed = []
    for name, module in engine_model(generation).named_modules():
        weight = getattr(module, "weight", None)
        if hasattr(module, "cpu_linear") and weight is not None and weight.numel() == 0:
            packed.append(name)
    return {
        "packed_linear_layers": len(packed),
        "example": packed[0] if packed else None,
        "weight_loader_on_example": (
            hasattr(engine_model(generation).get_submodule(packed[0]).weight, "weight_loader")
            if packed
            else None
        ),
    }


def greedy_vllm(generation, prompt_ids: list[list[int]], n: int) -> list[list[int]]:
    from vllm import SamplingParams

    outs = generation.llm.generate(
        [{"prompt_token_ids": ids} for ids in prompt_ids],
        SamplingParams(max_tokens=n, temperature=0.0),
        use_tqdm=False,
    )
    return [list(o.outputs[0].token_ids) for o in outs]


def greedy_hf(model, prompt_ids: list[list[int]], n: int, eos: int) -> list[list[int]]:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for ids in prompt_ids:
            gen = model.generate(
                torch.tensor([ids]), max_new_tokens=n, do_sample=False, pad_token_id=eos, eos_token_id=eos
            )
            out.append(gen[0, len(ids) :].tolist())
    return out


def sync_check(generation, tokenizer) -> dict:
    """Sharpen the trained model's embeddings in place, sync, and compare greedy continuations:
    before the sync the engine must disagree with the sharpened model, after it agree."""
    import torch

    model = generation.model
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    prompt_ids = [tokenizer.encode(p, add_special_tokens=False) for p in PROMPTS]
    before = greedy_vllm(generation, prompt_ids, 8)
    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(SHARPEN)
    reference = greedy_hf(model, prompt_ids, 8, eos)
    generation.sync_weights()
    after = greedy_vllm(generation, prompt_ids, 8)

    def trim(seqs):  # HF stops at EOS, vLLM includes it: compare up to and including EOS
        return [s[: s.index(eos) + 1] if eos in s else s for s in seqs]

    return {
        "hf_sharpened": trim(reference),
        "vllm_before_sync": trim(before),
        "vllm_after_sync": trim(after),
        "distinct_hf_continuations": len({tuple(s) for s in reference}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["trl", "reload"], required=True)
    parser.add_argument("--base", required=True, help="tiny VLM directory (text head_dim >= 32)")
    parser.add_argument("--work", required=True, help="scratch directory for the mix and the run")
    parser.add_argument("--out", required=True, help="JSON file for the outcome")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from vero.config import load_config
    from vero.train import run_experiment

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    write_mix(work / "mix.parquet")
    cfg = load_config(
        "config/demo.yaml",
        {
            "results_dir": str(work),
            "wandb": {"mode": "disabled"},
            "train": {
                "use_vllm": True,
                "max_steps": MAX_STEPS,
                "save_steps": MAX_STEPS,
                "max_completion_length": 16,
            },
        },
    )
    result: dict = {"mode": args.mode, "adaptations": adapt_training_args_to_installed_transformers()}
    install_sync(args.mode)
    run_dir = work / "run"
    try:
        result["final_dir"] = run_experiment(cfg, "mixed", run_dir, work / "mix.parquet", args.base)
        result["ok"] = True
    except Exception as err:  # the outcome is the point: record it for the test
        result.update(ok=False, error_type=type(err).__name__, error=str(err))
        result["traceback_tail"] = traceback.format_exc()[-3000:]
        result["traceback_functions"] = [frame.name for frame in traceback.extract_tb(err.__traceback__)]
    log_path = run_dir / "train_log.jsonl"
    result["train_log"] = (
        [json.loads(line) for line in log_path.read_text().splitlines()] if log_path.exists() else []
    )
    generation = _generation.get("gen")
    result["engine_started"] = generation is not None
    if generation is not None:
        result["engine"] = packed_linear_evidence(generation)
        result["engine_dtype"] = str(generation.llm.llm_engine.model_config.dtype)
        if args.mode == "reload" and result["ok"]:
            from vero.models import load_processor

            result["sync_check"] = sync_check(generation, load_processor(args.base).tokenizer)
        result["syncs"] = _generation.get("syncs", 0)
        result["encoder_cache_resets"] = _generation.get("encoder_cache_resets", 0)
        result["generate_calls"] = _generation.get("generate_calls", 0)
    from vllm.platforms import current_platform

    result["sleep_mode_available"] = bool(current_platform.is_sleep_mode_available())
    resolved = run_dir / "resolved_config.json"
    if resolved.exists():
        trl_args = json.loads(resolved.read_text())["trl_args"]
        result["trl_args"] = {k: v for k, v in trl_args.items() if k.startswith("vllm") or k == "use_vllm"}
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps({k: v for k, v in result.items() if k != "train_log"}, default=str)[:4000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
