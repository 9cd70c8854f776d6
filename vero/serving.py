"""The vLLM judge server inside a training job: start it on its own GPUs, wait until healthy, stop it.

A training job that scores `llm_judge` samples with a locally served model (config
`reward.judge.serve.enabled`) splits the GPUs SLURM gave it: the last `reward.judge.serve.gpus`
devices of `CUDA_VISIBLE_DEVICES` run `python -m vllm.entrypoints.openai.api_server`, the rest
train. The server runs in its own process group so its engine workers die with it; it is stopped
by PID when the job ends or fails, and when a signal stops the job only after the training
command has exited (it has saved its checkpoint by then: `run_supervised`).

    with judge_server(cfg["reward"]["judge"]["serve"], cfg["reward"]["judge"]["model"]) as judge:
        env = judge.training_env()          # CUDA_VISIBLE_DEVICES = the training GPUs
        subprocess.run(train_cmd, env=env)  # rewards call judge.base_url

`python -m vero.serving --config-json C -- CMD...` does exactly that around a command (the
train rule's launcher) and exits with the command's status. `run_supervised(cmd)` is the same
without a judge: the training launcher's way of running accelerate (vero.train.launch). The server runs under
$VERO_VLLM_PYTHON when set (vLLM lives in envs/vllm.yaml); `serve.port: 0` takes any free port,
so jobs sharing a node cannot collide, and an occupied port is an error, never a silent reuse.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

VLLM_SERVER_MODULE = "vllm.entrypoints.openai.api_server"
# Environment variable through which the training process learns the served endpoint.
BASE_URL_ENV = "VERO_JUDGE_BASE_URL"
# The python that has vLLM (envs/vllm.yaml); default: this interpreter.
VLLM_PYTHON_ENV = "VERO_VLLM_PYTHON"


class ServingError(RuntimeError):
    """The judge server could not be started or did not become healthy."""


class ServerDied(ServingError):
    """The server process exited before it answered /health."""


class ServerTimeout(ServingError):
    """The server did not answer /health within the configured time."""


@dataclass
class JudgeServer:
    """A running (or, when serving is disabled, absent) judge server and the GPU split."""

    base_url: str | None
    judge_devices: list[str] = field(default_factory=list)
    training_devices: list[str] | None = None
    process: subprocess.Popen | None = None
    command: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def training_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for the training process: its own GPUs and the judge endpoint."""
        env = dict(os.environ if base is None else base)
        if self.training_devices is not None:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(self.training_devices)
        if self.base_url:
            env[BASE_URL_ENV] = self.base_url
        return env


def split_devices(visible: str | None, judge_gpus: int) -> tuple[list[str], list[str]]:
    """Split `CUDA_VISIBLE_DEVICES` into (judge devices, training devices): the judge takes the last
    `judge_gpus`, training keeps at least one."""
    devices = [d.strip() for d in (visible or "").split(",") if d.strip()]
    if judge_gpus < 1:
        raise ServingError(f"config key 'reward.judge.serve.gpus': must be >= 1, got {judge_gpus}")
    if len(devices) < judge_gpus + 1:
        raise ServingError(
            f"config key 'reward.judge.serve.gpus': the judge needs {judge_gpus} GPU(s) and training at "
            f"least 1, but this job sees {len(devices)} (CUDA_VISIBLE_DEVICES={visible!r}); raise "
            f"resources.<train rule>.gpu"
        )
    return devices[-judge_gpus:], devices[:-judge_gpus]


def vllm_server_command(
    model: str, port: int, serve_cfg: Mapping, *, host: str = "127.0.0.1", python: str | None = None
) -> list[str]:
    """The vLLM OpenAI-compatible server command (the module, not the `vllm` console script), run by
    `python`, else $VERO_VLLM_PYTHON, else this interpreter."""
    return [
        python or os.environ.get(VLLM_PYTHON_ENV) or sys.executable,
        "-m",
        VLLM_SERVER_MODULE,
        "--model",
        model,
        "--served-model-name",
        model,
        "--host",
        host,
        "--port",
        str(port),
        "--tensor-parallel-size",
        str(serve_cfg.get("gpus", 1)),
        # a judge sharing the training GPUs sleeps between reward calls (vero.train.release)
        *(
            [
                "--enable-sleep-mode",
                "--gpu-memory-utilization",
                str(serve_cfg.get("gpu_memory_utilization", 0.35)),
            ]
            if serve_cfg.get("layout") == "shared"
            else []
        ),
        *[str(a) for a in serve_cfg.get("extra_args", [])],
    ]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def is_healthy(url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def wait_until_healthy(
    health_url: str, process: subprocess.Popen, timeout_s: float, *, interval_s: float = 1.0
) -> float:
    """Poll `health_url` until it answers 2xx; returns the seconds waited.

    Raises ServerDied as soon as the process exits, ServerTimeout after `timeout_s`.
    """
    start = time.monotonic()
    while True:
        code = process.poll()
        if code is not None:
            raise ServerDied(
                f"judge server (PID {process.pid}) exited with status {code} before {health_url} answered"
            )
        if is_healthy(health_url, timeout_s=min(2.0, max(interval_s, 0.1))):
            return time.monotonic() - start
        waited = time.monotonic() - start
        if waited >= timeout_s:
            raise ServerTimeout(
                f"judge server (PID {process.pid}) did not answer {health_url} within {timeout_s:g} s "
                f"(config key 'reward.judge.serve.health_timeout_s')"
            )
        time.sleep(min(interval_s, max(0.0, timeout_s - waited)))


def stop_process(process: subprocess.Popen, grace_s: float = 30.0) -> int | None:
    """SIGTERM the process group of `process` (started with its own session), SIGKILL after
    `grace_s`; returns the exit status."""
    if process.poll() is not None:
        return process.returncode
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


class _StopOnSignal:
    """Turns SIGTERM/SIGINT into SystemExit(128 + signum) in the main thread, so `finally`
    blocks (stopping the server) run when SLURM preempts, cancels or times out the job."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __enter__(self):
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    @staticmethod
    def _handle(signum, _frame):
        raise SystemExit(128 + signum)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


@contextlib.contextmanager
def judge_server(
    serve_cfg: Mapping,
    model: str,
    port: int | None = None,
    *,
    host: str = "127.0.0.1",
    command: Sequence[str] | None = None,
    health_path: str = "/health",
    api_key_env: str | None = None,
    log_path: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    poll_interval_s: float = 1.0,
    stop_grace_s: float = 30.0,
) -> Iterator[JudgeServer]:
    """Serve `model` for the duration of the block when `serve_cfg["enabled"]`; otherwise yield a
    handle with no process that leaves the GPUs to training. Port 0 picks a free port (the
    handle's base_url names it).

    `command` replaces the vLLM command (tests, other servers; "{port}" in it becomes the port);
    `api_key_env` names the
    environment variable whose value the server requires as API key (passed as VLLM_API_KEY in
    its environment, never on its command line).
    """
    if not serve_cfg.get("enabled", False):
        yield JudgeServer(base_url=None)
        return
    port = int(serve_cfg.get("port", 8000) if port is None else port)
    if port == 0:  # any free port: jobs sharing a node cannot collide
        port = free_port(host)
    base_env = dict(os.environ if env is None else env)
    if serve_cfg.get("layout") == "shared":  # the judge and training take turns on every GPU
        judge_devices = training_devices = [
            d.strip() for d in base_env.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()
        ]
    else:
        judge_devices, training_devices = split_devices(
            base_env.get("CUDA_VISIBLE_DEVICES"), int(serve_cfg.get("gpus", 1))
        )
    if command is not None:
        cmd = [str(a).replace("{port}", str(port)) for a in command]
    else:
        cmd = vllm_server_command(model, port, serve_cfg, host=host)
    server_env = {**base_env, "CUDA_VISIBLE_DEVICES": ",".join(judge_devices)}
    if serve_cfg.get("layout") == "shared":
        server_env["VLLM_SERVER_DEV_MODE"] = "1"  # the /sleep and /wake_up endpoints
    if api_key_env and base_env.get(api_key_env):
        server_env["VLLM_API_KEY"] = base_env[api_key_env]
    health_url = f"http://{host}:{port}{health_path}"
    if is_healthy(health_url, timeout_s=1.0):
        raise ServingError(
            f"port {port} on {host} already answers {health_path}: another server is running there"
        )

    log = open(log_path, "ab") if log_path else None  # noqa: SIM115 (closed in finally)
    print(f"[judge] starting on GPUs {judge_devices}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    process = None
    try:
        # While the server starts, SIGTERM/SIGINT end the job (nothing to save yet); once it is
        # healthy the block's own handling applies (run_under_judge passes them to the training).
        with _StopOnSignal():
            process = subprocess.Popen(
                cmd,
                env=server_env,
                stdout=log or None,
                stderr=subprocess.STDOUT if log else None,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            waited = wait_until_healthy(
                health_url, process, float(serve_cfg.get("health_timeout_s", 900)), interval_s=poll_interval_s
            )
            if serve_cfg.get("layout") == "shared":  # asleep until the first reward call wakes it
                level = int(serve_cfg.get("sleep_level", 1))
                sleep = urllib.request.Request(
                    f"http://{host}:{port}/sleep?level={level}", data=b"", method="POST"
                )
                urllib.request.urlopen(sleep, timeout=600).read()
        print(
            f"[judge] PID {process.pid} healthy after {waited:.1f} s at {health_url}"
            + (" (asleep until rewards are scored)" if serve_cfg.get("layout") == "shared" else ""),
            file=sys.stderr,
            flush=True,
        )
        yield JudgeServer(
            base_url=f"http://{host}:{port}/v1",
            judge_devices=judge_devices,
            training_devices=training_devices,
            process=process,
            command=cmd,
        )
    finally:
        if process is not None:
            code = stop_process(process, grace_s=stop_grace_s)
            print(f"[judge] PID {process.pid} stopped (status {code})", file=sys.stderr, flush=True)
        if log:
            log.close()


# Signals that ask a training job to checkpoint and stop (vero.train.trainer.STOP_SIGNALS).
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGURG)
# Ignored by the command and its launchers (accelerate, torch elastic) until the trainer installs
# its own handlers: a launcher that died of the signal would orphan the trainer mid-checkpoint.
# SIGURG is ignored by default everywhere.
IGNORED_BY_LAUNCHERS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


def launcher_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a training launcher: torch elastic (multi-GPU accelerate) then keeps SIGTERM
    and SIGINT ignored instead of shutting the workers down 30 s later, and waits up to
    TORCH_ELASTIC_SHUTDOWN_TIMEOUT (default here 900 s) for workers to exit once one has stopped."""
    env = dict(os.environ if base is None else base)
    env.setdefault("TORCHELASTIC_SIGNALS_TO_HANDLE", "SIGHUP,SIGQUIT")
    env.setdefault("TORCH_ELASTIC_SHUTDOWN_TIMEOUT", "900")
    return env


def run_supervised(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, stop_grace_s: float | None = None
) -> int:
    """Run a training command and pass stop signals on to it; returns its exit status.

    The command runs in its own session with SIGTERM/SIGINT/SIGUSR1 ignored (IGNORED_BY_LAUNCHERS;
    the trainer installs its own handlers). A stop signal reaching this process (SLURM signals every
    process of the job step; a terminal or `kill` reaches only this one) is sent on to the command's
    process group, and this process keeps waiting while the trainer saves its checkpoint, so whatever
    runs after it (stopping the judge server) happens after the checkpoint. A second SIGINT, or
    `stop_grace_s` seconds after the first signal, kills the command's group; the status is then
    128 + the first signal.
    """
    previous = {sig: signal.getsignal(sig) for sig in FORWARDED_SIGNALS}
    main_thread = threading.current_thread() is threading.main_thread()
    received: list[int] = []
    if main_thread:
        for sig in IGNORED_BY_LAUNCHERS:
            signal.signal(sig, signal.SIG_IGN)  # inherited by the command through exec
    try:
        child = subprocess.Popen(list(argv), env=launcher_env(env), start_new_session=True)
    finally:
        if main_thread:
            for sig in IGNORED_BY_LAUNCHERS:
                signal.signal(sig, previous[sig])

    stop_since: list[float] = []

    def forward(signum, _frame):
        received.append(signum)
        if signum != signal.SIGURG and not stop_since:
            stop_since.append(time.monotonic())
        abort = signum == signal.SIGINT and received.count(signal.SIGINT) > 1
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL if abort else signum)
        what = "killing the training command" if abort else "passed on to the training command; waiting"
        print(f"[vero.serving] {signal.Signals(signum).name}: {what}", file=sys.stderr, flush=True)

    if main_thread:
        for sig in FORWARDED_SIGNALS:
            signal.signal(sig, forward)
    try:
        while True:
            try:
                code = child.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                pass
            if stop_since and stop_grace_s is not None and time.monotonic() - stop_since[0] > stop_grace_s:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
    finally:
        if main_thread:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    first = next((s for s in received if s != signal.SIGURG), None)
    if code < 0:
        return 128 + (first if first is not None else -code)
    return code


def run_under_judge(
    cmd: Sequence[str] | Callable[[JudgeServer], Sequence[str]],
    serve_cfg: Mapping,
    model: str,
    *,
    api_key_env: str | None = None,
    stop_grace_s: float | None = None,
    **server_kwargs,
) -> int:
    """Run `cmd` (the training launcher) beside a judge server; returns its exit status.

    `cmd` may be a function of the running server, for launchers whose process count depends on
    the GPUs left to training (`len(judge.training_devices)`). The command runs under
    `run_supervised`: a stop signal goes on to it, and the server is stopped only once the command
    has exited, i.e. after its checkpoint.
    """
    with judge_server(serve_cfg, model, api_key_env=api_key_env, **server_kwargs) as judge:
        argv = list(cmd(judge) if callable(cmd) else cmd)
        return run_supervised(
            argv, env=judge.training_env(server_kwargs.get("env")), stop_grace_s=stop_grace_s
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vero.serving",
        description="Run a command (the training launcher) beside the vLLM judge server of the config.",
    )
    parser.add_argument("--config-json", required=True, help="resolved config (results/resolved_config.json)")
    parser.add_argument(
        "--experiment", help="experiment whose reward.judge settings apply (default: top level)"
    )
    parser.add_argument("--log", help="file for the server's output (default: this job's stderr)")
    parser.add_argument(
        "--server-command",
        help="serve with this command line instead of vLLM's OpenAI server ({port} = the port; it must"
        " answer GET /health)",
    )
    parser.add_argument(
        "--stop-grace-s",
        type=float,
        help="after a stop signal, kill the command if it has not exited within this many seconds "
        "(default: wait for it; the job's time limit bounds the wait)",
    )
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- COMMAND ...")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command given after --")
    cfg = json.loads(Path(args.config_json).read_text())
    judge_cfg = cfg.get("reward", {}).get("judge", {})
    if args.experiment:
        from vero.config import resolve_experiment

        judge_cfg = resolve_experiment(cfg, args.experiment)["reward"].get("judge", {})
    serve_cfg = judge_cfg.get("serve", {}) if judge_cfg.get("enabled", False) else {"enabled": False}
    try:
        return run_under_judge(
            cmd,
            serve_cfg,
            judge_cfg.get("model", ""),
            api_key_env=judge_cfg.get("api_key_env"),
            log_path=args.log,
            command=shlex.split(args.server_command) if args.server_command else None,
            stop_grace_s=args.stop_grace_s,
        )
    except ServingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
