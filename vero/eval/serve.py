"""vLLM's OpenAI-compatible server for the length of an evaluation job: the evaluated model
(backend `vllm_server`) or the LLM judge (`reward.judge.serve.enabled`).

The server is vLLM's module entry point run by $VERO_VLLM_PYTHON (envs/vllm.yaml, recorded by the
rule vllm_server_env; see vero.serving), in its own process group,
polled on /health until ready and stopped on exit, including on SIGTERM from SLURM or Snakemake.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


class ServerStartError(RuntimeError):
    """The server exited or did not answer /health in time."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


@contextmanager
def served_vllm(
    model: str,
    *,
    gpus: int = 1,
    extra_args: Sequence[str] = (),
    host: str = "127.0.0.1",
    port: int | None = None,
    health_timeout_s: float = 900.0,
    command: Sequence[str] | None = None,
    label: str = "vLLM server",
) -> Iterator[str]:
    """Serve `model` (tensor parallel over `gpus`) and yield its base URL (".../v1").

    `command` replaces the vLLM command line (tests, other servers); "{port}", "{host}" and
    "{model}" in it are filled in.
    """
    from vero.serving import ServingError, is_healthy, stop_process, vllm_server_command, wait_until_healthy

    port = int(port) if port else free_port(host)
    health_url = f"http://{host}:{port}/health"
    if is_healthy(health_url, timeout_s=1.0):
        raise ServerStartError(f"{health_url} already answers: another server uses port {port}")
    cmd = (
        [str(c).format(port=port, host=host, model=model) for c in command]
        if command
        else vllm_server_command(str(model), port, {"gpus": gpus, "extra_args": list(extra_args)}, host=host)
    )
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    print(f"[eval] starting {label}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        try:
            waited = wait_until_healthy(health_url, process, float(health_timeout_s))
        except ServingError as e:
            raise ServerStartError(f"{label} for {model} did not come up at {health_url}: {e}") from e
        print(f"[eval] {label} healthy after {waited:.1f} s at {host}:{port}", file=sys.stderr, flush=True)
        yield f"http://{host}:{port}/v1"
    finally:
        code = stop_process(process)
        print(f"[eval] {label} (PID {process.pid}) stopped, status {code}", file=sys.stderr, flush=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
