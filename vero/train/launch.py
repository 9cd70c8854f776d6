"""The command a training job runs, for each way of launching it (`train.launcher.kind`).

The train rule's shell runs `python workflow_scripts/train.py ...` (without `--in-process`); that
script builds the command below, prints it to the job log and runs it (for `cpu` it trains in the
same process). The launched process runs the same script with `--in-process`. The script and the
default accelerate configs are found through the package (`vero.resources`: the checkout's files,
or the installed wheel's copies), not relative to the working directory.

  cpu         python workflow_scripts/train.py ARGS --in-process
  single_gpu  python -m accelerate.commands.launch --config_file config/accelerate/single_gpu.yaml
                  --num_processes 1 --num_machines 1 workflow_scripts/train.py ARGS --in-process
  multi_gpu   python -m accelerate.commands.launch --config_file config/accelerate/multi_gpu_fsdp.yaml
                  --num_processes G --num_machines 1 --main_process_port PORT
                  workflow_scripts/train.py ARGS --in-process
  multi_node  srun --nodes N --ntasks N --ntasks-per-node 1 --kill-on-bad-exit=1 bash -c
                  'python -m accelerate.commands.launch --config_file ... --num_processes N*G
                   --num_machines N --machine_rank "$SLURM_NODEID" --main_process_ip HOST0
                   --main_process_port PORT --rdzv_backend static workflow_scripts/train.py ARGS --in-process'

G = `train.launcher.gpus_per_node`, less `reward.judge.serve.gpus` when the judge is served inside
the job (vero.serving.run_under_judge starts it beside the command); N = `train.launcher.nodes`.
In a multi-node job the SLURM batch step (on the first node) runs the launcher; HOST0 is the first host of
`SLURM_JOB_NODELIST`, read when the command is built, and each srun task (one per node) takes
its `--machine_rank` from its own `SLURM_NODEID`. The accelerate config decides FSDP2 or
DeepSpeed ZeRO-3 (`train.launcher.accelerate_config`); the command-line values above override
the process counts written in those files.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence

from vero.config import ConfigError, schema_default
from vero.resources import resource

DEFAULT_ACCELERATE_CONFIGS = {
    "single_gpu": "config/accelerate/single_gpu.yaml",
    "multi_gpu": "config/accelerate/multi_gpu_fsdp.yaml",
    "multi_node": "config/accelerate/multi_gpu_fsdp.yaml",
}
ACCELERATE = ("-m", "accelerate.commands.launch")

_BRACKET = re.compile(r"\[([^\]]*)\]")


def train_script() -> str:
    """The path of the train script (workflow_scripts/train.py of the checkout, or the wheel's copy)."""
    return str(resource("workflow_scripts/train.py"))


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list: "gpu[03-05,9],cpu1" -> "gpu03"."""
    text = nodelist.strip()
    if not text:
        raise ValueError("empty SLURM node list")
    depth, end = 0, len(text)
    for i, ch in enumerate(text):  # the first item ends at the first comma outside brackets
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            end = i
            break
    item = text[:end]

    def first_of_group(match: re.Match) -> str:
        first = match.group(1).split(",")[0]
        return first.split("-")[0]

    host = _BRACKET.sub(first_of_group, item)
    if not host or "[" in host or "]" in host:
        raise ValueError(f"cannot read the first host of SLURM node list {nodelist!r}")
    return host


def judge_layout(resolved: Mapping) -> str | None:
    """How a judge served inside the job sits on its GPUs (`reward.judge.serve.layout`):
    "dedicated" (its own `serve.gpus` GPUs), "shared" (all training GPUs, asleep while the policy
    trains), or None when no judge is served in the job."""
    judge = resolved.get("reward", {}).get("judge") or {}
    serve = judge.get("serve") or {}
    if not (judge.get("enabled") and serve.get("enabled")):
        return None
    return str(serve.get("layout", "dedicated"))


def judge_gpus_in_job(resolved: Mapping) -> int:
    """GPUs of this job taken from training by a judge server started inside it, else 0 (a shared
    judge takes none: it sleeps on the training GPUs)."""
    judge = resolved.get("reward", {}).get("judge") or {}
    serve = judge.get("serve") or {}
    return (
        int(serve.get("gpus", schema_default("reward.judge.serve.gpus")))
        if judge_layout(resolved) == "dedicated"
        else 0
    )


def training_processes(resolved: Mapping) -> int:
    """Training processes (one per GPU) the launcher starts: all GPUs but the judge's."""
    launcher = dict(resolved["train"].get("launcher") or {})
    kind = launcher.get("kind", "cpu")
    if kind in ("cpu", "single_gpu"):
        return 1
    gpus, nodes = int(launcher.get("gpus_per_node", 8)), int(launcher.get("nodes", 1))
    judge = judge_gpus_in_job(resolved)
    if judge_layout(resolved) and kind == "multi_node" and nodes > 1:
        raise ConfigError(
            "config key 'reward.judge.serve.enabled': a judge served inside the job shares the first "
            "node's GPUs and cannot be combined with a multi-node launcher (train.launcher.nodes > 1); "
            "serve the judge elsewhere and point reward.judge.base_url at it"
        )
    if judge >= gpus:
        raise ConfigError(
            f"config key 'reward.judge.serve.gpus': the judge takes {judge} of the "
            f"{gpus} GPUs of train.launcher.gpus_per_node, none would be left to train"
        )
    return gpus * nodes - judge


def training_args(
    *,
    config_json: str,
    experiment: str,
    mix: str,
    base_model: str,
    output_dir: str,
    resume: str = "auto",
    heldout: Sequence[str] = (),
) -> list[str]:
    """Arguments of workflow_scripts/train.py for the launched (in-process) run."""
    return [
        "--config-json",
        str(config_json),
        "--experiment",
        experiment,
        "--mix",
        str(mix),
        "--base-model",
        str(base_model),
        "--output-dir",
        str(output_dir),
        "--resume",
        resume,
        *(["--heldout", *map(str, heldout)] if heldout else []),
        "--in-process",
    ]


# Long: the four launcher kinds' argv side by side (module docstring lists them), so their flags can be
#   compared line by line
def build_train_command(
    resolved: Mapping,
    *,
    config_json: str,
    experiment: str,
    mix: str,
    base_model: str,
    output_dir: str,
    resume: str = "auto",
    python: str = "python",
    script: str | None = None,
    env: Mapping[str, str] | None = None,
    heldout: Sequence[str] = (),
) -> list[str]:
    """The argv that trains one experiment under `resolved["train"]["launcher"]` (see module doc);
    `script` defaults to `train_script()`."""
    launcher = dict(resolved["train"].get("launcher") or {})
    kind = launcher.get("kind", "cpu")
    args = [
        script or train_script(),
        *training_args(
            config_json=config_json,
            experiment=experiment,
            mix=mix,
            base_model=base_model,
            output_dir=output_dir,
            resume=resume,
            heldout=heldout,
        ),
    ]
    if kind == "cpu":
        return [python, *args]
    accel_cfg = launcher.get("accelerate_config") or str(resource(DEFAULT_ACCELERATE_CONFIGS[kind]))
    nodes = int(launcher.get("nodes", 1))
    processes = training_processes(resolved)
    port = str(launcher.get("main_process_port", 29500))
    accelerate = [python, *ACCELERATE, "--config_file", accel_cfg]
    if kind == "single_gpu":
        return [*accelerate, "--num_processes", "1", "--num_machines", "1", *args]
    if kind == "multi_gpu":
        return [
            *accelerate,
            "--num_processes",
            str(processes),
            "--num_machines",
            "1",
            "--main_process_port",
            port,
            *args,
        ]
    if kind == "multi_node":
        env = os.environ if env is None else env
        host = launcher.get("main_process_ip")
        if not host:
            nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
            if not nodelist:
                raise ConfigError(
                    "config key 'train.launcher.kind': multi_node needs a SLURM allocation "
                    "(SLURM_JOB_NODELIST is not set) or train.launcher.main_process_ip"
                )
            host = first_host(nodelist)
        inner = [
            *accelerate,
            "--num_processes",
            str(processes),
            "--num_machines",
            str(nodes),
            "--machine_rank",
            "$SLURM_NODEID",
            "--main_process_ip",
            host,
            "--main_process_port",
            port,
            "--rdzv_backend",
            "static",
            *args,
        ]
        return [
            "srun",
            "--nodes",
            str(nodes),
            "--ntasks",
            str(nodes),
            "--ntasks-per-node",
            "1",
            "--kill-on-bad-exit=1",
            "bash",
            "-c",
            shell_join_keep_vars(inner),
        ]
    raise ConfigError(f"config key 'train.launcher.kind': unknown launcher {kind!r}")


def shell_join_keep_vars(argv: Sequence[str]) -> str:
    """Quote argv for `bash -c`, leaving `$SLURM_*` references for the task's shell to expand."""
    return " ".join(f'"{a}"' if re.fullmatch(r"\$SLURM_[A-Z_]+", a) else shlex.quote(a) for a in argv)


def run_launched(
    config: Mapping,
    *,
    config_json: str,
    experiment: str,
    mix: str,
    base_model: str,
    output_dir: str,
    resume: str = "auto",
    python: str = "python",
    script: str | None = None,
    heldout: Sequence[str] = (),
) -> int:
    """Run the launch command of this experiment and return its exit status.

    When the experiment scores judge samples with a judge served inside the job
    (`reward.judge.enabled` and `reward.judge.serve.enabled`), the command runs beside that
    server (`vero.serving.run_under_judge`), which also points the reward at it.
    """
    import sys

    from vero.config import resolve_experiment

    resolved = resolve_experiment(config, experiment)
    if resolved["train"]["trainer"] == "rl":  # fail before any GPU or judge server is started
        from vero.train.trl_config import batch_geometry

        batch_geometry(resolved["train"], training_processes(resolved))
        from vero.plan import check_fits

        check_fits(resolved, base_model=base_model)  # refuses a config whose memory plan does not fit
    cmd = build_train_command(
        resolved,
        config_json=config_json,
        experiment=experiment,
        mix=mix,
        base_model=base_model,
        output_dir=output_dir,
        resume=resume,
        python=python,
        script=script,
        heldout=heldout,
    )
    print(f"[vero.train.launch] {shlex.join(cmd)}", file=sys.stderr, flush=True)
    judge = resolved["reward"].get("judge") or {}
    serve = judge.get("serve") or {}
    if judge.get("enabled") and serve.get("enabled"):
        from vero.serving import run_under_judge

        return run_under_judge(cmd, serve, judge.get("model", ""), api_key_env=judge.get("api_key_env"))
    from vero.serving import run_supervised  # stop signals go on to the trainer, which checkpoints

    return run_supervised(cmd)
