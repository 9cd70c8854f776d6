"""Helpers shared by the vLLM tier's tests (importable, unlike conftest)."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

# KV cache for one tiny-model engine: the VM reports a 10 GiB NUMA node and vLLM would size the
# cache from that (docs/environment.md#vllm-on-cpu).
KV_CACHE_BYTES = 256 * 1024**2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rescale_checkpoint(src: Path, dst: Path, seed: int = 0) -> Path:
    """Copy a tiny checkpoint with its matrices redrawn at unit-variance scale (std 1/sqrt(fan_in),
    token embeddings std 1) and an output head of its own (untied from the embeddings).

    The builder's init (std 0.02) leaves every layer's contribution tiny next to the residual
    stream and the next-token logits nearly flat, and with tied embeddings the likeliest next token
    is the current one: greedy decoding repeats the prompt's last token for every prompt and image,
    and any two backends agree trivially. Rescaled and untied, the logits are peaked and depend on
    the whole prompt, image included, so a comparison tests something. 1-D weights (norms) are kept.
    """
    import json

    import torch
    from safetensors.torch import load_file, save_file

    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    weights_path = dst / "model.safetensors"
    weights = load_file(weights_path)
    gen = torch.Generator().manual_seed(seed)
    for name in sorted(weights):
        w = weights[name]
        if w.ndim < 2 or not w.is_floating_point():
            continue
        std = 1.0 if name.endswith("embed_tokens.weight") else w[0].numel() ** -0.5
        weights[name] = (torch.randn(w.shape, generator=gen, dtype=torch.float32) * std).to(w.dtype)
    embed = next(n for n in weights if n.endswith("embed_tokens.weight"))
    vocab, hidden = weights[embed].shape
    weights["lm_head.weight"] = torch.randn((vocab, hidden), generator=gen) * hidden**-0.5
    save_file(weights, weights_path, metadata={"format": "pt"})

    config_path = dst / "config.json"
    config = json.loads(config_path.read_text())
    config["tie_word_embeddings"] = False
    for sub in ("text_config",):
        if isinstance(config.get(sub), dict):
            config[sub]["tie_word_embeddings"] = False
    config_path.write_text(json.dumps(config, indent=2))
    return dst
