"""Faults injected into training on the tiny model (issue #12): each case ends with a message that
names what failed, no finished step lost, and a rerun that recovers.

- SIGTERM to every process of the job, W&B's service and the judge server first (what SLURM does
  at preemption): the trainer saves its checkpoint anyway and the resumed run equals an
  uninterrupted one step for step, weights bit for bit;
- a dead, misconfigured or hung judge: the job fails before the model is loaded, naming the
  endpoint; a judge reply without a usable score is counted per step and never scored;
- the disk fills up while a checkpoint is written, then the results become read-only: the error
  names the path on Snakemake's stderr even when the job log cannot take another byte, no partial
  checkpoint is resumed from, and once the disk is back the rerun finishes the run;
- Snakemake itself gets SIGTERM (with its job, as from a terminal, `timeout` or systemd): the
  training job saves and stops, the finished job's output stays finished, the rerun resumes.

The SLURM side (scontrol requeue, the time-limit warning) is in tests/test_slurm.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from vero.config import deep_merge, load_config, validate_config
from vero.data.io import write_records
from vero.data.mixing import build_mix
from vero.data.veromini import generate_veromini

REPO = Path(__file__).resolve().parent.parent
TRAIN_SCRIPT = REPO / "workflow_scripts" / "train.py"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
JUDGE_MODEL = "stub-judge"


# ---- shared pieces (tests/test_slurm.py uses them too) ------------------------------------------


def write_mix(path: Path, categories, n_blocks: int = 4, seed: int = 5) -> Path:
    """A VeroMini mix built by the data stage's own mixer (blocks of one row per category)."""
    per_category = {}
    for c in categories:
        per_category[c] = path.parent / f"{path.stem}.{c}.parquet"
        write_records(per_category[c], generate_veromini(n_blocks, seed=seed, categories=[c]))
    build_mix(per_category, list(categories), n_blocks, len(categories), None, seed, path)
    return path


def demo_config(results: Path, **overrides) -> dict:
    """config/demo.yaml with short training; `overrides` are deep-merged on top."""
    raw = load_config(REPO / "config" / "demo.yaml")
    base = {
        "results_dir": str(results),
        "wandb": {"mode": "disabled", "dir": str(results / "wandb")},
        # the batch geometry the counts below are written for (the demo's own changes with the demo)
        "train": {
            "max_steps": 4,
            "save_steps": 100,
            "max_completion_length": 16,
            "batch_size": 6,
            "mini_batch_size": 6,
            "num_generations": 2,
        },
        # the tests stand in the tiny model themselves; no warm start
        "model": {"tiny": {"warm_start": {"steps": 0}}},
    }
    return validate_config(deep_merge(deep_merge(raw, base), overrides))


TRAIN_ONLY_SNAKEFILE = """
# The project's config handling and train rule as they are, without the data and model rules:
# the test writes their outputs (a mix, the tiny model) itself, which saves minutes of CPU.
include: "{repo}/rules/common.smk"
include: "{repo}/rules/envs.smk"
include: "{repo}/rules/train.smk"
"""


def train_only_workflow(results: Path, tiny_vlm_dir: Path, experiments: dict) -> Path:
    """A Snakefile with the real train rule, and the inputs it expects under `results`."""
    from vero.models.families import tiny_model_dir

    model = Path(tiny_model_dir(results, "qwen2_5_vl"))
    if not model.exists():
        shutil.copytree(tiny_vlm_dir, model)
    for name, categories in experiments.items():
        mix = results / "data" / "mix" / f"{name}.parquet"
        if not mix.exists():
            mix.parent.mkdir(parents=True, exist_ok=True)
            write_mix(mix, categories, n_blocks=4 if len(categories) > 1 else 6)  # >= one rollout batch
    snakefile = results.parent / "Snakefile"
    snakefile.write_text(TRAIN_ONLY_SNAKEFILE.format(repo=REPO))
    return snakefile


def read_log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]


def step_entries(run_dir: Path) -> list[dict]:
    return [e for e in read_log(run_dir) if "loss" in e]


def weights(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc), children first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(0), []):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for(predicate, timeout: float, what: str, proc=None, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"exited ({proc.returncode}) before {what}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


@pytest.fixture(scope="module")
def mix(tmp_path_factory):
    from vero.categories import CATEGORIES

    return write_mix(tmp_path_factory.mktemp("mix") / "mixed.parquet", CATEGORIES)


# ---- a judge endpoint in its own process -----------------------------------------------------

STUB_JUDGE = r'''
"""An OpenAI-compatible judge: /v1/models lists one model; a chat request gets a reply that depends
only on the graded response: SCORE 1..10 mostly, no SCORE for some, SCORE 11 for others."""
import hashlib, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, model, delay, record = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]


def reply_for(response):
    if response == "42":  # vero.rewards.judge.PROBE
        return '{"REASONING": "exact", "SCORE": 10}', "scored"
    h = int(hashlib.sha256(response.encode()).hexdigest(), 16)
    if h % 5 == 0:
        return "It reads fine to me.", "unparsed"
    if h % 7 == 0:
        return '{"REASONING": "better than perfect", "SCORE": 11}', "out_of_range"
    return json.dumps({"REASONING": "graded", "SCORE": 1 + h % 10}), "scored"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, obj):
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/models":
            self.send({"data": [{"id": model, "object": "model"}]})
        else:
            self.send_error(404)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        response = body["messages"][-1]["content"].split("[RESPONSE TO GRADE]\n", 1)[-1]
        time.sleep(delay)
        text, status = reply_for(response)
        with open(record, "a") as f:
            f.write(json.dumps({"status": status}) + "\n")
        self.send({"choices": [{"message": {"role": "assistant", "content": text}}]})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os; os.replace(port_file + ".tmp", port_file)
server.serve_forever()
'''


class StubJudgeProcess:
    def __init__(self, workdir: Path, delay_s: float = 0.0):
        workdir.mkdir(parents=True, exist_ok=True)
        script = workdir / "stub_judge.py"
        script.write_text(STUB_JUDGE)
        self.record = workdir / "judge_requests.jsonl"
        port_file = workdir / "port"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(port_file), JUDGE_MODEL, str(delay_s), str(self.record)],
            start_new_session=True,
        )
        try:
            wait_for(port_file.exists, 30, "the stub judge to listen", self.proc)
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{port_file.read_text()}/v1"

    def statuses(self) -> list[str]:
        if not self.record.exists():
            return []
        return [json.loads(line)["status"] for line in self.record.read_text().splitlines() if line]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def stub_judge(tmp_path):
    """Start stub judge processes (`stub_judge(name, delay_s)`); every one is stopped at teardown."""
    started: list[StubJudgeProcess] = []

    def start(name: str, delay_s: float = 0.0) -> StubJudgeProcess:
        started.append(StubJudgeProcess(tmp_path / name, delay_s))
        return started[-1]

    yield start
    for stub in started:
        stub.stop()


def judge_every_completion(reward_cfg, *, judge=None, **kwargs):
    """The training reward for these tests: the judge's score of every completion.

    It stands in for a policy whose answers are all well formatted. The Vero reward asks the judge
    only about formatted answers, which the random tiny model never writes, so with it the judge
    would never be called; everything around the reward (preflight, TrainingJudge, the counts, the
    stop signals) is the project's.
    """
    from vero.rewards import completion_text
    from vero.rewards.judge import JudgeItem, run_coroutine

    def judged_reward(prompts=None, completions=None, completion_ids=None, **columns):
        items = [
            JudgeItem(q or "", a or "", completion_text(c))
            for q, a, c in zip(columns["question"], columns["answer"], completions, strict=True)
        ]
        results = run_coroutine(judge.score_many(items))
        return [None if r is None else r.score for r in results]

    return judged_reward


DRIVER = """
# workflow_scripts/train.py as the train rule runs it, with the judged reward of tests/test_faults.py
import runpy, sys
import vero.rewards
from tests.test_faults import judge_every_completion

vero.rewards.make_trl_reward = judge_every_completion
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def judged_config(results: Path, judge_url: str, **train) -> dict:
    """Two rollout batches of 12 prompts x 2 completions, two optimizer updates each; W&B offline."""
    return demo_config(
        results,
        wandb={"mode": "offline"},
        reward={"judge": {"enabled": True, "base_url": judge_url, "model": JUDGE_MODEL, "max_concurrency": 2,
                          "timeout_s": 10, "retries": 1, "backoff_s": 0.05}},
        train={"batch_size": 12, "mini_batch_size": 6, "max_steps": 2, "save_steps": 100, **train},
    )  # fmt: skip


def train_command(cfg_json: Path, run_dir: Path, mix: Path, model: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-c", DRIVER, str(TRAIN_SCRIPT), "--config-json", str(cfg_json), "--experiment",
        "mixed", "--mix", str(mix), "--base-model", str(model), "--output-dir", str(run_dir), *extra,
    ]  # fmt: skip


def env_for_jobs(tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "WANDB_DIR": str(tmp_path / "wandb"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    env.pop("WANDB_SERVICE", None)  # set once this process has run W&B: a job would share its service
    return env


# ---- SIGTERM to every process of the job ------------------------------------------------------


@pytest.mark.slow
def test_sigterm_to_every_process_of_the_job_loses_no_step_and_the_resumed_run_is_exact(
    tiny_vlm_dir, mix, tmp_path, monkeypatch, stub_judge
):
    """What SLURM does at preemption or requeue: SIGTERM to each process of the job step. Here W&B's
    service goes first, then the judge server, in the middle of a rollout batch's judging; then the
    trainer. The step that was being scored cannot finish (its judge is gone), yet every finished step
    is kept; the rerun resumes and ends exactly where an uninterrupted run ends."""
    import vero.rewards
    from vero.train import run_experiment

    # the uninterrupted run, in this process
    stub = stub_judge("judge-u")
    monkeypatch.setattr(vero.rewards, "make_trl_reward", judge_every_completion)
    cfg_u = judged_config(tmp_path / "u", stub.url)
    run_experiment(cfg_u, "mixed", tmp_path / "u" / "run", mix, tiny_vlm_dir)
    served_u = stub.statuses()
    stub.stop()
    ref = step_entries(tmp_path / "u" / "run")
    assert [e["step"] for e in ref] == [1, 2, 3, 4]
    # two rollout batches of 24 completions, each judged once (+ the preflight probe)
    assert len(served_u) == 1 + 48 and {"unparsed", "out_of_range"} <= set(served_u)
    counted = {k: sum(e.get(f"judge_{k}", 0) for e in ref) for k in ("requests", "unparsed", "out_of_range")}
    assert counted == {
        "requests": 48,
        "unparsed": served_u.count("unparsed"),
        "out_of_range": served_u.count("out_of_range"),
    }

    # the same run through workflow_scripts/train.py, W&B on, killed while batch 2 is judged
    stub = stub_judge("judge-i", delay_s=0.25)
    cfg_i = judged_config(tmp_path / "i", stub.url)
    cfg_json = tmp_path / "i" / "resolved_config.json"
    cfg_json.parent.mkdir(parents=True, exist_ok=True)
    cfg_json.write_text(json.dumps(cfg_i))
    run_dir = tmp_path / "i" / "run"
    cmd = train_command(cfg_json, run_dir, mix, Path(tiny_vlm_dir))
    env = env_for_jobs(tmp_path)
    job = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(stub.statuses()) >= 1 + 24 + 4, 240, "the second rollout batch's judging", job)
        wandb_core = [p for p in descendants(job.pid) if "wandb-core" in cmdline(p)]
        assert wandb_core, "W&B's service is not running under the job"
        for pid in wandb_core:  # W&B's service first (it runs in its own session)...
            os.kill(pid, signal.SIGTERM)
        time.sleep(0.5)
        os.killpg(stub.proc.pid, signal.SIGTERM)  # ...then the judge server...
        stub.proc.wait(timeout=10)
        os.killpg(job.pid, signal.SIGTERM)  # ...then the trainer and everything in its group
        _, stderr = job.communicate(timeout=240)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    assert job.returncode == 143, stderr[-4000:]
    assert "stopped by SIGTERM" in stderr and "failed after the request (JudgeUnavailable" in stderr
    assert "Traceback" not in stderr.split("train: mixed: stopped by SIGTERM", 1)[1]  # a clean exit
    assert (run_dir / "checkpoint-2" / "trainer_state.json").is_file()
    assert not (run_dir / "final").exists() and not list(run_dir.glob("checkpoint-[34]"))

    # the rerun: a fresh process and a fresh judge, as a requeued job
    stub = stub_judge("judge-r")
    cfg_i["reward"]["judge"]["base_url"] = stub.url
    cfg_json.write_text(json.dumps(cfg_i))
    rerun = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    starts = json.loads((run_dir / "run_info.json").read_text())["starts"]
    assert [s["start_step"] for s in starts] == [0, 2]
    resumed = step_entries(run_dir)
    assert [e["step"] for e in resumed] == [1, 2, 3, 4]  # each step once, none lost
    keys = ("reward", "reward_std", "loss", "grad_norm", "completions/mean_length", "judge_unparsed")
    assert [{k: e.get(k) for k in keys} for e in resumed] == [{k: e.get(k) for k in keys} for e in ref]
    final_u, final_r = weights(tmp_path / "u" / "run" / "final"), weights(run_dir / "final")
    assert final_u.keys() == final_r.keys()
    assert all((final_u[k] == final_r[k]).all() for k in final_u), "the resumed run's weights differ"
    # both starts logged to one W&B run
    run_id = (run_dir / "wandb_run_id.txt").read_text().strip()
    offline = list((tmp_path / "i" / "wandb" / "wandb").glob("offline-run-*"))
    assert len(offline) == 2 and all(p.name.endswith(f"-{run_id}") for p in offline)


# ---- the judge: preflight, and replies without a usable score ---------------------------------


class _Endpoint:
    """A judge endpoint in this process: `models` for GET /v1/models (None: 404), `reply` for chats,
    `hang` to accept connections and never answer."""

    def __init__(self, models=(JUDGE_MODEL,), reply='{"SCORE": 9}', hang=False, status=200):
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if endpoint.hang:
                    time.sleep(30)
                if endpoint.models is None:
                    self._send(404, {})
                else:
                    self._send(endpoint.status, {"data": [{"id": m} for m in endpoint.models]})

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                self._send(200, {"choices": [{"message": {"content": endpoint.reply}}]})

        self.models, self.reply, self.hang, self.status = models, reply, hang, status
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


@pytest.mark.parametrize(
    ("endpoint", "error", "message"),
    [
        ({"dead": True}, "JudgeUnavailable", "did not answer GET /models"),
        ({"hang": True}, "JudgeUnavailable", "did not answer GET /models"),
        ({"status": 401}, "JudgeError", "refused the key"),
        ({"models": ("another-model",)}, "JudgeError", "not the configured model 'stub-judge'"),
        ({"reply": "Looks right."}, "JudgeError", "no usable score (unparsed"),
        ({"reply": '{"SCORE": 11}'}, "JudgeError", "no usable score (out_of_range, SCORE 11)"),
    ],
    ids=["dead", "hung", "bad-key", "wrong-model", "unparseable", "out-of-range"],
)
def test_preflight_names_the_endpoint_and_what_is_wrong(endpoint, error, message):
    from vero.rewards import judge as J

    server = None if endpoint.get("dead") else _Endpoint(**endpoint)
    url = _closed_port_url() if server is None else server.url
    client = J.JudgeClient(url, JUDGE_MODEL, timeout_s=2, retries=0, backoff_s=0.01)
    try:
        start = time.monotonic()
        with pytest.raises(getattr(J, error)) as err:
            J.preflight(client, health_timeout_s=0.5)
        assert url in str(err.value) and message in str(err.value)
        assert time.monotonic() - start < 10
    finally:
        if server is not None:
            server.close()


def test_preflight_passes_a_working_judge_even_without_a_model_list():
    from vero.rewards import judge as J

    server = _Endpoint(models=None, reply='{"REASONING": "same", "SCORE": 10}')
    try:
        report = J.preflight(J.JudgeClient(server.url, JUDGE_MODEL, retries=0))
        assert report.models is None and report.probe.raw_score == 10 and report.probe.scored
    finally:
        server.close()


def test_the_default_judge_settings_fail_a_dead_or_hung_judge_within_a_minute():
    from vero.rewards import JudgeClient

    judge = JudgeClient.from_config(load_config(REPO / "config" / "demo.yaml")["reward"]["judge"])
    assert judge.seconds_to_fail < 60
    paper = JudgeClient.from_config(load_config(REPO / "config" / "config.yaml")["reward"]["judge"])
    assert paper.seconds_to_fail > 60  # the paper waits longer for a loaded 32B judge, with a comment


def test_a_dead_judge_fails_the_training_job_before_the_model_is_loaded(mix, tmp_path):
    """The mix has judge-type rows (captioning_if), so the job checks the judge first; the base model
    path does not even exist: the judge's error comes before anything would load it."""
    from vero.rewards.judge import JudgeUnavailable
    from vero.train import run_experiment

    url = _closed_port_url()
    cfg = demo_config(tmp_path, reward={"judge": {"enabled": True, "base_url": url, "model": JUDGE_MODEL}})
    start = time.monotonic()
    with pytest.raises(JudgeUnavailable, match=url.replace(".", r"\.")):
        run_experiment(cfg, "mixed", tmp_path / "run", mix, tmp_path / "no-such-model")
    assert time.monotonic() - start < 60
    assert not list((tmp_path / "run").glob("checkpoint-*"))


def test_training_leaves_unscored_judge_replies_out_of_the_loss_and_counts_them():
    """TrainingJudge in the Vero reward: a reply without a usable score gives the sample no reward
    (TRL leaves it out of the loss), never a 0 or a 1."""
    from vero.rewards import make_trl_reward
    from vero.rewards.judge import JudgeClient, TrainingJudge

    server = _Endpoint()
    try:
        judge = TrainingJudge(JudgeClient(server.url, JUDGE_MODEL, retries=0))
        reward = make_trl_reward({"judge": {"enabled": True}}, coords="absolute", max_completion_tokens=None,
                                 judge=judge)  # fmt: skip
        formatted = "<think>I look.</think><answer>A red circle.</answer>"
        kwargs = {"reward_type": ["llm_judge"] * 3, "answer": ["A red circle."] * 3, "question": ["q"] * 3}
        for reply, expected in [
            ('{"SCORE": 10}', "scored"),
            ("fine", "unparsed"),
            ('{"SCORE": 11}', "out_of_range"),
        ]:
            server.reply = reply
            rewards = reward(completions=[formatted] * 3, completion_ids=[[1, 2]] * 3, **kwargs)
            counts = judge.take_counts()
            assert counts["judge_requests"] == 3
            if expected == "scored":
                assert rewards == [pytest.approx(1.0)] * 3
                assert counts["judge_unparsed"] == counts["judge_out_of_range"] == 0
            else:
                assert rewards == [None, None, None]
                assert counts[f"judge_{expected}"] == 3
    finally:
        server.close()


# ---- disk full, then read-only results --------------------------------------------------------

DISK_DRIVER = r"""
set -u
# In a private mount namespace: the run directory on a 32 MB tmpfs, gone when this script ends.
RUN_ROOT=$1 OUT=$2; shift 2
mount -t tmpfs -o size=32m tmpfs "$RUN_ROOT" || exit 97
mkdir -p "$RUN_ROOT/logs"
train() { "$@" --error-fd 3 3>&2 > "$RUN_ROOT/logs/train.log" 2>&1; }  # the train rule's redirections

# 1. the disk fills up after the first checkpoint (something else on the node writes a big file)
train "$@" &
job=$!
first="$RUN_ROOT/run/checkpoint-2/trainer_state.json"
while [ ! -s "$first" ] && kill -0 $job 2>/dev/null; do sleep 0.02; done
avail=$(df --output=avail -B1 "$RUN_ROOT" | tail -1)
fallocate -l $((avail - 192 * 1024)) "$RUN_ROOT/filler"
wait $job; echo $? > "$OUT/status_full"
ls "$RUN_ROOT/run" > "$OUT/after_full.txt"
cp "$RUN_ROOT/logs/train.log" "$OUT/log_full.txt"
# 2. space is back but the results are read-only: the job log cannot be opened (the shell says
# so), and with the log elsewhere the trainer's first write fails
rm -f "$RUN_ROOT/filler"
mount -o remount,ro "$RUN_ROOT"
train "$@"; echo $? > "$OUT/status_ro_log"
"$@" --error-fd 3 3>&2 > "$OUT/log_ro.txt" 2>&1; echo $? > "$OUT/status_ro"
# 3. writable again: the rerun finishes the run
mount -o remount,rw "$RUN_ROOT"
train "$@"; echo $? > "$OUT/status_ok"
cp -r "$RUN_ROOT/run" "$OUT/run"
"""


def _private_mount_namespace() -> list[str] | None:
    """`unshare` arguments for a private mount namespace in which this user may mount a tmpfs, or
    None. Root needs only the mount namespace; others a user namespace too (if the kernel allows)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    for args in ([unshare, "--mount", "--propagation", "private"], [unshare, "--map-root-user", "--mount"]):
        probe = subprocess.run(
            [*args, "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs $d && umount $d"],
            capture_output=True,
            timeout=30,
        )
        if probe.returncode == 0:
            return args
    return None


@pytest.mark.slow
def test_disk_full_and_read_only_results_name_the_path_and_the_rerun_recovers(tiny_vlm_dir, mix, tmp_path):
    namespace = _private_mount_namespace()
    if namespace is None:
        pytest.skip("cannot mount a tmpfs in a private mount namespace here (unshare --mount not permitted)")
    run_root, out = tmp_path / "mnt", tmp_path / "out"
    run_root.mkdir()
    out.mkdir()
    cfg = demo_config(run_root, train={"max_steps": 6, "save_steps": 2})
    cfg_json = tmp_path / "resolved_config.json"
    cfg_json.write_text(json.dumps(cfg))
    train = [sys.executable, str(TRAIN_SCRIPT), "--config-json", str(cfg_json), "--experiment", "mixed",
             "--mix", str(mix), "--base-model", str(tiny_vlm_dir),
             "--output-dir", str(run_root / "run")]  # fmt: skip
    done = subprocess.run(
        [*namespace, "bash", "-c", DISK_DRIVER, "disk", str(run_root), str(out), *train],
        cwd=REPO, env=env_for_jobs(tmp_path), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0 and (out / "status_ok").exists(), done.stdout + done.stderr[-4000:]
    status = {k: int((out / f"status_{k}").read_text()) for k in ("full", "ro", "ok")}
    errors = [line for line in done.stderr.splitlines() if line.startswith("train: ")]

    # 1. disk full: the failing path and the reason reach Snakemake's stderr (fd 3)
    assert status["full"] == 1, done.stderr[-4000:]
    full = next(line for line in errors if "No space left on device" in line)
    assert str(run_root / "run") in full
    left = (out / "after_full.txt").read_text().split()
    complete = sorted(d for d in left if d.startswith("checkpoint-"))
    assert complete == ["checkpoint-2"], left  # the partial checkpoint was removed

    # 2. read-only: the job log cannot be opened, and the message says which file; with the log
    # elsewhere the trainer's first write fails and names its file
    assert int((out / "status_ro_log").read_text()) != 0
    assert f"{run_root}/logs/train.log: Read-only file system" in done.stderr
    assert status["ro"] == 1
    assert any("Read-only file system" in line and str(run_root / "run") in line for line in errors), errors

    # 3. the rerun resumes from the newest complete checkpoint and finishes
    assert status["ok"] == 0, done.stderr[-4000:]
    run_dir = out / "run"
    starts = [s["start_step"] for s in json.loads((run_dir / "run_info.json").read_text())["starts"]]
    assert starts[0] == 0 and starts[-1] == 2
    assert [e["step"] for e in step_entries(run_dir)] == [1, 2, 3, 4, 5, 6]
    assert json.loads((run_dir / "final" / "train_summary.json").read_text())["global_step"] == 6


def test_an_incomplete_checkpoint_is_never_resumed_from(tmp_path):
    from vero.train.run import latest_checkpoint

    for step, state in [(2, {"global_step": 2}), (4, {"global_step": 4}), (6, None), (8, "cut")]:
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        if state == "cut":
            (d / "trainer_state.json").write_text('{"global_step": 8, "log_hist')  # a save cut short
        elif state is not None:
            (d / "trainer_state.json").write_text(json.dumps(state))
    assert latest_checkpoint(tmp_path) == str(tmp_path / "checkpoint-4")


def test_a_failed_checkpoint_write_names_the_directory_and_the_reason(tmp_path):
    import errno

    from vero.train.trainer import describe_write_failure

    target = tmp_path / "run" / "checkpoint-4"
    target.mkdir(parents=True)
    erofs = OSError(errno.EROFS, "Read-only file system", str(target / "optimizer.pt"))
    assert (
        describe_write_failure(target, erofs) == f"{target}/optimizer.pt: Read-only file system ([Errno 30])"
    )
    # torch.save's C++ stream error says nothing; the message still names the directory
    cpp = RuntimeError("basic_ios::clear: iostream error")
    assert describe_write_failure(target, cpp).startswith(f"{target}: RuntimeError: basic_ios::clear")


# ---- Snakemake interrupted --------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_to_snakemake_and_its_jobs_keeps_finished_outputs_and_the_rerun_resumes(
    tiny_vlm_dir, tmp_path
):
    """`timeout`, systemd or a terminal's job control send SIGTERM to Snakemake's whole process
    group. A short experiment has finished by then, a longer one is training: the latter saves and
    stops, its reason is on Snakemake's stderr; afterwards only the interrupted job is scheduled,
    and the rerun resumes it from its checkpoint."""
    from vero.categories import CATEGORIES

    results = tmp_path / "results"
    experiments = {"mixed": list(CATEGORIES), "single_stem": ["stem"]}
    snakefile = train_only_workflow(results, tiny_vlm_dir, experiments)
    cfg = demo_config(
        results,
        train={"max_steps": 16, "save_steps": 100},
        experiments={"single_stem": {"train": {"max_steps": 1}}},
        analysis={"skills": {"experiments": ["mixed"]}},
    )
    cfg["experiments"] = {k: v for k, v in cfg["experiments"].items() if k in experiments}
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    finals = [results / "runs" / name / "final" for name in experiments]
    cmd = [str(SNAKEMAKE), "--snakefile", str(snakefile), "--profile", str(REPO / "profiles" / "local"),
           "--configfile", str(cfg_file), "--cores", "2", "--nolock", "--", *map(str, finals)]  # fmt: skip
    env = env_for_jobs(tmp_path)
    run_dir = results / "runs" / "mixed"
    snakemake = subprocess.Popen(
        cmd, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        wait_for(
            lambda: (
                finals[1].exists()
                and (run_dir / "train_log.jsonl").exists()
                and len(step_entries(run_dir)) >= 2
            ),
            300,
            "single_stem to finish and mixed to train",
            snakemake,
            interval=0.2,
        )
        os.killpg(snakemake.pid, signal.SIGTERM)
        output, _ = snakemake.communicate(timeout=240)
    finally:
        if snakemake.poll() is None:
            os.killpg(snakemake.pid, signal.SIGKILL)
            snakemake.wait()
    # Snakemake waits for its job, which saves and stops; its reason shows next to Snakemake's error
    assert snakemake.returncode != 0
    reason = next(line for line in output.splitlines() if line.startswith("train: mixed: stopped by SIGTERM"))
    step = int(reason.split(" at step ")[1].split(";")[0])
    assert (run_dir / f"checkpoint-{step}" / "trainer_state.json").is_file()
    assert not finals[0].exists()

    dry_cmd = [*cmd[:-3], "--dry-run", "--", *map(str, finals)]
    dry = subprocess.run(dry_cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr[-3000:]
    # mixed only: single_stem's output stays finished
    assert re.findall(r"wildcards: experiment=(\w+)", dry.stdout) == ["mixed"], dry.stdout

    rerun = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    starts = json.loads((run_dir / "run_info.json").read_text())["starts"]
    assert [s["start_step"] for s in starts] == [0, step]
    assert [e["step"] for e in step_entries(run_dir)] == list(range(1, 17))
    assert json.loads((results / "runs" / "single_stem" / "run_info.json").read_text())["starts"] == [
        {"start_step": 0, "resumed_from": None}
    ]


def test_the_train_rule_runs_the_trainer_itself_and_gives_it_snakemakes_stderr():
    """`exec`: no shell between Snakemake and the trainer that a stop signal could kill first;
    fd 3 = Snakemake's stderr for the error line (workflow_scripts/train.py --error-fd)."""
    rule = (REPO / "rules" / "train.smk").read_text()
    shell = rule.split("rule train_experiment:", 1)[1].split("shell:", 1)[1]
    assert "exec python workflow_scripts/train.py --config-json" in shell
    assert "--error-fd 3 3>&2 > {log} 2>&1" in shell


def test_stop_signals_are_safe_to_send_to_every_process_of_a_job():
    """SIGURG, the profile's early warning, is ignored by default by every program a job runs
    (Python, Snakemake, bash, vLLM, W&B's service) except the trainer, which handles it."""
    code = "import signal; print(signal.getsignal(signal.SIGURG) is signal.SIG_DFL)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "True"
    )
    out = subprocess.run(
        ["bash", "-c", "kill -URG $$; echo still here"], capture_output=True, text=True, timeout=30
    )
    assert out.stdout.strip() == "still here"
    from vero.train.trainer import STOP_SIGNALS

    assert {signal.SIGTERM, signal.SIGUSR1, signal.SIGINT, signal.SIGURG} <= set(STOP_SIGNALS)


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGURG, signal.SIGINT])
def test_every_stop_signal_stops_at_the_rollout_boundary(sig):
    """PreemptionCallback: the request waits for the end of the rollout batch (2 updates here)."""
    from transformers import TrainerControl, TrainerState

    from vero.train.trainer import PreemptionCallback

    cb = PreemptionCallback(updates_per_batch=2)
    previous = signal.getsignal(sig)
    cb.install()
    try:
        os.kill(os.getpid(), sig)
        time.sleep(0.05)
        state, control = TrainerState(), TrainerControl()
        state.max_steps = 10
        for step, stops in [(3, False), (4, True)]:
            state.global_step = step
            cb.on_step_end(None, state, control)
            assert control.should_training_stop is stops and control.should_save is stops
        assert cb.signal_name == signal.Signals(sig).name
    finally:
        cb.restore()
    assert signal.getsignal(sig) == previous


def test_training_script_reports_a_config_error_on_the_error_fd(tmp_path):
    bad = tmp_path / "resolved_config.json"
    bad.write_text(json.dumps({"results_dir": str(tmp_path), "train": {"learning_rate": "fast"}}))
    read, write = os.pipe()
    proc = subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), "--config-json", str(bad), "--experiment", "mixed", "--mix", "m",
         "--base-model", "b", "--output-dir", str(tmp_path / "run"), "--error-fd", str(write)],
        cwd=REPO, env=env_for_jobs(tmp_path), capture_output=True, text=True, timeout=120, pass_fds=(write,),
    )  # fmt: skip
    os.close(write)
    with os.fdopen(read) as f:
        side = f.read()
    assert proc.returncode == 1
    assert side.startswith("train: ") and "config key" in side and side.strip() in proc.stderr


@pytest.fixture(autouse=True)
def _no_leftover_signal_handlers():
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT, signal.SIGURG)}
    yield
    assert {s: signal.getsignal(s) for s in before} == before
