"""Generation throughput of the evaluation backends on the tiny VLM: samples/s at batch 1, 8, 32.

    .venv/bin/python benchmarks/eval_generate.py [--samples 32] [--max-new-tokens 48] [--family qwen2_5_vl]
        [--model DIR] [--repeats 2] [--vllm]

Builds the tiny model of `--family` offline (or uses `--model`), draws VeroMini held-out samples
(all six categories, real images), and times `backend.generate` of the `hf` backend (transformers,
CPU or GPU) at each batch size; the best of `--repeats` runs is printed. With `--vllm` (or when vLLM
is importable) the `vllm` backend is timed too (engine start excluded, reported separately), and the
vllm/hf samples/s ratio printed (vLLM's whole list at once vs hf's best batch size; in .venv-vllm:
`.venv-vllm/bin/python benchmarks/eval_generate.py --vllm`). Both run greedy with every completion
exactly max_new_tokens long (hf: `min_new_tokens`, vllm: `ignore_eos`), so the figures compare the
same amount of generated text.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

from vero.runtime import setup_cpu


def heldout_samples(n: int, tmp: Path):
    from vero.categories import CATEGORIES
    from vero.data.io import write_records
    from vero.data.veromini.generator import generate_category
    from vero.eval.registry import mini_suite
    from vero.eval.samples import load_samples

    per_cat = -(-n // len(CATEGORIES))
    samples = []
    for cat, spec in zip(CATEGORIES, mini_suite(tmp).values(), strict=True):
        path = Path(spec.local_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_records(path, generate_category(cat, per_cat, seed=3, split="heldout"))
        samples += load_samples(spec).samples
    return samples[:n]


def force_full_length(hf_backend) -> None:
    """Make every completion exactly max_new_tokens long (a random tiny model stops at random
    points, which would make batch sizes incomparable)."""
    original = hf_backend.model.generate

    def generate(*args, **kwargs):
        kwargs.setdefault("min_new_tokens", kwargs.get("max_new_tokens"))
        return original(*args, **kwargs)

    hf_backend.model.generate = generate


def force_full_length_vllm(vllm_backend) -> None:
    """The vLLM counterpart of `force_full_length`: ignore EOS, so every completion is exactly
    max_new_tokens long and the vllm/hf ratio compares the same amount of generated text."""
    original = vllm_backend.llm.chat

    def chat(messages, params, *args, **kwargs):
        params = params.clone()
        params.ignore_eos = True
        return original(messages, params, *args, **kwargs)

    vllm_backend.llm.chat = chat


def time_backend(backend, samples, batch_sizes, max_new_tokens: int, repeats: int) -> dict[int, float]:
    out = {}
    for bs in batch_sizes:
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            backend.generate(samples, temperature=0.0, max_new_tokens=max_new_tokens, batch_size=bs)
            best = min(best, time.perf_counter() - t0)
        out[bs] = len(samples) / best
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--family", default="qwen2_5_vl", choices=["qwen2_5_vl", "qwen3_vl"])
    p.add_argument("--model", help="an existing model directory instead of building the tiny one")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--vllm", action="store_true", help="also time vLLM (fails if it is not installed)")
    a = p.parse_args(argv)
    setup_cpu()
    import torch

    from vero.eval.backends import get_backend
    from vero.models import build_tiny_vlm

    with tempfile.TemporaryDirectory(prefix="vero-evalbench-") as tmp:
        tmp = Path(tmp)
        model = a.model or str(build_tiny_vlm(a.family, tmp / f"tiny-{a.family}"))
        samples = heldout_samples(a.samples, tmp / "results")
        device = "cuda" if torch.cuda.is_available() else f"cpu, {torch.get_num_threads()} thread(s)"
        print(
            f"model {model} | {len(samples)} VeroMini samples | {a.max_new_tokens} new tokens each | "
            f"greedy | device {device} | torch {torch.__version__}"
        )
        hf = get_backend("hf", model, dtype="float32" if device.startswith("cpu") else "bfloat16")
        force_full_length(hf)
        hf.generate(samples[:2], temperature=0.0, max_new_tokens=4, batch_size=2)  # warm-up
        hf_rates = time_backend(hf, samples, a.batch_sizes, a.max_new_tokens, a.repeats)
        for bs, rate in hf_rates.items():
            print(f"hf    batch {bs:>3}: {rate:8.2f} samples/s  ({rate * a.max_new_tokens:9.1f} tokens/s)")

        if a.vllm or importlib.util.find_spec("vllm") is not None:
            t0 = time.perf_counter()
            on_cpu = not torch.cuda.is_available()
            vb = get_backend(
                "vllm",
                model,
                enforce_eager=on_cpu,
                max_model_len=2048,
                # like for like with hf on CPU (float32); a fixed KV cache, as this VM's NUMA report
                # would make vLLM size it from ~10 GiB (docs/environment.md#vllm-on-cpu)
                dtype="float32" if on_cpu else "auto",
                extra_engine_args={"kv_cache_memory_bytes": 256 * 1024**2} if on_cpu else {},
            )
            print(f"vllm  engine start: {time.perf_counter() - t0:.1f} s")
            force_full_length_vllm(vb)
            # vLLM schedules the whole list itself (continuous batching): one figure
            rate = time_backend(vb, samples, [len(samples)], a.max_new_tokens, a.repeats)[len(samples)]
            print(f"vllm  all {len(samples)} at once: {rate:8.2f} samples/s")
            best_bs, best_hf = max(hf_rates.items(), key=lambda kv: kv[1])
            print(
                f"vllm/hf samples/s ratio: {rate / best_hf:.2f}x "
                f"(vllm all at once vs hf's best, batch {best_bs})"
            )
            vb.close()
        else:
            print("vllm  not installed here: skipped")


if __name__ == "__main__":
    main()
