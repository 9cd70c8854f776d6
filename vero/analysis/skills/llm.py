"""The paper's skill extractor: a language model reads a reasoning trace and lists its skills.

Two backends: `openai` (any OpenAI-compatible chat endpoint, e.g. vLLM's server, via httpx) and
`transformers` (a local causal LM). Replies are parsed leniently (`parse_skill_reply`). Results
are cached on disk, keyed on everything the reply depends on (`LLMExtractor.cache_key`): the
backend, the model's identity (for a local model directory the sha256 of its files, for a hub id
its cached snapshot commit, for an endpoint the served model name), and the exact request (both
prompts as sent, with the trace, temperature, max_tokens and extra request fields). So a rerun
costs nothing, and no change of model, prompt or sampling ever reuses a reply. A hit is parsed
again from the stored raw reply, so a change of the parser applies to cached replies too. Only
successful parses are cached, so a failed call is retried next time. Nothing here raises on a
bad trace or a bad reply: the status says what happened.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from vero.analysis.skills import Skill, parse_skill_reply

# Part of every cache key: bump it when the way a reply becomes skills changes in a way the
# request does not show (the prompts themselves are in the key).
CACHE_FORMAT = "skills-cache-v2"

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


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_dir_fingerprint(model_dir: str | Path, memo_path: str | Path | None = None) -> str:
    """sha256 over (relative path, sha256 of the content) of every file of a local model directory.

    Hashing a large model takes a while, so per-file hashes are remembered in `memo_path` under
    (path, inode, size, mtime_ns, ctime_ns): a file changed in place gets a new ctime even when
    its mtime is put back, so the memo never returns the hash of old content.
    """
    root = Path(model_dir)
    memo: dict = {}
    if memo_path is not None:
        try:
            memo = json.loads(Path(memo_path).read_text())
        except (OSError, ValueError):
            memo = {}
    files = sorted(p for p in root.rglob("*") if p.is_file() and ".cache" not in p.relative_to(root).parts)
    outer = hashlib.sha256()
    changed = False
    for p in files:
        st = p.stat()
        stamp = f"{p.resolve()}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"
        digest = memo.get(stamp)
        if digest is None:
            digest = memo[stamp] = _file_sha256(p)
            changed = True
        outer.update(f"{p.relative_to(root).as_posix()}\0{digest}\n".encode())
    if memo_path is not None and changed:
        memo_path = Path(memo_path)
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(memo))
        os.replace(tmp, memo_path)
    return outer.hexdigest()


class SkillCache:
    """One small JSON file per key under `root/ab/abcdef....json`; writes are atomic."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @staticmethod
    def key(identity: Mapping) -> str:
        """sha256 of everything a reply depends on (`LLMExtractor.cache_identity`)."""
        blob = json.dumps([CACHE_FORMAT, identity], sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> tuple[list[Skill] | None, str | None]:
        """(skills parsed again from the stored reply, the reply); (None, None) on a miss."""
        p = self._path(key)
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError):
            return None, None
        raw = data.get("raw") if isinstance(data, dict) else None
        if not isinstance(raw, str):
            return None, None
        return parse_skill_reply(raw), raw

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
        self._model_identity = None
        self._lock = threading.Lock()
        self.calls = 0  # model calls made (cache hits excluded), for reports and tests

    # -- backends ----------------------------------------------------------------------------

    def _messages(self, trace: str) -> list[dict]:
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user_prompt(trace, self.max_trace_chars)},
        ]

    def _openai_body(self, trace: str) -> dict:
        return {
            **self.extra_body,
            "model": self.model,
            "messages": self._messages(trace),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def model_identity(self) -> str:
        """What names the model's weights: the served model name for an endpoint; for the local
        backend the sha256 of a model directory's files, or a hub id's cached snapshot commit."""
        if self._model_identity is None:
            identity = f"served:{self.model}"
            if self.backend == "transformers":
                identity = f"hub:{self.model}"
                if Path(self.model).is_dir():
                    memo = self.cache.root / "_model_fingerprints.json" if self.cache else None
                    identity = f"dir-sha256:{model_dir_fingerprint(self.model, memo)}"
                else:
                    try:
                        from huggingface_hub import snapshot_download

                        snapshot = Path(snapshot_download(self.model, local_files_only=True))
                        identity = f"hub:{self.model}@{snapshot.name}"
                    except Exception:  # not in the local hub cache: the id is all there is
                        pass
            self._model_identity = identity
        return self._model_identity

    def cache_identity(self, trace: str) -> dict:
        """Everything the reply to `trace` depends on: backend, model identity, the request."""
        if self.backend == "openai":
            request = self._openai_body(trace)
        else:
            request = {
                "messages": self._messages(trace),
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
            }
        return {"backend": self.backend, "model": self.model_identity(), "request": request}

    def cache_key(self, trace: str) -> str:
        return SkillCache.key(self.cache_identity(trace))

    def _ask_openai(self, trace: str) -> tuple[str | None, str]:
        import httpx

        with self._lock:
            if self._client is None:
                headers = {}
                key = os.environ.get(self.api_key_env) if self.api_key_env else None
                if key:
                    headers["Authorization"] = f"Bearer {key}"
                self._client = httpx.Client(timeout=httpx.Timeout(self.timeout_s), headers=headers)
        body = self._openai_body(trace)
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
        key = self.cache_key(trace) if self.cache else None
        if self.cache:
            hit, _ = self.cache.get(key)
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
