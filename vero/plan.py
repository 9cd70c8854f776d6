"""Per-GPU memory and step-time plan of a training experiment, before a GPU is touched.

    python -m vero.plan                                  # config/config.yaml, experiment "mixed"
    python -m vero.plan --config config/config.yaml --experiment algo_grpo --json

The training job runs the same check at start (`check_fits`, called from vero.train.run) and
refuses a config whose plan does not fit, naming the key to change.

Model dimensions come from the model's config.json when `model.base` is a local directory, else
from `PUBLISHED_DIMS`, the hub configs of the four base models of the paper. Parameter counts
are computed from those dimensions (`count_params`, checked against transformers' own modules
on the meta device in tests/test_plan.py).

Memory per GPU, in bytes, with P parameters, N training processes (one per GPU) and the launcher's
sharding (FSDP2 full shard or ZeRO-3: every persistent training tensor split N ways):

  training state   weights m·P/N  (m = 4 bytes for float32 weights (model.dtype), 2 for
                                   bfloat16 / float16)
                   gradients m·P/N (kept in the weights' dtype, reduce-scattered)
                   AdamW moments 2·m·P/N
                   gathered unit  2 · (largest FSDP unit, one decoder layer) x 2 (prefetch)
  activations      with activation checkpointing, one micro-batch of b completions, each of
  (training)       s = max_prompt_length + max_completion_length tokens (the worst case):
                   layer inputs   L · b · s · h · 2
                   one layer recomputed in backward: b · s · (4h + 2·kv + 3·I) · 2
                                  (q, attn out, o-proj out, norm out; k, v; MLP gate, up, act)
                   logits         b · c · V · 8 (bf16 logits, their temperature-scaled copy, and the
                                  fp32 log-softmax of the c = max_completion_length kept positions)
                   vision tower   4·s_img · hv · 2 · (depth + 8)  (s_img = merged image tokens
                                  ≤ max_prompt_length; 2x2 merge: 4 patches per token)
                   without checkpointing the layer term is L times the recomputed one instead.
  vLLM rollouts    u · G (train.vllm_gpu_memory_utilization of the GPU's memory G: vLLM weights
                   2·P, activations and the KV cache share it); the KV cache is what is left:
                   u·G - 2·P - activation peak, at 2 · L · kv · 2 bytes per token.
  judge (shared)   a judge served on the training GPUs (reward.judge.serve.layout: shared) is
                   awake only while rewards are scored: u_j · G; asleep, its CUDA context.
  fixed            train.plan.overhead_gib per process (CUDA context, NCCL buffers, allocator
                   fragmentation).

Phases (TRL colocate with sleep mode: the rollout engine sleeps, level 2, while the policy trains):
  rollout = training state (no gradients: freed after each step) + vLLM u·G + fixed
  scoring = training state + judge u_j·G (shared layout) + fixed
  update  = training state + gradients + activations + fixed
The plan fits when the largest phase is ≤ G.

Step time, from the stated throughputs (train.plan.*): one rollout batch of B·n completions,
each of mean length c̄ after a prompt of mean length p̄:
  rollout  max( B·n·c̄ / (N · rollout_tokens_per_s_per_gpu),
                max_completion_length / decode_tokens_per_s_single_sequence )
  logprob  B·n·(p̄ + c̄) / (N · 3 · train_tokens_per_s_per_gpu)   (a forward pass is ~1/3 of a step)
  update   B·n·(p̄ + c̄) / (N · train_tokens_per_s_per_gpu)
  judge    train.plan.judge_seconds_per_step
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vero.config import ConfigError

GIB = 1024**3

# Published dimensions of the four base models (hub config.json of each model).
#   Qwen3-VL-8B-Instruct / -Thinking: https://huggingface.co/Qwen/Qwen3-VL-8B-Instruct/blob/main/config.json
#   Qwen2.5-VL-7B-Instruct: https://huggingface.co/Qwen/Qwen2.5-VL-7B-Instruct/blob/main/config.json
#   MiMo-VL-7B-SFT (a Qwen2.5-VL architecture on MiMo-7B):
#     https://huggingface.co/XiaomiMiMo/MiMo-VL-7B-SFT/blob/main/config.json
_QWEN3_VL_8B = {
    "model_type": "qwen3_vl",
    "text": {
        "hidden_size": 4096,
        "intermediate_size": 12288,
        "num_hidden_layers": 36,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "vocab_size": 151936,
        "tie_word_embeddings": False,
    },
    "vision": {
        "depth": 27,
        "hidden_size": 1152,
        "intermediate_size": 4304,
        "out_hidden_size": 4096,
        "patch_size": 16,
        "temporal_patch_size": 2,
        "spatial_merge_size": 2,
        "num_position_embeddings": 2304,
        "deepstack_visual_indexes": [8, 16, 24],
    },
}
_QWEN2_5_VL_VISION = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "out_hidden_size": 3584,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "spatial_merge_size": 2,
}
PUBLISHED_DIMS: dict[str, dict[str, Any]] = {
    "Qwen/Qwen3-VL-8B-Instruct": _QWEN3_VL_8B,
    "Qwen/Qwen3-VL-8B-Thinking": _QWEN3_VL_8B,
    "Qwen/Qwen2.5-VL-7B-Instruct": {
        "model_type": "qwen2_5_vl",
        "text": {
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "vocab_size": 152064,
            "tie_word_embeddings": False,
        },
        "vision": _QWEN2_5_VL_VISION,
    },
    "XiaomiMiMo/MiMo-VL-7B-SFT": {
        "model_type": "qwen2_5_vl",
        "text": {
            "hidden_size": 4096,
            "intermediate_size": 11008,
            "num_hidden_layers": 36,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "vocab_size": 151680,
            "tie_word_embeddings": False,
        },
        "vision": {**_QWEN2_5_VL_VISION, "out_hidden_size": 4096},
    },
}
# Judge models served in the job: parameter counts (hub model cards) and KV bytes per token
# (layers x KV heads x head_dim x 2 (K, V) x 2 bytes).
#   Qwen3-32B: 32.8B, 64 layers, 8 KV heads, head_dim 128 (https://huggingface.co/Qwen/Qwen3-32B)
#   Qwen3.5-27B: 27B (https://huggingface.co/Qwen/Qwen3.5-27B)
JUDGE_PARAMS: dict[str, float] = {"Qwen/Qwen3-32B": 32.8e9, "Qwen/Qwen3.5-27B": 27.0e9}


@dataclass(frozen=True)
class ModelDims:
    """What the plan needs of a model: text decoder and vision tower dimensions."""

    name: str
    model_type: str
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool
    vision: dict = field(default_factory=dict)
    source: str = ""

    @property
    def kv_bytes_per_token(self) -> int:
        """bf16 KV cache per token: L x kv heads x head_dim x 2 (K and V) x 2 bytes."""
        return self.num_layers * self.num_kv_heads * self.head_dim * 2 * 2


def dims_from_config(cfg: Mapping, *, name: str, source: str) -> ModelDims:
    """ModelDims from a Qwen-VL config.json dict (text_config / vision_config)."""
    text = dict(cfg.get("text_config") or cfg)
    heads = int(text["num_attention_heads"])
    hidden = int(text["hidden_size"])
    tie = text.get("tie_word_embeddings", cfg.get("tie_word_embeddings", False))
    return ModelDims(
        name=name,
        model_type=str(cfg.get("model_type", "")),
        hidden_size=hidden,
        intermediate_size=int(text["intermediate_size"]),
        num_layers=int(text["num_hidden_layers"]),
        num_heads=heads,
        num_kv_heads=int(text.get("num_key_value_heads") or heads),
        head_dim=int(text.get("head_dim") or hidden // heads),
        vocab_size=int(text["vocab_size"]),
        tie_word_embeddings=bool(tie),
        vision=dict(cfg.get("vision_config") or {}),
        source=source,
    )


def model_dims(base: str, results_dir: str | None = None) -> ModelDims:
    """Dimensions of `model.base`: its config.json when local, else the published table."""
    path = Path(base)
    if base == "tiny":
        raise ConfigError(
            "config key 'model.base': the tiny model is built by the workflow; plan it after building "
            "(pass its directory, e.g. results/demo/models/tiny-qwen2_5_vl)"
        )
    if (path / "config.json").is_file():
        cfg = json.loads((path / "config.json").read_text())
        return dims_from_config(cfg, name=str(path), source=str(path / "config.json"))
    if base in PUBLISHED_DIMS:
        d = PUBLISHED_DIMS[base]
        cfg = {"model_type": d["model_type"], "text_config": d["text"], "vision_config": d["vision"]}
        return dims_from_config(cfg, name=base, source=f"vero.plan.PUBLISHED_DIMS (hub config of {base})")
    raise ConfigError(
        f"config key 'model.base': {base!r} is neither a local model directory nor one of the models "
        f"whose dimensions the plan knows ({', '.join(PUBLISHED_DIMS)})"
    )


def _text_layer_params(d: ModelDims) -> int:
    h, q, kv = d.hidden_size, d.num_heads * d.head_dim, d.num_kv_heads * d.head_dim
    attn = h * q + 2 * h * kv + q * h
    if d.model_type == "qwen2_5_vl":
        attn += q + 2 * kv  # q/k/v biases
    else:
        attn += 2 * d.head_dim  # Qwen3's q_norm and k_norm
    return attn + 3 * h * d.intermediate_size + 2 * h


def _vision_params(d: ModelDims) -> int:
    v = d.vision
    if not v:
        return 0
    vh, vi, depth = int(v["hidden_size"]), int(v["intermediate_size"]), int(v["depth"])
    out = int(v.get("out_hidden_size", d.hidden_size))
    patch, tpatch = int(v.get("patch_size", 14)), int(v.get("temporal_patch_size", 2))
    merged = vh * int(v.get("spatial_merge_size", 2)) ** 2
    if d.model_type == "qwen2_5_vl":
        embed = 3 * tpatch * patch * patch * vh  # conv3d, no bias
        block = (3 * vh * vh + 3 * vh) + (vh * vh + vh) + (2 * vh * vi + 2 * vi) + (vi * vh + vh) + 2 * vh
        merger = vh + (merged * merged + merged) + (merged * out + out)  # RMSNorm(vh) + 2 linears
        return embed + depth * block + merger
    embed = 3 * tpatch * patch * patch * vh + vh + int(v.get("num_position_embeddings", 0)) * vh
    block = 4 * vh + (3 * vh * vh + 3 * vh) + (vh * vh + vh) + (vh * vi + vi) + (vi * vh + vh)

    def merger(norm_dim: int) -> int:
        return 2 * norm_dim + (merged * merged + merged) + (merged * out + out)

    deepstack = len(v.get("deepstack_visual_indexes") or [])
    return embed + depth * block + merger(vh) + deepstack * merger(merged)


def count_params(d: ModelDims) -> dict[str, int]:
    """Parameters of the text decoder, embeddings / head and vision tower (formulas in the code)."""
    embed = d.vocab_size * d.hidden_size
    head = 0 if d.tie_word_embeddings else embed
    text = d.num_layers * _text_layer_params(d) + d.hidden_size  # + final norm
    vision = _vision_params(d)
    return {
        "text_layers": text,
        "embeddings": embed + head,
        "vision": vision,
        "total": text + embed + head + vision,
        "largest_unit": max(_text_layer_params(d), embed),
    }


@dataclass
class Plan:
    """A per-GPU plan: GiB figures per component and phase, the step time and the verdict."""

    experiment: str
    model: str
    dims_source: str
    params: dict
    layout: dict
    lengths: dict
    memory_gib: dict
    phases_gib: dict
    vllm: dict
    judge: dict
    step_s: dict
    assumptions: dict
    gpu_memory_gib: float
    problems: list[tuple[str, str]] = field(default_factory=list)  # (config key, why)

    @property
    def fits(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        out = asdict(self)
        out["fits"] = self.fits
        return out


def _plan_cfg(train: Mapping) -> dict:
    return dict(train.get("plan") or {})


def _max_prompt_length(resolved: Mapping) -> int:
    value = resolved["train"].get("max_prompt_length")
    if value is not None:
        return int(value)
    from vero.models import family_defaults

    return int(family_defaults(resolved["model"]["family"])["max_prompt_length"])


def make_plan(resolved: Mapping, *, dims: ModelDims | None = None, num_processes: int | None = None) -> Plan:
    """The plan of one resolved experiment (`vero.config.resolve_experiment`)."""
    from vero.train.launch import judge_gpus_in_job, judge_layout, training_processes
    from vero.train.trl_config import batch_geometry, max_completion_length

    train = resolved["train"]
    pc = _plan_cfg(train)
    G = float(pc.get("gpu_memory_gib", 80.0))
    dims = dims or model_dims(str(resolved["model"]["base"]))
    params = count_params(dims)
    P = params["total"]
    N = num_processes or training_processes(resolved)
    geometry = batch_geometry(train, N)
    b = geometry.per_device_train_batch_size
    prompt_len, completion_len = _max_prompt_length(resolved), max_completion_length(resolved)
    s = prompt_len + completion_len
    m = 4 if resolved["model"].get("dtype", "auto") == "float32" else 2  # bytes per stored weight
    sharded = N if train.get("launcher", {}).get("kind", "cpu") in ("multi_gpu", "multi_node") else 1

    h, L, inter = dims.hidden_size, dims.num_layers, dims.intermediate_size
    kv = dims.num_kv_heads * dims.head_dim
    weights = m * P / sharded
    grads = m * P / sharded
    optimizer = 2 * m * P / sharded
    gathered = 2 * 2 * params["largest_unit"] if sharded > 1 else 0
    layer_recompute = b * s * (4 * h + 2 * kv + 3 * inter) * 2
    ckpt = bool(train.get("gradient_checkpointing", True))
    layer_inputs = L * b * s * h * 2 if ckpt else (L - 1) * layer_recompute
    logits = b * completion_len * dims.vocab_size * 8
    vh = int(dims.vision.get("hidden_size", 0))
    vision_act = 4 * prompt_len * vh * 2 * (int(dims.vision.get("depth", 0)) + 8) * b if vh else 0
    activations = layer_inputs + layer_recompute + logits + vision_act
    overhead = float(pc.get("overhead_gib", 3.0)) * GIB

    use_vllm = bool(train.get("use_vllm", False))
    u = float(train.get("vllm_gpu_memory_utilization", 0.7))
    vllm_pool = u * G * GIB if use_vllm else 0.0
    vllm_weights = 2 * P
    vllm_act = float(pc.get("vllm_activation_gib", 2.0)) * GIB
    kv_cache = max(0.0, vllm_pool - vllm_weights - vllm_act) if use_vllm else 0.0
    kv_tokens = int(kv_cache // dims.kv_bytes_per_token) if use_vllm else 0

    judge_cfg = resolved.get("reward", {}).get("judge") or {}
    serve = judge_cfg.get("serve") or {}
    layout = judge_layout(resolved)
    judge_in_job = layout is not None
    judge_model = str(judge_cfg.get("model", ""))
    judge_params = JUDGE_PARAMS.get(judge_model)
    judge_gpus = (
        int(train.get("launcher", {}).get("gpus_per_node", 8))
        if layout == "shared"
        else judge_gpus_in_job(resolved)
    )
    u_j = float(serve.get("gpu_memory_utilization", 0.35))
    judge_awake = u_j * G * GIB if layout == "shared" else 0.0
    judge_asleep = float(pc.get("judge_asleep_gib", 1.0)) * GIB if layout == "shared" else 0.0
    judge_weights_per_gpu = 2 * judge_params / judge_gpus if (judge_in_job and judge_params) else None

    state = weights + optimizer + gathered
    phases = {
        "rollout": state + vllm_pool + judge_asleep + overhead,
        "scoring": state + judge_awake + overhead if layout == "shared" else None,
        "update": state + grads + activations + judge_asleep + overhead,
    }
    problems: list[tuple[str, str]] = []
    gib = lambda x: None if x is None else round(x / GIB, 2)  # noqa: E731
    if phases["update"] > G * GIB:
        key = "train.micro_batch_size" if b > 1 else "train.max_completion_length"
        if not ckpt:
            key = "train.gradient_checkpointing"
        problems.append(
            (
                key,
                f"the policy update needs {gib(phases['update'])} GiB per GPU of the {G:g} GiB "
                f"(activations {gib(activations)} GiB for {b} completion(s) of {s} tokens)",
            )
        )
    if use_vllm:
        u_max = (G * GIB - state - judge_asleep - overhead) / (G * GIB)
        if phases["rollout"] > G * GIB:
            problems.append(
                (
                    "train.vllm_gpu_memory_utilization",
                    f"{u:g} of {G:g} GiB beside the training state ({gib(state)} GiB) needs "
                    f"{gib(phases['rollout'])} GiB; at most {math.floor(u_max * 100) / 100:.2f} fits",
                )
            )
        if kv_tokens < s:
            problems.append(
                (
                    "train.vllm_gpu_memory_utilization",
                    f"vLLM's KV cache ({gib(kv_cache)} GiB, {kv_tokens} tokens) cannot hold one sequence of "
                    f"{s} tokens (max_prompt_length + max_completion_length)",
                )
            )
    else:
        u_max = None
        # HF generate keeps the KV cache of all rollouts of this GPU at once
        hf_kv = geometry.generation_batch_size / N * s * dims.kv_bytes_per_token
        if (
            N > 0
            and train.get("launcher", {}).get("kind", "cpu") != "cpu"
            and state + hf_kv + overhead > G * GIB
        ):
            problems.append(
                (
                    "train.use_vllm",
                    f"HF generate holds the KV cache of {geometry.generation_batch_size // N} rollouts x {s} "
                    f"tokens at once: {gib(hf_kv)} GiB per GPU; use vLLM rollouts",
                )
            )
    if layout == "shared" and phases["scoring"] > G * GIB:
        problems.append(
            (
                "reward.judge.serve.gpu_memory_utilization",
                f"the judge awake ({u_j:g} x {G:g} GiB) beside the training state needs "
                f"{gib(phases['scoring'])} GiB",
            )
        )
    if judge_weights_per_gpu and layout == "shared" and judge_weights_per_gpu > judge_awake:
        problems.append(
            (
                "reward.judge.serve.gpu_memory_utilization",
                f"the judge's weights take {gib(judge_weights_per_gpu)} GiB per GPU, more than its "
                f"{gib(judge_awake)} GiB share",
            )
        )

    B, n = int(train["batch_size"]), int(train["num_generations"])
    c_mean, p_mean = float(pc.get("mean_completion_tokens", 1500)), float(pc.get("mean_prompt_tokens", 1500))
    roll_tps = float(pc.get("rollout_tokens_per_s_per_gpu", 4000))
    single = float(pc.get("decode_tokens_per_s_single_sequence", 80))
    train_tps = float(pc.get("train_tokens_per_s_per_gpu", 3000))
    completions = B * n
    rollout_s = max(completions * c_mean / (N * roll_tps), completion_len / single)
    tokens = completions * (p_mean + c_mean)
    step = {
        "rollout": rollout_s,
        "logprob": tokens / (N * 3 * train_tps),
        "update": tokens / (N * train_tps),
        "judge": float(pc.get("judge_seconds_per_step", 30)) if judge_cfg.get("enabled") else 0.0,
    }
    step["total"] = sum(step.values())
    steps = int(train["max_steps"])
    return Plan(
        experiment=str(resolved.get("name", "")),
        model=dims.name,
        dims_source=dims.source,
        params={k: int(v) for k, v in params.items()},
        layout={
            "training_processes": N,
            "sharding": (
                (
                    "ZeRO-3"
                    if "deepspeed" in str(train.get("launcher", {}).get("accelerate_config") or "")
                    else "FSDP2 full shard"
                )
                if sharded > 1
                else "none"
            ),
            "judge": layout or "not served in the job",
            "judge_gpus": judge_gpus if judge_in_job else 0,
            "micro_batch": b,
            "gradient_accumulation_steps": geometry.gradient_accumulation_steps,
            "master_weights": "float32" if m == 4 else "16-bit",
            "precision": train.get("precision", "bf16"),
        },
        lengths={"max_prompt_length": prompt_len, "max_completion_length": completion_len, "sequence": s},
        memory_gib={
            "weights": gib(weights),
            "gradients": gib(grads),
            "optimizer": gib(optimizer),
            "gathered_units": gib(gathered),
            "activations": gib(activations),
            "activations_detail": {
                "layer_inputs": gib(layer_inputs),
                "layer_recompute": gib(layer_recompute),
                "logits": gib(logits),
                "vision": gib(vision_act),
            },
            "vllm_pool": gib(vllm_pool),
            "vllm_weights": gib(vllm_weights) if use_vllm else 0.0,
            "vllm_kv_cache": gib(kv_cache),
            "judge_awake": gib(judge_awake),
            "judge_asleep": gib(judge_asleep),
            "overhead": gib(overhead),
        },
        phases_gib={k: gib(v) for k, v in phases.items()},
        vllm={
            "enabled": use_vllm,
            "gpu_memory_utilization": u if use_vllm else None,
            "max_utilization_that_fits": None if u_max is None else round(u_max, 3),
            "kv_cache_tokens": kv_tokens,
            "kv_bytes_per_token": dims.kv_bytes_per_token,
            "max_model_length": s,
        },
        judge={
            "model": judge_model if judge_in_job else None,
            "layout": layout,
            "gpu_memory_utilization": u_j if layout == "shared" else None,
            "weights_per_gpu_gib": gib(judge_weights_per_gpu) if judge_weights_per_gpu else None,
        },
        step_s={k: round(v, 1) for k, v in step.items()},
        assumptions={
            "gpu_memory_gib": G,
            "mean_prompt_tokens": p_mean,
            "mean_completion_tokens": c_mean,
            "rollout_tokens_per_s_per_gpu": roll_tps,
            "decode_tokens_per_s_single_sequence": single,
            "train_tokens_per_s_per_gpu": train_tps,
            "judge_seconds_per_step": step["judge"],
            "overhead_gib": overhead / GIB,
            "max_steps": steps,
            "days": round(step["total"] * steps / 86400, 1),
        },
        gpu_memory_gib=G,
        problems=problems,
    )


class PlanDoesNotFit(ConfigError):
    """The experiment's memory plan exceeds the GPU; the message names the key to change."""


def check_fits(resolved: Mapping, **kwargs) -> Plan | None:
    """Raise PlanDoesNotFit when a GPU experiment's plan does not fit; None for CPU runs or when
    `train.plan.check` is false."""
    train = resolved["train"]
    if train.get("launcher", {}).get("kind", "cpu") == "cpu" or not _plan_cfg(train).get("check", True):
        return None
    base = kwargs.pop("base_model", None)
    if kwargs.get("dims") is None:
        try:
            kwargs["dims"] = model_dims(str(base or resolved["model"]["base"]))
        except ConfigError as exc:  # an unknown hub model: no plan rather than no training
            print(f"[vero.plan] no memory plan: {exc}", file=sys.stderr, flush=True)
            return None
    plan = make_plan(resolved, **kwargs)
    print(render(plan), file=sys.stderr, flush=True)
    if not plan.fits:
        key, why = plan.problems[0]
        more = "".join(f"\n  also config key '{k}': {w}" for k, w in plan.problems[1:])
        raise PlanDoesNotFit(
            f"config key '{key}': {why} (experiment {plan.experiment}; `python -m vero.plan` prints the "
            f"whole plan; train.plan.check: false skips this check){more}"
        )
    return plan


def render(plan: Plan) -> str:
    """The plan as a text table (what `python -m vero.plan` prints)."""
    mg, ph, lay, ln = plan.memory_gib, plan.phases_gib, plan.layout, plan.lengths
    act, vl, a, st = mg["activations_detail"], plan.vllm, plan.assumptions, plan.step_s
    judge_gpus = f" on {lay['judge_gpus']} GPU(s)" if lay["judge_gpus"] else ""
    rows = [
        f"plan for experiment {plan.experiment!r}: {plan.model} "
        f"({plan.params['total'] / 1e9:.2f}B parameters; dims from {plan.dims_source})",
        f"  layout: {lay['training_processes']} training GPU(s), {lay['sharding']}, "
        f"{lay['master_weights']} master weights, {lay['precision']} compute; "
        f"judge: {lay['judge']}{judge_gpus}",
        f"  lengths: prompt {ln['max_prompt_length']} + completion {ln['max_completion_length']} = "
        f"{ln['sequence']} tokens; micro-batch {lay['micro_batch']} completion(s), "
        f"{lay['gradient_accumulation_steps']} accumulation steps",
        f"  per GPU (GiB of {plan.gpu_memory_gib:g}):",
        f"    weights {mg['weights']}  gradients {mg['gradients']}  optimizer {mg['optimizer']}  "
        f"gathered units {mg['gathered_units']}",
        f"    activations {mg['activations']} (layer inputs {act['layer_inputs']}, "
        f"recompute {act['layer_recompute']}, logits {act['logits']}, vision {act['vision']})",
    ]
    if vl["enabled"]:
        rows.append(
            f"    vLLM {mg['vllm_pool']} at utilization {vl['gpu_memory_utilization']:g} "
            f"(weights {mg['vllm_weights']}, KV cache {mg['vllm_kv_cache']} = {vl['kv_cache_tokens']:,} "
            f"tokens at {vl['kv_bytes_per_token']:,} B/token; at most {vl['max_utilization_that_fits']} fits)"
        )
    if plan.judge["layout"] == "shared":
        rows.append(
            f"    judge {plan.judge['model']}: awake {mg['judge_awake']} "
            f"(weights {plan.judge['weights_per_gpu_gib']}), asleep {mg['judge_asleep']}"
        )
    rows.append(f"    fixed overhead {mg['overhead']}")
    peak = max(v for v in ph.values() if v is not None)
    rows.append(
        "  phases: " + ", ".join(f"{k} {v}" for k, v in ph.items() if v is not None) + f"  -> peak {peak} GiB"
    )
    rows.append(
        f"  step time (assumed: {a['rollout_tokens_per_s_per_gpu']:g} rollout tok/s/GPU, "
        f"{a['decode_tokens_per_s_single_sequence']:g} tok/s single sequence, "
        f"{a['train_tokens_per_s_per_gpu']:g} train tok/s/GPU, mean prompt {a['mean_prompt_tokens']:g} / "
        f"completion {a['mean_completion_tokens']:g} tokens, judge {a['judge_seconds_per_step']:g} s): "
        + ", ".join(f"{k} {v:g} s" for k, v in st.items() if k != "total")
        + f" = {st['total']:g} s; {a['max_steps']} steps ≈ {a['days']} days"
    )
    rows.append("  verdict: fits" if plan.fits else "  verdict: DOES NOT FIT")
    rows += [f"    config key '{k}': {w}" for k, w in plan.problems]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    from vero.config import load_config, resolve_experiment

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--experiment", default="mixed")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. train.plan.gpu_memory_gib=141 (YAML value)",
    )
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    args = parser.parse_args(argv)
    import yaml

    overrides: dict = {}
    for item in args.set:
        key, _, value = item.partition("=")
        node = overrides
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(value)
    cfg = load_config(args.config, overrides or None)
    plan = make_plan(resolve_experiment(cfg, args.experiment))
    print(json.dumps(plan.as_dict(), indent=1) if args.json else render(plan))
    return 0 if plan.fits else 1


if __name__ == "__main__":
    sys.exit(main())
