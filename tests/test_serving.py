"""vero.serving: the judge server lifecycle, exercised with a real (tiny) HTTP server process."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from vero import serving

FAKE_SERVER = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    port, ready_after, mode, record = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
    with open(record, "w") as f:
        json.dump({"pid": os.getpid(), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
                   "api_key": os.environ.get("VLLM_API_KEY"), "argv": sys.argv}, f)
    if mode == "die":
        sys.exit(7)
    if mode == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    started = time.monotonic()

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.path == "/health" and time.monotonic() - started >= ready_after
            self.send_response(200 if ok else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Health).serve_forever()
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); look at its state.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


@pytest.fixture
def fake(tmp_path):
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    record = tmp_path / "record.json"
    port = free_port()

    def command(ready_after=0.0, mode="serve"):
        return [sys.executable, str(script), str(port), str(ready_after), mode, str(record)]

    def recorded():
        return json.loads(record.read_text())

    return {"command": command, "port": port, "recorded": recorded, "record": record}


def serve_cfg(**kw):
    return {"enabled": True, "gpus": 1, "port": 8000, "health_timeout_s": 20, **kw}


def test_disabled_serving_starts_nothing_and_leaves_gpus_to_training():
    with serving.judge_server({"enabled": False}, "judge") as judge:
        assert judge.process is None and judge.base_url is None
        env = judge.training_env({"CUDA_VISIBLE_DEVICES": "0,1"})
    assert env["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert serving.BASE_URL_ENV not in env


@pytest.mark.parametrize(
    ("visible", "n", "judge", "train"),
    [("0,1,2,3", 2, ["2", "3"], ["0", "1"]), ("5,7", 1, ["7"], ["5"]), (" 0 , 1 ,2", 1, ["2"], ["0", "1"])],
)
def test_split_devices_gives_the_judge_the_last_gpus(visible, n, judge, train):
    assert serving.split_devices(visible, n) == (judge, train)


@pytest.mark.parametrize(("visible", "n"), [(None, 1), ("", 1), ("0", 1), ("0,1", 2), ("0,1", 0)])
def test_split_devices_refuses_when_training_would_get_no_gpu(visible, n):
    with pytest.raises(serving.ServingError, match=r"reward\.judge\.serve\.gpus"):
        serving.split_devices(visible, n)


def test_vllm_command_uses_the_module_and_tensor_parallel_over_its_gpus():
    cmd = serving.vllm_server_command(
        "Qwen/Qwen3-32B", 8123, {"gpus": 2, "extra_args": ["--max-model-len", "8192"]}, python="py"
    )
    assert cmd[:3] == ["py", "-m", "vllm.entrypoints.openai.api_server"]
    flat = " ".join(cmd)
    assert "--model Qwen/Qwen3-32B" in flat and "--port 8123" in flat
    assert "--tensor-parallel-size 2" in flat and flat.endswith("--max-model-len 8192")


def test_server_starts_on_its_own_gpus_is_healthy_and_is_stopped_by_pid(fake):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1,2,3", "JUDGE_KEY": "sk-planted-123"}
    with serving.judge_server(
        serve_cfg(gpus=2),
        "judge",
        fake["port"],
        command=fake["command"](ready_after=0.3),
        env=env,
        api_key_env="JUDGE_KEY",
        poll_interval_s=0.05,
    ) as judge:
        pid = judge.pid
        assert alive(pid)
        assert serving.is_healthy(f"http://127.0.0.1:{fake['port']}/health")
        assert judge.base_url == f"http://127.0.0.1:{fake['port']}/v1"
        train_env = judge.training_env(env)
        assert train_env["CUDA_VISIBLE_DEVICES"] == "0,1"
        assert train_env[serving.BASE_URL_ENV] == judge.base_url
    rec = fake["recorded"]()
    assert rec["pid"] == pid and rec["cuda"] == "2,3"
    # the key reaches the server through its environment only
    assert rec["api_key"] == "sk-planted-123"
    assert "sk-planted-123" not in " ".join(rec["argv"])
    assert not alive(pid)
    assert not serving.is_healthy(f"http://127.0.0.1:{fake['port']}/health", timeout_s=0.5)


def test_server_that_dies_before_health_is_reported_with_its_status(fake):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1"}
    with (
        pytest.raises(serving.ServerDied, match="status 7"),
        serving.judge_server(
            serve_cfg(), "judge", fake["port"], command=fake["command"](mode="die"), env=env
        ),
    ):
        pytest.fail("the body must not run when the server died")


def test_server_that_never_gets_healthy_times_out_and_is_stopped(fake):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1"}
    with (
        pytest.raises(serving.ServerTimeout, match="health_timeout_s"),
        serving.judge_server(
            serve_cfg(health_timeout_s=1),
            "judge",
            fake["port"],
            command=fake["command"](ready_after=3600),
            env=env,
            poll_interval_s=0.1,
        ),
    ):
        pytest.fail("the body must not run before the server is healthy")
    assert not alive(fake["recorded"]()["pid"])


def test_server_is_stopped_when_the_body_raises_even_if_it_ignores_sigterm(fake):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1"}
    with (
        pytest.raises(RuntimeError, match="training failed"),
        serving.judge_server(
            serve_cfg(),
            "judge",
            fake["port"],
            command=fake["command"](mode="ignore_term"),
            env=env,
            poll_interval_s=0.05,
            stop_grace_s=0.5,
        ) as judge,
    ):
        pid = judge.pid
        raise RuntimeError("training failed")
    assert not alive(pid)


def test_port_already_serving_is_refused(fake):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1"}
    other = subprocess.Popen(fake["command"](), start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not serving.is_healthy(f"http://127.0.0.1:{fake['port']}/health", 0.5):
            assert time.monotonic() < deadline and other.poll() is None
            time.sleep(0.05)
        with (
            pytest.raises(serving.ServingError, match="already answers"),
            serving.judge_server(serve_cfg(), "judge", fake["port"], command=["true"], env=env),
        ):
            pass
    finally:
        serving.stop_process(other, grace_s=5)


# A training command as vero.serving sees it: on SIGTERM it "saves a checkpoint" for a while, asks
# the judge server whether it is still up at that moment, records both, and exits 143.
SAVING_CHILD = """
import json, os, signal, sys, time, urllib.request
record, port, save_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
state = {"pid": os.getpid(), "cuda": os.environ["CUDA_VISIBLE_DEVICES"],
         "url": os.environ["VERO_JUDGE_BASE_URL"], "ignored_at_start": {}}
for sig in ("SIGTERM", "SIGINT", "SIGUSR1"):
    state["ignored_at_start"][sig] = signal.getsignal(getattr(signal, sig)) == signal.SIG_IGN
stop = []
if sys.argv[4] == "save":
    signal.signal(signal.SIGTERM, lambda n, f: stop.append(n))
json.dump(state, open(record + ".tmp", "w")); os.replace(record + ".tmp", record)
while not stop:
    time.sleep(0.05)
time.sleep(save_s)  # the checkpoint
try:
    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
    state["judge_up_while_saving"] = True
except OSError:
    state["judge_up_while_saving"] = False
json.dump(state, open(record + ".tmp", "w")); os.replace(record + ".tmp", record)
sys.exit(143)
"""


@pytest.mark.parametrize("mode", ["save", "ignore"])
def test_a_stop_signal_reaches_the_command_and_the_judge_outlives_its_checkpoint(fake, tmp_path, mode):
    """SIGTERM to the wrapper (a terminal or `kill`; under SLURM every process gets it): the command
    gets it too, the wrapper waits while it saves, and only then stops the judge server. A command
    that ignores it is killed after --stop-grace-s."""
    cfg = {"reward": {"judge": {"enabled": True, "model": "judge", "serve": serve_cfg(port=fake["port"])}}}
    cfg_path = tmp_path / "resolved_config.json"
    cfg_path.write_text(json.dumps(cfg))
    record = tmp_path / "child.json"
    (tmp_path / "child.py").write_text(SAVING_CHILD)
    grace = "20" if mode == "save" else "3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vero.serving", "--config-json", str(cfg_path), "--stop-grace-s", grace,
         "--server-command", shlex.join(fake["command"]()), "--",
         sys.executable, str(tmp_path / "child.py"), str(record), str(fake["port"]), "2", mode],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "0,1,2"},
        cwd=Path(serving.__file__).resolve().parent.parent,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not record.exists():
            assert proc.poll() is None, "the wrapper exited before starting the command"
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.1)
        rec = json.loads(record.read_text())
        assert rec["cuda"] == "0,1" and rec["url"] == f"http://127.0.0.1:{fake['port']}/v1"
        # launchers between the wrapper and the trainer ignore these until the trainer handles them
        assert rec["ignored_at_start"] == {"SIGTERM": True, "SIGINT": True, "SIGUSR1": True}
        server_pid = fake["recorded"]()["pid"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
        assert not alive(rec["pid"]) and not alive(server_pid)
        done = json.loads(record.read_text())
        if mode == "save":
            assert done["judge_up_while_saving"] is True
        else:
            assert "judge_up_while_saving" not in done  # killed after the grace period
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_vllm_python_comes_from_the_environment_when_set(monkeypatch):
    monkeypatch.setenv(serving.VLLM_PYTHON_ENV, "/opt/vllm-env/bin/python")
    assert serving.vllm_server_command("m", 1, {"gpus": 1})[0] == "/opt/vllm-env/bin/python"
    monkeypatch.delenv(serving.VLLM_PYTHON_ENV)
    assert serving.vllm_server_command("m", 1, {"gpus": 1})[0] == sys.executable


def test_run_under_judge_builds_the_command_from_the_gpus_left_to_training(fake, tmp_path):
    out = tmp_path / "child.txt"

    def launcher(judge):
        n = len(judge.training_devices)
        return [
            sys.executable,
            "-c",
            f"import os; open({str(out)!r}, 'w').write('{n} ' + os.environ['CUDA_VISIBLE_DEVICES'])",
        ]

    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7"}
    code = serving.run_under_judge(
        launcher,
        serve_cfg(gpus=2),
        "judge",
        port=fake["port"],
        command=fake["command"](),
        env=env,
        poll_interval_s=0.05,
    )
    assert code == 0
    assert out.read_text() == "6 0,1,2,3,4,5"
    assert fake["recorded"]()["cuda"] == "6,7"
    assert not alive(fake["recorded"]()["pid"])


def test_port_zero_serves_on_a_free_port(tmp_path):
    record = tmp_path / "record.json"
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1"}
    cmd = [sys.executable, str(script), "{port}", "0", "serve", str(record)]
    with serving.judge_server(
        serve_cfg(port=0), "judge", command=cmd, env=env, poll_interval_s=0.05
    ) as judge:
        port = int(json.loads(record.read_text())["argv"][1])
        assert port > 0 and judge.base_url == f"http://127.0.0.1:{port}/v1"
        assert serving.is_healthy(f"http://127.0.0.1:{port}/health")
