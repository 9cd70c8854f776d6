"""Serve the skill-extraction model inside the analysis job (config `analysis.skills.llm.serve`).

Built from vero.serving's pieces (the vLLM server command, health polling, process-group stop)
rather than its judge_server, which reserves GPUs for a training process this job does not have:
here the server gets every GPU the job sees.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping

KEY = "analysis.skills.llm.serve"


@contextlib.contextmanager
def served_model(
    serve_cfg: Mapping, model: str, *, api_key_env: str | None = None, host: str = "127.0.0.1"
) -> Iterator[str | None]:
    """Yield the base URL of a vLLM OpenAI-compatible server for `model` while the block runs;
    yield None (and start nothing) when `serve_cfg["enabled"]` is false."""
    if not serve_cfg.get("enabled", False):
        yield None
        return
    from vero.serving import (
        ServingError,
        _StopOnSignal,
        is_healthy,
        stop_process,
        vllm_server_command,
        wait_until_healthy,
    )

    port = int(serve_cfg.get("port", 8010))
    health = f"http://{host}:{port}/health"
    if is_healthy(health, timeout_s=1.0):
        raise ServingError(f"config key '{KEY}.port': {host}:{port} already answers /health (another server)")
    cmd = vllm_server_command(model, port, serve_cfg, host=host)
    env = dict(os.environ)
    if api_key_env and env.get(api_key_env):
        env["VLLM_API_KEY"] = env[api_key_env]
    print(f"[skills] serving {model}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    with _StopOnSignal():
        process = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            try:
                waited = wait_until_healthy(health, process, float(serve_cfg.get("health_timeout_s", 900)))
            except ServingError as e:
                raise ServingError(f"{e} (config key '{KEY}')") from e
            print(
                f"[skills] server PID {process.pid} healthy after {waited:.1f} s", file=sys.stderr, flush=True
            )
            yield f"http://{host}:{port}/v1"
        finally:
            code = stop_process(process)
            print(f"[skills] server PID {process.pid} stopped (status {code})", file=sys.stderr, flush=True)
