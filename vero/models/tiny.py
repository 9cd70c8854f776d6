"""Tiny, randomly initialised Qwen-family models built offline (the embedded CPU default).

They have the real architectures (Qwen2.5-VL / Qwen3-VL / Qwen2 / Qwen3), a locally trained
tokenizer, the real chat templates (shipped with TRL) and a PIL image processor with small pixel
bounds, so the whole pipeline (TRL training, generation, vLLM's CPU build, checkpoint reloads)
exercises the same code paths as the 8B models, in seconds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from vero.models.families import family_defaults
from vero.models.tokenizer import EOS_TOKEN, PAD_TOKEN, SPECIAL_TOKENS, build_tokenizer

log = logging.getLogger(__name__)

# vLLM's CPU attention kernels only support head sizes from 32 up (docs/environment.md#vllm-on-cpu).
MIN_HEAD_DIM = 32

_CHAT_TEMPLATES = {
    "qwen2_5_vl": "qwen2_5_vl.jinja",
    "qwen3_vl": "qwen3_vl.jinja",
    "qwen2": "qwen2_5.jinja",
    "qwen3": "qwen3.jinja",
}
_VISION = {
    # patch size, image normalisation (Qwen2.5-VL uses CLIP's statistics, Qwen3-VL 0.5/0.5)
    "qwen2_5_vl": {
        "patch_size": 14,
        "mean": [0.48145466, 0.4578275, 0.40821073],
        "std": [0.26862954, 0.26130258, 0.27577711],
    },
    "qwen3_vl": {"patch_size": 16, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
}
_MERGE_SIZE = 2
_TEMPORAL_PATCH = 2


def chat_template(name: str) -> str:
    """The Qwen chat template TRL ships for `name` (a VLM family, "qwen2" or "qwen3")."""
    import trl

    if name not in _CHAT_TEMPLATES:
        raise ValueError(f"no chat template for {name!r}; known: {', '.join(_CHAT_TEMPLATES)}")
    path = Path(trl.__file__).parent / "chat_templates" / _CHAT_TEMPLATES[name]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: chat template missing from the installed trl")
    return path.read_text()


def check_shape(hidden_size: int, num_heads: int, num_layers: int, vocab_size: int) -> int:
    """Validate a tiny-model shape and return its attention head_dim."""
    for name, value in (("hidden_size", hidden_size), ("num_heads", num_heads), ("num_layers", num_layers)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if hidden_size % num_heads:
        raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
    head_dim = hidden_size // num_heads
    if head_dim < MIN_HEAD_DIM:
        raise ValueError(
            f"head_dim = hidden_size / num_heads = {hidden_size}/{num_heads} = {head_dim} is below "
            f"{MIN_HEAD_DIM}, which vLLM's CPU build cannot run; raise hidden_size or lower num_heads"
        )
    if head_dim % 8:
        raise ValueError(f"head_dim {head_dim} must be a multiple of 8 (multimodal rotary sections)")
    return head_dim


def check_vision_shape(hidden_size: int, depth: int) -> None:
    """Validate the vision tower's width and depth (2 heads of hidden_size / 2, a multiple of 8)."""
    for name, value in (("vision_hidden_size", hidden_size), ("vision_depth", depth)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if hidden_size % 16:
        raise ValueError(
            f"vision_hidden_size {hidden_size} must be a multiple of 16 (2 heads of a multiple of 8)"
        )


def _kv_heads(num_heads: int) -> int:
    # Grouped-query attention like the real models, when the head count allows it.
    return num_heads // 2 if num_heads % 2 == 0 else num_heads


def _mrope_section(head_dim: int, family: str) -> list[int]:
    """Split head_dim/2 rotary frequencies over (time, height, width) in the real models' ratios."""
    half = head_dim // 2
    # 128-dim heads: Qwen2.5-VL uses [16, 24, 24], Qwen3-VL [24, 20, 20]
    t = half // 4 if family == "qwen2_5_vl" else (half * 3) // 8
    h = (half - t) // 2
    return [t, h, half - t - h]


def _special_ids(tokenizer) -> dict[str, int]:
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    missing = [t for t, i in ids.items() if i is None or i == tokenizer.unk_token_id]
    if missing:
        raise RuntimeError(f"tokenizer lacks tokens {missing}")
    return ids


def _generation_defaults(model, ids: dict[str, int]) -> None:
    gen = model.generation_config
    gen.eos_token_id = ids[EOS_TOKEN]
    gen.pad_token_id = ids[PAD_TOKEN]
    gen.bos_token_id = ids[PAD_TOKEN]


def _instantiate(model_cls, config, seed: int):
    import torch

    # fork_rng: a seeded build must not disturb the caller's random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model_cls(config)


# Long: one config per model family built field by field, then saved with its processor; the fields read as
#   a table
def build_tiny_vlm(
    family: str,
    out_dir: str | Path,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    vocab_size: int = 512,
    seed: int = 0,
    vision_hidden_size: int = 32,
    vision_depth: int = 2,
) -> Path:
    """Build, save and return `out_dir` holding a tiny random VLM of `family` plus its processor.

    Deterministic: the same arguments give byte-identical weights and tokenizer. The vision
    tower has `vision_depth` blocks of width `vision_hidden_size` (2 heads); its last block
    attends over the whole image (Qwen2.5-VL) and feeds the deepstack merger (Qwen3-VL).
    """
    from transformers import Qwen2VLImageProcessorPil

    from vero.models.loading import make_processor, processor_class_for

    family_defaults(family)  # raises on an unknown family
    head_dim = check_shape(hidden_size, num_heads, num_layers, vocab_size)
    check_vision_shape(vision_hidden_size, vision_depth)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = build_tokenizer(vocab_size, seed=seed)
    template = chat_template(family)
    tokenizer.chat_template = template
    ids = _special_ids(tokenizer)
    vision = _VISION[family]
    patch = vision["patch_size"]
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden_size,
        "intermediate_size": hidden_size * 2,
        "num_hidden_layers": num_layers,
        "num_attention_heads": num_heads,
        "num_key_value_heads": _kv_heads(num_heads),
        "head_dim": head_dim,
        "max_position_embeddings": 32768,
        "bos_token_id": ids[PAD_TOKEN],
        "eos_token_id": ids[EOS_TOKEN],
        "pad_token_id": ids[PAD_TOKEN],
        "tie_word_embeddings": True,
    }
    vision_cfg = {
        "depth": vision_depth,
        "hidden_size": vision_hidden_size,
        "intermediate_size": vision_hidden_size * 2,
        "num_heads": 2,
        "patch_size": patch,
        "spatial_merge_size": _MERGE_SIZE,
        "temporal_patch_size": _TEMPORAL_PATCH,
        "out_hidden_size": hidden_size,
    }
    if family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig as ConfigCls
        from transformers import Qwen2_5_VLForConditionalGeneration as ModelCls

        text["rope_parameters"] = {
            "rope_type": "default",
            "rope_theta": 1e6,
            "mrope_section": _mrope_section(head_dim, family),
        }
        vision_cfg.update(window_size=patch * _MERGE_SIZE * 2, fullatt_block_indexes=[vision_depth - 1])
    else:
        from transformers import Qwen3VLConfig as ConfigCls
        from transformers import Qwen3VLForConditionalGeneration as ModelCls

        text["rope_parameters"] = {
            "rope_type": "default",
            "rope_theta": 5e6,
            "mrope_section": _mrope_section(head_dim, family),
            "mrope_interleaved": True,
        }
        # learned position grid of 8x8 patches, interpolated to other image sizes
        vision_cfg.update(num_position_embeddings=64, deepstack_visual_indexes=[vision_depth - 1])
    config = ConfigCls(
        text_config=text,
        vision_config=vision_cfg,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    model = _instantiate(ModelCls, config, seed)
    _generation_defaults(model, ids)

    # Few visual tokens per image: between 2x2 and 4x4 merged patches.
    factor = patch * _MERGE_SIZE
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=patch,
        temporal_patch_size=_TEMPORAL_PATCH,
        merge_size=_MERGE_SIZE,
        size={"shortest_edge": (2 * factor) ** 2, "longest_edge": (4 * factor) ** 2},
        image_mean=vision["mean"],
        image_std=vision["std"],
    )
    processor = make_processor(processor_class_for(family), image_processor, tokenizer, template)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("built tiny %s: vocab %d, %d parameters, saved to %s", family, len(tokenizer), n_params, out)
    return out


def build_tiny_text_lm(
    out_dir: str | Path,
    *,
    family: str = "qwen3",
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    vocab_size: int = 512,
    seed: int = 0,
) -> Path:
    """Build and save a tiny random Qwen2/Qwen3 causal LM with tokenizer and chat template.

    It stands in for the LLM judge in tests of the OpenAI-compatible serving path.
    """
    head_dim = check_shape(hidden_size, num_heads, num_layers, vocab_size)
    if family == "qwen3":
        from transformers import Qwen3Config as ConfigCls
        from transformers import Qwen3ForCausalLM as ModelCls
    elif family == "qwen2":
        from transformers import Qwen2Config as ConfigCls
        from transformers import Qwen2ForCausalLM as ModelCls
    else:
        raise ValueError(f"text LM family must be 'qwen2' or 'qwen3', got {family!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(vocab_size, seed=seed)
    tokenizer.chat_template = chat_template(family)
    ids = _special_ids(tokenizer)
    extra = {"head_dim": head_dim} if family == "qwen3" else {}
    config = ConfigCls(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=_kv_heads(num_heads),
        max_position_embeddings=32768,
        bos_token_id=ids[PAD_TOKEN],
        eos_token_id=ids[EOS_TOKEN],
        pad_token_id=ids[PAD_TOKEN],
        tie_word_embeddings=True,
        **extra,
    )
    model = _instantiate(ModelCls, config, seed)
    _generation_defaults(model, ids)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    log.info("built tiny %s text LM, saved to %s", family, out)
    return out


TINY_SHAPE_KEYS = (
    "hidden_size",
    "num_layers",
    "num_heads",
    "vocab_size",
    "seed",
    "vision_hidden_size",
    "vision_depth",
)
# Keys of `model.tiny` that are not part of the built shape.
TINY_OTHER_KEYS = ("warm_start",)


def tiny_settings(cfg: Mapping) -> tuple[str, dict]:
    """(family, build_tiny_vlm keyword arguments) from a validated config's `model` section."""
    from vero.config import ConfigError

    model_cfg = cfg.get("model") if isinstance(cfg, Mapping) else None
    if not isinstance(model_cfg, Mapping) or "family" not in model_cfg:
        raise ConfigError("config key 'model.family' is missing")
    tiny = model_cfg.get("tiny") or {}
    unknown = sorted(set(tiny) - set(TINY_SHAPE_KEYS) - set(TINY_OTHER_KEYS))
    if unknown:
        known = list(TINY_SHAPE_KEYS + TINY_OTHER_KEYS)
        raise ConfigError(f"config key 'model.tiny': unknown keys {unknown}; known: {known}")
    return model_cfg["family"], {k: tiny[k] for k in TINY_SHAPE_KEYS if k in tiny}


def describe(model_dir: str | Path) -> dict:
    """Summary of a built model directory for build logs: type, shape, parameter count, size."""
    model_dir = Path(model_dir)
    cfg = json.loads((model_dir / "config.json").read_text())
    text = cfg.get("text_config", cfg)
    weights = sorted(model_dir.glob("*.safetensors"))
    return {
        "model_type": cfg.get("model_type"),
        "hidden_size": text.get("hidden_size"),
        "num_layers": text.get("num_hidden_layers"),
        "num_heads": text.get("num_attention_heads"),
        "head_dim": text.get("head_dim"),
        "vocab_size": text.get("vocab_size"),
        "weights_bytes": sum(f.stat().st_size for f in weights),
    }
