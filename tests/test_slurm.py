"""Workflows through sbatch on a real one-node SLURM cluster on localhost (scripts/local_slurm).

The cluster has fake GPUs (GRES backed by character devices), so jobs request --gpus exactly as
on a GPU cluster and see CUDA_VISIBLE_DEVICES. It is started once for this module and stopped
in a finally, pass, fail or interrupt (Ctrl-C, or SIGTERM to pytest); stopping puts back what
/etc/slurm held before, which the module's last test checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
START = REPO / "scripts" / "local_slurm" / "start.sh"
STOP = REPO / "scripts" / "local_slurm" / "stop.sh"
CI_PROFILE = REPO / "profiles" / "ci-slurm"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
FAKE_GPUS = 2


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


ETC_SLURM = Path("/etc/slurm")


def etc_slurm_state() -> dict:
    """What /etc/slurm holds where the local cluster links its config: a link's target, a file's
    bytes, or None (absent)."""
    state = {}
    for name in ("slurm.conf", "gres.conf"):
        p = ETC_SLURM / name
        state[name] = ("link", os.readlink(p)) if p.is_symlink() else p.read_bytes() if p.exists() else None
    return state


@pytest.fixture(scope="module")
def etc_slurm_before():
    """/etc/slurm as it was before this module started a cluster (SLURM's packages installed)."""
    return etc_slurm_state()


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory, etc_slurm_before):
    """A running local cluster for this module; stopped afterwards whatever happened. SIGTERM to
    pytest becomes KeyboardInterrupt meanwhile, so the stop runs then too."""
    env = {
        **os.environ,
        "LOCAL_SLURM_DIR": str(tmp_path_factory.mktemp("local-slurm")),
        "FAKE_GPUS": str(FAKE_GPUS),
        # more CPU slots than cores: the demo's many one-CPU jobs run side by side
        "LOCAL_SLURM_CPUS": "8",
    }

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        started = _run(["bash", str(START)], env=env, timeout=300)
        if started.returncode == 3:
            pytest.skip(f"no local SLURM: {started.stderr.strip()} (make test installs it as root)")
        assert started.returncode == 0, f"local cluster did not start:\n{started.stdout}\n{started.stderr}"
        yield env
    finally:
        stopped = _run(["bash", str(STOP)], env=env, timeout=180)
        print(stopped.stdout, stopped.stderr)
        signal.signal(signal.SIGTERM, previous)


def job_record(job_id: str) -> str:
    """`scontrol show job` of a finished job (kept MinJobAge seconds by the local cluster)."""
    out = _run(["scontrol", "show", "job", job_id])
    assert out.returncode == 0, out.stderr
    return out.stdout


def job_ids_from_slurm_logs(logdir: Path) -> dict[str, list[str]]:
    """rule name -> SLURM job ids, from the executor's per-job logs (LOGDIR/rule_X/.../ID.log)."""
    ids: dict[str, list[str]] = {}
    for log in logdir.rglob("*.log"):
        rule = next(p.name.removeprefix("rule_") for p in log.parents if p.name.startswith("rule_"))
        ids.setdefault(rule, []).append(log.stem)
    return ids


def snakemake_slurm(args, *, cwd: Path, env: dict, logdir: Path, timeout: int = 600):
    return _run(
        [str(SNAKEMAKE), "--profile", str(CI_PROFILE), "--slurm-logdir", str(logdir), *args],
        cwd=cwd,
        env={**env, "PATH": f"{SNAKEMAKE.parent}:{env.get('PATH', '')}"},
        timeout=timeout,
    )


SANITY_WORKFLOW = textwrap.dedent(
    """
    rule all:
        input:
            "summary.txt",
            "srun_launch.txt",


    # the multi-node training recipe (config/config.yaml): the job starts its own tasks with srun,
    # one per node, instead of Snakemake wrapping it in `srun -n1`
    rule srun_launcher:
        output:
            "srun_launch.txt",
        log:
            "logs/srun_launcher.log",
        resources:
            nodes=1,
            gpu=2,
            tasks=2,
            tasks_per_gpu=0,
            mpi="srun",
            mem_mb=300,
            runtime=5,
        shell:
            "srun --nodes 1 --ntasks 1 --ntasks-per-node 1 --kill-on-bad-exit=1"
            " bash -c 'echo job=$SLURM_JOB_ID node=$SLURM_NODEID gpus=$CUDA_VISIBLE_DEVICES'"
            " > {output} 2> {log}"


    rule on_gpu:
        output:
            "gpu.txt",
        log:
            "logs/on_gpu.log",
        resources:
            gpu=1,
            mem_mb=300,
            runtime=5,
        shell:
            "echo job=$SLURM_JOB_ID gpus=$CUDA_VISIBLE_DEVICES > {output} 2> {log}"


    rule after:
        input:
            "gpu.txt",
        output:
            "summary.txt",
        log:
            "logs/after.log",
        resources:
            mem_mb=300,
            runtime=5,
        shell:
            "(cat {input}; echo job=$SLURM_JOB_ID) > {output} 2> {log}"


    rule broken:
        output:
            "never.txt",
        log:
            "logs/broken.log",
        resources:
            mem_mb=200,
            runtime=2,
        shell:
            "echo about to fail > {log}; exit 3"
    """
)


def test_workflow_runs_through_sbatch_with_a_gpu_and_a_failing_job_fails_it(slurm_cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(SANITY_WORKFLOW)
    done = snakemake_slurm(
        ["--keep-going", "all", "never.txt"],
        cwd=tmp_path,
        env=slurm_cluster,
        logdir=tmp_path / "slurm_logs",
        timeout=300,
    )
    # the broken job fails the run; the independent chain still completes
    assert done.returncode != 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert not (tmp_path / "never.txt").exists()
    assert (tmp_path / "logs" / "broken.log").read_text().strip() == "about to fail"

    gpu_line, after_line = (tmp_path / "summary.txt").read_text().splitlines()
    gpu_job = re.fullmatch(r"job=(\d+) gpus=(\S+)", gpu_line)
    after_job = re.fullmatch(r"job=(\d+)", after_line)
    assert gpu_job and after_job, (gpu_line, after_line)
    assert gpu_job.group(1) != after_job.group(1), "each rule is its own SLURM job"
    # the GPU job saw exactly one (fake) device; the plugin asked for it with --gpus=1
    assert len(gpu_job.group(2).split(",")) == 1
    assert re.search(r"TresPerJob=gres:gpu:1\b", job_record(gpu_job.group(1)))
    assert "gres:gpu" not in job_record(after_job.group(1))
    assert "JobState=COMPLETED" in job_record(after_job.group(1))

    launched = re.fullmatch(
        r"job=(\d+) node=0 gpus=(\S+)", (tmp_path / "srun_launch.txt").read_text().strip()
    )
    assert launched and len(launched.group(2).split(",")) == 2
    record = job_record(launched.group(1))
    assert "NumTasks=2" in record and re.search(r"TresPerJob=gres:gpu:2\b", record)


RESUMABLE_WORKFLOW = textwrap.dedent(
    """
    rule resumable:
        output:
            "done.txt",
        log:
            "logs/resumable.log",
        resources:
            mem_mb=200,
            runtime=10,
        shell:
            # like training: progress lives in a checkpoint beside the declared output
            "if [ -e checkpoint ]; then"
            " echo resumed job=$SLURM_JOB_ID > {output};"
            " else echo $SLURM_JOB_ID > checkpoint; sleep 300; fi 2> {log}"
    """
)


def test_requeued_job_restarts_and_resumes_from_its_checkpoint(slurm_cluster, tmp_path):
    """What preemption does to a training job (sbatch --requeue, PreemptMode=REQUEUE): SLURM kills
    it and queues the same job again; Snakemake keeps waiting and the rerun resumes."""
    (tmp_path / "Snakefile").write_text(RESUMABLE_WORKFLOW)
    cmd = [str(SNAKEMAKE), "--profile", str(CI_PROFILE), "--slurm-logdir", str(tmp_path / "sl"), "done.txt"]
    env = {**slurm_cluster, "PATH": f"{SNAKEMAKE.parent}:{slurm_cluster.get('PATH', '')}"}
    with open(tmp_path / "snakemake.out", "w") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        checkpoint = tmp_path / "checkpoint"
        deadline = time.monotonic() + 180
        while not (checkpoint.exists() and checkpoint.read_text().strip()):
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "snakemake.out"
            ).read_text()
            time.sleep(0.5)
        job_id = checkpoint.read_text().strip()
        assert _run(["scontrol", "requeue", job_id]).returncode == 0
        # a requeued job waits ~2 min before it is eligible again; make it eligible now
        while "Reason=BeginTime" not in job_record(job_id):
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert _run(["scontrol", "update", f"jobid={job_id}", "StartTime=now"]).returncode == 0
        assert proc.wait(timeout=480) == 0, (tmp_path / "snakemake.out").read_text()[-4000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (tmp_path / "done.txt").read_text().split() == ["resumed", f"job={job_id}"]
    assert "Restarts=1" in job_record(job_id)


GPU_RULES = ("train_experiment", "eval_checkpoint")  # the demo evaluates a checkpoint in one job


def test_demo_slice_data_train_eval_runs_through_sbatch(slurm_cluster, tmp_path):
    """data -> one training run -> its evaluation on the experiment's own benchmark, from
    config/demo.yaml, every job through sbatch; training and evaluation ask for one GPU each."""
    from vero.config import load_config
    from vero.eval.registry import suite_benchmarks

    (benchmark,) = [
        b for b in suite_benchmarks(load_config(REPO / "config" / "demo.yaml")) if b.endswith("stem")
    ]
    results = tmp_path / "results"
    target = results / "eval" / "single_stem" / "final" / f"{benchmark}.json"
    logdir = tmp_path / "slurm_logs"
    args = [
        "--configfile",
        str(REPO / "config" / "demo.yaml"),
        "--config",
        f"results_dir={results}",
        # the repository is the working directory (rules call workflow_scripts/ relative to it);
        # outputs go to a temporary results_dir, so do not lock the tree against other runs
        "--nolock",
        # GPU requests as on a GPU cluster (resources.<rule>.gpu); the demo config has none
        "--set-resources",
        *[f"{rule}:gpu=1" for rule in GPU_RULES],
        "--",
        str(target),
    ]
    done = snakemake_slurm(args, cwd=REPO, env=slurm_cluster, logdir=logdir, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-6000:]
    summary = json.loads(target.read_text())
    assert summary["n"] > 0
    assert (results / "runs" / "single_stem" / "final").is_dir()

    ids = job_ids_from_slurm_logs(logdir)
    assert {"data_raw", "data_filter", "data_mix", *GPU_RULES} <= set(ids), ids
    for rule, job_ids in ids.items():
        records = [job_record(j) for j in job_ids]
        assert all("JobState=COMPLETED" in r for r in records), rule
        with_gpu = [bool(re.search(r"TresPerJob=gres:gpu:1\b", r)) for r in records]
        assert all(with_gpu) if rule in GPU_RULES else not any(with_gpu), rule


def test_cluster_is_stoppable_and_stop_is_idempotent(tmp_path):
    """stop.sh on a directory with no cluster says so and succeeds (the finally path)."""
    if not shutil.which("bash"):
        pytest.skip("no bash")
    out = _run(["bash", str(STOP)], env={**os.environ, "LOCAL_SLURM_DIR": str(tmp_path)}, timeout=30)
    assert out.returncode == 0 and "not running" in out.stdout


# ---- preemption of a training job --------------------------------------------------------------


def wait_until(predicate, timeout: float, what: str, proc, log: Path, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(
                f"snakemake exited ({proc.returncode}) before {what}:\n{log.read_text()[-4000:]}"
            )
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{log.read_text()[-4000:]}"
        time.sleep(interval)


def restart_now(job_id: str, timeout: float = 180) -> None:
    """A requeued job waits ~2 min before it is eligible again; make it eligible now."""
    deadline = time.monotonic() + timeout
    while "Reason=BeginTime" not in job_record(job_id):
        assert time.monotonic() < deadline, job_record(job_id)
        time.sleep(0.5)
    assert _run(["scontrol", "update", f"jobid={job_id}", "StartTime=now"]).returncode == 0


def test_a_preempted_training_job_keeps_every_finished_step_and_resumes(
    slurm_cluster, tiny_vlm_dir, tmp_path
):
    """The project's train rule through sbatch (profiles/ci-slurm). SLURM requeues the running job
    (`scontrol requeue`: SIGTERM to every process of the job, W&B's service included, as at
    preemption), then gives it the time-limit warning the profile asks for (SIGURG). Each time the
    trainer saves a checkpoint at the end of its step; the job comes back under the same id (the
    second time it requeues itself) and resumes; Snakemake, waiting all along, ends with success."""
    import yaml

    from tests.test_faults import demo_config, step_entries, train_only_workflow
    from vero.categories import CATEGORIES

    results = tmp_path / "results"
    snakefile = train_only_workflow(results, tiny_vlm_dir, {"mixed": list(CATEGORIES)})
    cfg = demo_config(
        results,
        train={"max_steps": 16, "save_steps": 100},
        wandb={"mode": "offline"},
        analysis={"skills": {"experiments": ["mixed"]}},
    )
    cfg["experiments"] = {"mixed": cfg["experiments"]["mixed"]}
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    run_dir, logdir = results / "runs" / "mixed", tmp_path / "slurm_logs"
    job_log = results / "logs" / "train_experiment" / "mixed.log"
    env = {**slurm_cluster, "PATH": f"{SNAKEMAKE.parent}:{slurm_cluster.get('PATH', '')}"}
    env.pop("WANDB_SERVICE", None)
    out = tmp_path / "snakemake.out"
    cmd = [str(SNAKEMAKE), "--profile", str(CI_PROFILE), "--slurm-logdir", str(logdir),
           "--snakefile", str(snakefile), "--configfile", str(cfg_file), "--nolock",
           "--", str(run_dir / "final")]  # fmt: skip

    def logged() -> int:
        return len(step_entries(run_dir)) if (run_dir / "train_log.jsonl").exists() else 0

    def starts() -> list[dict]:
        info = run_dir / "run_info.json"
        return json.loads(info.read_text())["starts"] if info.exists() else []

    with open(out, "w") as f:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)
    try:
        # 1. preemption: SIGTERM to the whole job
        wait_until(lambda: logged() >= 2, 300, "two training steps", proc, out)
        (job_id,) = job_ids_from_slurm_logs(logdir)["train_experiment"]
        done_before = logged()
        assert _run(["scontrol", "requeue", job_id]).returncode == 0
        restart_now(job_id)
        first_log = job_log.read_text()
        resumed = lambda: len(starts()) == 2 and logged() > starts()[1]["start_step"]  # noqa: E731
        wait_until(resumed, 300, "the resumed job's steps", proc, out)
        # 2. the time-limit warning: the job saves, stops and puts itself back in the queue
        done_before_warning = logged()
        assert _run(["scancel", "--signal=URG", job_id]).returncode == 0
        restart_now(job_id)
        second_log = job_log.read_text()
        assert proc.wait(timeout=700) == 0, out.read_text()[-6000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert "stopped by SIGTERM" in first_log and "checkpoint-" in first_log, first_log[-3000:]
    assert "stopped by SIGURG" in second_log, second_log[-3000:]
    assert f"SLURM job {job_id} requeued" in second_log, second_log[-3000:]
    first, second = starts()[1]["start_step"], starts()[2]["start_step"]
    assert [s["start_step"] for s in starts()] == [0, first, second]
    assert first >= done_before and second >= done_before_warning  # no finished step lost
    assert [e["step"] for e in step_entries(run_dir)] == list(range(1, 17))  # each step once
    assert json.loads((run_dir / "final" / "train_summary.json").read_text())["global_step"] == 16
    record = job_record(job_id)
    assert "Restarts=2" in record and "JobState=COMPLETED" in record


def test_stopping_the_cluster_puts_etc_slurm_back(slurm_cluster, etc_slurm_before):
    """Last test of the module: stop the cluster (the fixture's stop then finds nothing to do).
    /etc/slurm is as before, so SLURM clients and Snakemake's SLURM plugin no longer wait on the
    stopped controller (measured: `snakemake --version` 6.4 s -> 15.9 s with the links left)."""
    ours = Path(slurm_cluster["LOCAL_SLURM_DIR"]) / "etc" / "slurm.conf"
    assert ETC_SLURM.joinpath("slurm.conf").resolve() == ours
    stopped = _run(["bash", str(STOP)], env=slurm_cluster, timeout=180)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr
    assert etc_slurm_state() == etc_slurm_before
    if etc_slurm_before["slurm.conf"] is None:
        # no config at all: the client gives up at once instead of retrying a dead controller
        probe = _run(["scontrol", "show", "config"], timeout=60)
        assert probe.returncode != 0 and "Unable to contact slurm controller" not in probe.stderr
