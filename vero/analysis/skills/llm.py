"""The paper's skill extractor: a language model reads a reasoning trace and lists its skills.

Two backends: `openai` (any OpenAI-compatible chat endpoint, e.g. vLLM's server, via httpx) and
`transformers` (a local causal LM). Replies are parsed leniently (`parse_skill_reply`). Results
are cached on disk under sha256(model, prompt version, trace), so a rerun costs nothing; only
successful parses are cached, so a failed call is retried next time. Nothing here raises on a
bad trace or a bad reply: the status says what happened.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from pathlib import Path

from vero.analysis.skills import Skill, parse_skill_reply

# Bump when the prompt changes: it is part of the cache key.
PROMPT_VERSION = "skills-v1"

SYSTEM_PROMPT = (
    "You study how an AI model reasons about images. You will be shown the reasoning it wrote "
    "while answering one visual question (the image itself is not shown). List the distinct "
    "reasoning skills the reasoning actually uses: general cognitive operations such as reading "
    "values off a chart, checking a computed result, comparing options, or searching the image "
    "for an object. Name each skill in two to five words and describe in one sentence how this "
    "reasoning applies it. Give between one and eight skills, most important first. Reply with a "
    'JSON list only, in the form [{"label": "...", "description": "..."}], and nothing else.'
)


def user_prompt(trace: str, max_chars: int) -> str:
    clipped = (
        trace if len(trace) <= max_chars else trace[: max_chars // 2] + "\n[...]\n" + trace[-max_chars // 2 :]
    )
    return f"Reasoning:\n<<<\n{clipped}\n>>>\n\nThe JSON list of skills:"


class SkillCache:
    """One small JSON file per key under `root/ab/abcdef....json`; writes are atomic."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @staticmethod
    def key(model: str, trace: str) -> str:
        blob = json.dumps([model, PROMPT_VERSION, trace], ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> list[Skill] | None:
        p = self._path(key)
        try:
            data = json.loads(p.read_text())
            return [Skill(s["label"], s["description"]) for s in data["skills"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, skills: list[Skill], raw: str) -> None:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"skills": [s.as_dict() for s in skills], "raw": raw}, ensure_ascii=False))
        os.replace(tmp, p)


class LLMExtractor:
    """Skill extraction by a language model.

    backend `openai`: POST {base_url}/chat/completions with `model`; the API key, if any, is read
    from the environment variable named by `api_key_env` (never from the config).
    backend `transformers`: `model` is a local path or hub id of a causal LM with a chat template.
    """

    name = "llm"

    def __init__(
        self,
        backend: str = "openai",
        model: str = "Qwen/Qwen3-32B",
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key_env: str = "OPENAI_API_KEY",
        cache_dir: str | Path | None = None,
        timeout_s: float = 150.0,
        max_retries: int = 2,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        max_trace_chars: int = 12000,
        extra_body: dict | None = None,
        **_ignored,
    ):
        if backend not in ("openai", "transformers"):
            raise ValueError(f"llm extractor backend must be 'openai' or 'transformers', got {backend!r}")
        self.backend = backend
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.cache = SkillCache(cache_dir) if cache_dir else None
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.max_trace_chars = int(max_trace_chars)
        # server-specific request fields, e.g. vLLM's {"chat_template_kwargs": {"enable_thinking": false}}
        self.extra_body = dict(extra_body or {})
        self._client = None
        self._local = None
        self._lock = threading.Lock()
        self.calls = 0  # model calls made (cache hits excluded), for reports and tests

    # -- backends ----------------------------------------------------------------------------

    def _messages(self, trace: str) -> list[dict]:
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user_prompt(trace, self.max_trace_chars)},
        ]

    def _ask_openai(self, trace: str) -> tuple[str | None, str]:
        import httpx

        with self._lock:
            if self._client is None:
                headers = {}
                key = os.environ.get(self.api_key_env) if self.api_key_env else None
                if key:
                    headers["Authorization"] = f"Bearer {key}"
                self._client = httpx.Client(timeout=httpx.Timeout(self.timeout_s), headers=headers)
        body = {
            **self.extra_body,
            "model": self.model,
            "messages": self._messages(trace),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        status = "request_failed"
        for _ in range(self.max_retries + 1):
            try:
                r = self._client.post(f"{self.base_url}/chat/completions", json=body)
            except httpx.TimeoutException:
                status = "timeout"
                continue
            except httpx.HTTPError:
                status = "request_failed"
                continue
            if r.status_code >= 500 or r.status_code == 429:
                status = f"http_{r.status_code}"
                continue
            if r.status_code != 200:
                return None, f"http_{r.status_code}"
            try:
                return r.json()["choices"][0]["message"]["content"] or "", "ok"
            except (ValueError, KeyError, IndexError, TypeError):
                return None, "bad_response"
        return None, status

    def _ask_transformers(self, trace: str) -> tuple[str | None, str]:
        with self._lock:
            if self._local is None:
                from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoTokenizer

                tok = AutoTokenizer.from_pretrained(self.model)
                try:
                    model = AutoModelForCausalLM.from_pretrained(self.model)
                except ValueError:  # a vision-language model (e.g. Qwen-VL) reading text only
                    model = AutoModelForImageTextToText.from_pretrained(self.model)
                model.eval()
                self._local = (tok, model)
            tok, model = self._local
            import torch

            ids = tok.apply_chat_template(
                self._messages(trace), add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            with torch.no_grad():
                out = model.generate(
                    **ids,
                    max_new_tokens=self.max_tokens,
                    do_sample=self.temperature > 0,
                    temperature=self.temperature if self.temperature > 0 else None,
                    pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
                )
            return tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True), "ok"

    # -- interface ---------------------------------------------------------------------------

    def extract_with_status(self, trace: str, category: str) -> tuple[list[Skill], str]:
        if not isinstance(trace, str) or not trace.strip():
            return [], "empty_trace"
        key = SkillCache.key(self.model, trace) if self.cache else None
        if self.cache:
            hit = self.cache.get(key)
            if hit is not None:
                return hit, "cached"
        try:
            ask = self._ask_openai if self.backend == "openai" else self._ask_transformers
            raw, status = ask(trace)
            self.calls += 1
        except Exception as e:  # a skill extractor must never fail the analysis
            print(f"[vero.analysis.skills.llm] {type(e).__name__}: {e}", file=sys.stderr)
            return [], "backend_error"
        if raw is None:
            return [], status
        skills = parse_skill_reply(raw)
        if skills is None:
            return [], "unparseable"
        if self.cache:
            self.cache.put(key, skills, raw)
        return skills, "ok"

    def extract(self, trace: str, category: str) -> list[Skill]:
        return self.extract_with_status(trace, category)[0]
