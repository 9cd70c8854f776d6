"""Generation backends behind one interface: `get_backend(name, model_path, **kw).generate(...)`.

- `hf`: transformers batched generation (left padding, images through the processor's chat
  template); the CPU / test backend.
- `vllm`: vLLM offline engine (`vllm.LLM`, batched, tensor parallel, images as multimodal data);
  the GPU backend. vLLM is imported only when this backend is built.
- `openai`: any OpenAI-compatible server (`/v1/chat/completions`, images as base64 data URLs),
  e.g. a vLLM server, with bounded concurrency and retries.
- `vllm_server`: starts vLLM's OpenAI-compatible server on the evaluated model for the job's
  lifetime (from the python in $VERO_VLLM_PYTHON, i.e. envs/vllm.yaml as the rule vllm_server_env
  records it) and talks to it as `openai`; stopped when the job ends.

Every backend sends the conversation `vero.eval.prompting.sample_messages` builds: the system
turn `eval.system_prompt` asks for (none by default, so the model's own chat template decides;
`backend_kwargs` resolves it), then the sample's turns with its images before the text. Outputs
keep the `<think>`/`<answer>` tags (special tokens are not stripped), since scoring reads them.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from vero.eval.prompting import sample_messages
from vero.eval.samples import EvalSample

BACKENDS = ("hf", "vllm", "openai", "vllm_server")
__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "Generation",
    "backend_kwargs",
    "get_backend",
    "sample_messages",
]


class BackendError(RuntimeError):
    """A backend cannot be built or used (missing package, unreachable server, bad settings)."""


@dataclass
class Generation:
    """Outputs of one generate call, aligned with the samples; token counts where known."""

    texts: list[str]
    completion_tokens: list[int | None] = field(default_factory=list)
    seconds: float = 0.0


def _pil(data: bytes):
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


class Backend(ABC):
    name = "base"

    @abstractmethod
    def generate(
        self,
        samples: Sequence[EvalSample],
        *,
        temperature: float = 0.6,
        max_new_tokens: int = 16384,
        batch_size: int = 8,
        top_p: float = 0.95,
        seed: int = 0,
    ) -> Generation:
        """Generate one completion per sample, in order."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing that needs freeing
        """Free the engine / client (GPU memory, sockets)."""


# ---- hf ------------------------------------------------------------------------------------


class HFBackend(Backend):
    """transformers `generate` in batches with left padding."""

    name = "hf"

    def __init__(
        self,
        model_path: str,
        *,
        dtype: str = "auto",
        device: str | None = None,
        attn_implementation: str | None = None,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        system_prompt: str | None = None,
        **_: Any,
    ):
        import torch

        from vero.models import load_model_and_processor

        self.model, self.processor = load_model_and_processor(
            model_path,
            dtype=dtype,
            attn_implementation=attn_implementation,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
        )
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.system_prompt = system_prompt
        tok = self.processor.tokenizer
        tok.padding_side = "left"
        gen_cfg = self.model.generation_config
        eos = gen_cfg.eos_token_id if gen_cfg.eos_token_id is not None else tok.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else next(iter(self.eos_ids), 0)

    def _decode(self, ids: list[int]) -> tuple[str, int]:
        """Text up to the first end-of-sequence token, special tokens kept (<think> is one in
        some tokenizers), padding dropped; and the number of completion tokens."""
        out = []
        for t in ids:
            if t in self.eos_ids:
                out.append(t)
                break
            out.append(t)
        n = len(out)
        text_ids = [t for t in out if t not in self.eos_ids and t != self.pad_id]
        return self.processor.tokenizer.decode(text_ids, skip_special_tokens=False), n

    def generate(self, samples, *, temperature=0.6, max_new_tokens=16384, batch_size=8, top_p=0.95, seed=0):
        import torch

        torch.manual_seed(seed)
        texts: list[str] = []
        counts: list[int | None] = []
        t0 = time.perf_counter()
        batch_size = max(1, int(batch_size))
        with tqdm(total=len(samples), desc="generate[hf]", unit="sample", mininterval=5) as bar:
            for start in range(0, len(samples), batch_size):
                batch = samples[start : start + batch_size]
                prompts = [
                    self.processor.apply_chat_template(
                        sample_messages(s, self.system_prompt), tokenize=False, add_generation_prompt=True
                    )
                    for s in batch
                ]
                images = [_pil(b) for s in batch for b in s.images]
                inputs = self.processor(
                    text=prompts, images=images or None, padding=True, return_tensors="pt"
                ).to(self.device)
                do_sample = temperature > 0
                gen_kwargs: dict[str, Any] = {"max_new_tokens": int(max_new_tokens), "do_sample": do_sample}
                if do_sample:
                    gen_kwargs.update(temperature=float(temperature), top_p=float(top_p))
                with torch.inference_mode():
                    out = self.model.generate(**inputs, **gen_kwargs, pad_token_id=self.pad_id)
                new_tokens = out[:, inputs["input_ids"].shape[1] :].tolist()
                for ids in new_tokens:
                    text, n = self._decode(ids)
                    texts.append(text)
                    counts.append(n)
                bar.update(len(batch))
        return Generation(texts, counts, time.perf_counter() - t0)


# ---- vllm ----------------------------------------------------------------------------------


class VLLMBackend(Backend):
    """vLLM's offline engine; one `LLM.chat` call over all samples (vLLM batches internally)."""

    name = "vllm"

    def __init__(
        self,
        model_path: str,
        *,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        enforce_eager: bool = False,
        max_images_per_prompt: int = 8,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        system_prompt: str | None = None,
        seed: int = 0,
        extra_engine_args: dict | None = None,
        **_: Any,
    ):
        try:
            import vllm
        except ImportError as e:
            raise BackendError(
                "eval.backend 'vllm' needs the vllm package, which is not installed in this environment; "
                "install it in the GPU environment (envs/) or use eval.backend 'hf' or 'openai'"
            ) from e
        mm_kwargs = {
            k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v is not None
        }
        engine_args: dict[str, Any] = {
            "model": str(model_path),
            "tensor_parallel_size": int(tensor_parallel_size),
            "dtype": dtype,
            "gpu_memory_utilization": float(gpu_memory_utilization),
            "enforce_eager": bool(enforce_eager),
            "seed": int(seed),
            "limit_mm_per_prompt": {"image": int(max_images_per_prompt), "video": 0},
        }
        if max_model_len:
            engine_args["max_model_len"] = int(max_model_len)
        if mm_kwargs:
            engine_args["mm_processor_kwargs"] = mm_kwargs
        engine_args.update(extra_engine_args or {})
        self._vllm = vllm
        self.llm = vllm.LLM(**engine_args)
        self.system_prompt = system_prompt

    def _conversation(self, sample: EvalSample) -> list[dict]:
        messages = sample_messages(sample, self.system_prompt)
        images = iter(sample.images)
        for m in messages:
            m["content"] = [
                {"type": "image_pil", "image_pil": _pil(next(images))}
                if part.get("type") == "image"
                else part
                for part in m["content"]
            ]
        return messages

    def generate(self, samples, *, temperature=0.6, max_new_tokens=16384, batch_size=8, top_p=0.95, seed=0):
        # batch_size is vLLM's business (continuous batching); kept for the common signature
        params = self._vllm.SamplingParams(
            temperature=float(temperature),
            top_p=float(top_p),
            max_tokens=int(max_new_tokens),
            seed=int(seed),
            skip_special_tokens=False,
        )
        t0 = time.perf_counter()
        outs = self.llm.chat([self._conversation(s) for s in samples], params, use_tqdm=True)
        texts = [o.outputs[0].text for o in outs]
        counts = [len(o.outputs[0].token_ids) for o in outs]
        return Generation(texts, counts, time.perf_counter() - t0)

    def close(self) -> None:
        self.llm = None


# ---- openai --------------------------------------------------------------------------------


def _data_url(data: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        mime = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}.get(
            im.format or ""
        )
    if mime is None:  # re-encode anything unusual as PNG
        buf = io.BytesIO()
        _pil(data).save(buf, format="PNG")
        data, mime = buf.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


class OpenAIBackend(Backend):
    """POST /chat/completions of an OpenAI-compatible server, `max_concurrency` requests at once."""

    name = "openai"

    def __init__(
        self,
        model_path: str,
        *,
        base_url: str = "http://127.0.0.1:8000/v1",
        model: str | None = None,
        api_key_env: str = "VERO_EVAL_API_KEY",
        max_concurrency: int = 16,
        timeout_s: float = 600.0,
        retries: int = 3,
        backoff_s: float = 2.0,
        system_prompt: str | None = None,
        extra_body: dict | None = None,
        **_: Any,
    ):
        import httpx

        self.model = model or str(model_path)
        self.url = base_url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env) if api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.client = httpx.Client(headers=headers, timeout=float(timeout_s))
        self.max_concurrency = max(1, int(max_concurrency))
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self.system_prompt = system_prompt
        self.extra_body = dict(extra_body or {})

    def _messages(self, sample: EvalSample) -> list[dict]:
        messages = sample_messages(sample, self.system_prompt)
        images = iter(sample.images)
        for m in messages:
            m["content"] = [
                {"type": "image_url", "image_url": {"url": _data_url(next(images))}}
                if part.get("type") == "image"
                else part
                for part in m["content"]
            ]
        return messages

    def _one(self, sample: EvalSample, body: dict) -> tuple[str, int | None]:
        import httpx

        payload = {**body, "messages": self._messages(sample)}
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            try:
                r = self.client.post(self.url, json=payload)
            except httpx.HTTPError as e:  # connection refused, timeout: worth another try
                last = f"{type(e).__name__}: {e}"
                continue
            if r.status_code == 429 or r.status_code >= 500:
                last = f"HTTP {r.status_code}: {r.text[:200]}"
                continue
            if r.status_code >= 400:  # a request the server rejects will not improve on retry
                raise BackendError(f"{self.url}: HTTP {r.status_code}: {r.text[:500]}")
            try:
                data = r.json()
                text = data["choices"][0]["message"].get("content") or ""
            except (ValueError, KeyError, IndexError, TypeError) as e:
                last = f"malformed reply ({type(e).__name__}): {r.text[:200]}"
                continue
            return text, (data.get("usage") or {}).get("completion_tokens")
        raise BackendError(
            f"sample {sample.benchmark}/{sample.id}: no completion from {self.url} after "
            f"{self.retries + 1} attempts: {last}"
        )

    def generate(self, samples, *, temperature=0.6, max_new_tokens=16384, batch_size=8, top_p=0.95, seed=0):
        body = {
            "model": self.model,
            "temperature": float(temperature),
            "top_p": float(top_p),
            "max_tokens": int(max_new_tokens),
            "seed": int(seed),
            # server-specific fields, e.g. vLLM's skip_special_tokens: false to keep <think> tags
            **self.extra_body,
        }
        t0 = time.perf_counter()
        results: list[tuple[str, int | None]] = [("", None)] * len(samples)
        with (
            ThreadPoolExecutor(self.max_concurrency) as pool,
            tqdm(total=len(samples), desc="generate[openai]", unit="sample", mininterval=5) as bar,
        ):
            futures = {pool.submit(self._one, s, body): i for i, s in enumerate(samples)}
            for fut, i in futures.items():
                results[i] = fut.result()
                bar.update(1)
        return Generation([t for t, _ in results], [n for _, n in results], time.perf_counter() - t0)

    def close(self) -> None:
        self.client.close()


class ServedVLLMBackend(Backend):
    """vLLM's OpenAI-compatible server on the evaluated model (tensor parallel over the job's
    GPUs), queried through `OpenAIBackend`; `close()` stops the server (vero.eval.serve)."""

    name = "vllm_server"

    def __init__(
        self,
        model_path: str,
        *,
        tensor_parallel_size: int = 1,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        health_timeout_s: float = 900.0,
        max_concurrency: int = 64,
        timeout_s: float = 600.0,
        system_prompt: str | None = None,
        command: Sequence[str] | None = None,
        **_: Any,
    ):
        from vero.eval.serve import ServerStartError, served_vllm

        self._stack = ExitStack()
        try:
            base_url = self._stack.enter_context(
                served_vllm(
                    str(model_path),
                    gpus=int(tensor_parallel_size),
                    extra_args=extra_args,
                    port=port,
                    health_timeout_s=health_timeout_s,
                    command=command,
                    label="vLLM server (evaluated model)",
                )
            )
        except ServerStartError as e:
            self._stack.close()
            raise BackendError(str(e)) from e
        self.client: OpenAIBackend | None = OpenAIBackend(
            model_path,
            base_url=base_url,
            model=str(model_path),
            api_key_env="",
            max_concurrency=max_concurrency,
            timeout_s=timeout_s,
            system_prompt=system_prompt,
            extra_body={"skip_special_tokens": False},  # keep <think>/<answer> tags
        )
        self._stack.callback(self.client.close)

    def generate(self, samples, *, temperature=0.6, max_new_tokens=16384, batch_size=8, top_p=0.95, seed=0):
        if self.client is None:
            raise BackendError("the vLLM server backend is closed")
        return self.client.generate(
            samples,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            top_p=top_p,
            seed=seed,
        )

    def close(self) -> None:
        self.client = None
        self._stack.close()


def get_backend(name: str, model_path: str, **kwargs: Any) -> Backend:
    """Build a backend by name (hf, vllm, openai, vllm_server) for a model directory or hub id."""
    if name == "hf":
        return HFBackend(model_path, **kwargs)
    if name == "vllm":
        return VLLMBackend(model_path, **kwargs)
    if name == "openai":
        return OpenAIBackend(model_path, **kwargs)
    if name == "vllm_server":
        return ServedVLLMBackend(model_path, **kwargs)
    raise BackendError(f"unknown eval backend {name!r}; expected one of {list(BACKENDS)}")


def backend_kwargs(cfg: Mapping) -> dict[str, Any]:
    """Constructor arguments of the configured backend (`eval.backend`), from `eval` and `model`;
    the system turn from `eval.system_prompt` (vero.eval.prompting.resolve_system_prompt)."""
    from vero.eval.prompting import resolve_system_prompt

    ev, model = cfg.get("eval") or {}, cfg.get("model") or {}
    system_prompt = resolve_system_prompt(cfg)
    pixels = {k: model.get(k) for k in ("min_pixels", "max_pixels")}
    name = ev.get("backend", "hf")
    if name == "hf":
        return {
            "system_prompt": system_prompt,
            **pixels,
            "dtype": model.get("dtype", "auto"),
            "attn_implementation": model.get("attn_implementation"),
        }
    v = ev.get("vllm") or {}
    if name == "vllm":
        return {
            "system_prompt": system_prompt,
            **pixels,
            "dtype": model.get("dtype", "auto"),
            "tensor_parallel_size": ev.get("tensor_parallel_size", 1),
            "gpu_memory_utilization": v.get("gpu_memory_utilization", 0.9),
            "max_model_len": v.get("max_model_len"),
            "enforce_eager": v.get("enforce_eager", False),
            "max_images_per_prompt": v.get("max_images_per_prompt", 8),
            "extra_engine_args": v.get("extra_engine_args") or {},
            "seed": cfg.get("seed", 0),
        }
    if name == "openai":
        o = ev.get("openai") or {}
        return {
            "system_prompt": system_prompt,
            **pixels,
            **{k: val for k, val in o.items() if val is not None},
        }
    if name == "vllm_server":
        return _vllm_server_kwargs(cfg, system_prompt)
    raise ValueError(f"config key 'eval.backend': unknown backend {name!r}")


def _vllm_server_kwargs(cfg: Mapping, system_prompt: str | None) -> dict[str, Any]:
    ev, model = cfg.get("eval") or {}, cfg.get("model") or {}
    v, s = ev.get("vllm") or {}, ev.get("vllm_server") or {}
    args = ["--dtype", model.get("dtype", "auto"), "--seed", str(cfg.get("seed", 0))]
    args += ["--gpu-memory-utilization", str(v.get("gpu_memory_utilization", 0.9))]
    args += ["--limit-mm-per-prompt", json.dumps({"image": v.get("max_images_per_prompt", 8), "video": 0})]
    if v.get("max_model_len"):
        args += ["--max-model-len", str(v["max_model_len"])]
    if v.get("enforce_eager"):
        args.append("--enforce-eager")
    pixels = {k: model[k] for k in ("min_pixels", "max_pixels") if model.get(k)}
    if pixels:
        args += ["--mm-processor-kwargs", json.dumps(pixels)]
    return {
        "system_prompt": system_prompt,
        "tensor_parallel_size": ev.get("tensor_parallel_size", 1),
        "port": s.get("port"),
        "health_timeout_s": s.get("health_timeout_s", 900),
        "max_concurrency": s.get("max_concurrency", 64),
        "timeout_s": s.get("timeout_s", 1800),
        "extra_args": args + list(s.get("extra_args") or []),
    }
