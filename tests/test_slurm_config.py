"""Static checks of the cluster side: profiles, per-rule resources, conda environments."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from vero.config import ConfigError, load_config, load_schema
from vero.workflow import RESOURCE_KEYS, resources_for

REPO = Path(__file__).resolve().parent.parent
PROFILES = REPO / "profiles"
PAPER = REPO / "config" / "config.yaml"
DEMO = REPO / "config" / "demo.yaml"


def profile(name: str) -> dict:
    return yaml.safe_load((PROFILES / name / "config.yaml").read_text())


@pytest.fixture(scope="module")
def snakemake_options() -> set[str]:
    """Long options of the installed Snakemake, its SLURM plugin included."""
    out = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(re.findall(r"--([a-z][a-z0-9-]+)", out))


def test_slurm_profile_is_found_from_the_repository_root():
    # `snakemake --profile slurm` looks in ./slurm first
    link = REPO / "slurm"
    assert link.is_symlink() and link.resolve() == (PROFILES / "slurm").resolve()
    assert (link / "config.yaml").is_file()


@pytest.mark.parametrize("name", ["slurm", "ci-slurm", "local"])
def test_profiles_use_only_options_snakemake_knows(name, snakemake_options):
    unknown = sorted(set(profile(name)) - snakemake_options)
    assert not unknown, f"profiles/{name}: not Snakemake options: {unknown}"


def test_cluster_profiles_submit_to_slurm_and_requeue():
    for name in ("slurm", "ci-slurm"):
        prof = profile(name)
        assert prof["executor"] == "slurm"
        assert prof["slurm-requeue"] is True
        # software comes from the calling environment unless the user adds --sdm conda
        assert "software-deployment-method" not in prof and "sdm" not in prof
        # resources live in the config, not in the profile; the one default is the time-limit warning
        assert "set-resources" not in prof
        assert [r.split("=", 1)[0] for r in prof["default-resources"]] == ["slurm_extra"]


def test_ci_profile_status_checks_fit_the_local_cluster():
    prof = profile("ci-slurm")
    assert prof["slurm-status-command"] == "squeue"
    start = (REPO / "scripts" / "local_slurm" / "start.sh").read_text()
    min_job_age = int(re.search(r"^MinJobAge=(\d+)$", start, re.M).group(1))
    # below 3x the first-check delay the plugin silently falls back to sacct (no accounting here)
    assert min_job_age >= 3 * prof["slurm-init-seconds-before-status-checks"]


def test_local_profile_runs_on_two_cores_without_a_cluster():
    prof = profile("local")
    assert prof["cores"] == 2
    assert "executor" not in prof


# ---- resources -------------------------------------------------------------------------------


def rules_with_resources() -> dict[str, str]:
    """resources entry name -> rules file, for every `rule_resources("NAME")` in rules/*.smk."""
    found = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for name in re.findall(r'rule_resources\("(\w+)"\)', smk.read_text()):
            found[name] = smk.name
    return found


def test_resource_schema_covers_the_keys_rules_accept():
    section = load_schema()["properties"]["resources"]
    per_rule = set(section["additionalProperties"]["properties"])
    assert set(section["properties"]["default"]["properties"]) == per_rule
    assert set(RESOURCE_KEYS) <= per_rule


@pytest.mark.parametrize("path", [PAPER, DEMO], ids=["paper", "demo"])
def test_every_resources_entry_is_a_rule_that_reads_it(path):
    cfg = load_config(path)
    known = rules_with_resources()
    stray = sorted(set(cfg["resources"]) - {"default"} - set(known))
    assert not stray, f"{path.name}: resources for rules that do not exist or ignore them: {stray}"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"default": {"gpu": -1}}, "resources.default.gpu"),
        ({"train_experiment": {"gpus": 8}}, "resources.train_experiment"),
        ({"eval_benchmark": {"mpi": "mpirun"}}, "resources.eval_benchmark.mpi"),
        ({"eval_benchmark": {"runtime": "2h"}}, "resources.eval_benchmark.runtime"),
    ],
)
def test_bad_resources_are_config_errors_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=re.escape(f"config key '{key}'")):
        load_config(DEMO, overrides={"resources": override})


def test_demo_runs_every_rule_on_cpu():
    cfg = load_config(DEMO)
    for rule in rules_with_resources():
        res = resources_for(cfg, rule)
        assert res.get("gpu", 0) == 0 and res.get("nodes", 1) == 1 and "mpi" not in res, rule
        assert res["cpus_per_task"] <= 2


def gpu_rule_of(file_name: str) -> list[str]:
    """Resource entries of the rules defined in one rules file (wherever the entry is read)."""
    defined = set(re.findall(r"^rule (\w+):", (REPO / "rules" / file_name).read_text(), flags=re.M))
    return [rule for rule in rules_with_resources() if rule in defined]


def test_paper_training_job_holds_the_gpus_its_launcher_and_judge_need():
    cfg = load_config(PAPER)
    train_rules = gpu_rule_of("train.smk")
    assert train_rules, "no rule in rules/train.smk takes its resources from the config"
    launcher = cfg["train"]["launcher"]
    serve = cfg["reward"]["judge"]["serve"] if cfg["reward"]["judge"]["enabled"] else {"enabled": False}
    for rule in train_rules:
        res = resources_for(cfg, rule)
        nodes = launcher["nodes"] if launcher["kind"] == "multi_node" else 1
        assert res.get("nodes", 1) == nodes, f"resources.{rule}.nodes != train.launcher.nodes"
        assert res["gpu"] == launcher["gpus_per_node"] * nodes
        if nodes > 1:  # one accelerate launcher per node, started by srun inside the job
            assert res.get("mpi") == "srun" and res.get("tasks") == nodes
        if serve.get("enabled") and serve.get("layout", "dedicated") == "dedicated":
            assert nodes == 1 and res["gpu"] > serve["gpus"]  # its own GPUs of the first node
        elif serve.get("enabled"):  # shared: tensor parallel over the training GPUs, asleep between rewards
            assert nodes == 1 and serve["gpus"] == res["gpu"]
        assert res["runtime"] >= 24 * 60 and res["cpus_per_task"] >= 8


def test_paper_evaluation_jobs_have_gpus():
    cfg = load_config(PAPER)
    eval_rules = gpu_rule_of("eval.smk")
    assert eval_rules
    assert any(1 <= resources_for(cfg, r).get("gpu", 0) <= 8 for r in eval_rules)


# ---- conda environments ------------------------------------------------------------------------


def env_pins(name: str) -> dict[str, str]:
    """package -> exact version pinned in envs/<name>.yaml (pip section)."""
    env = yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                req = Requirement(line)
                (spec,) = req.specifier
                assert spec.operator == "==", f"envs/{name}.yaml: {line} is not pinned"
                pins[req.name.lower()] = spec.version
    return pins


def pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["analysis"]
    return {Requirement(r).name.lower(): Requirement(r) for r in reqs}


@pytest.mark.parametrize("name", ["gpu", "analysis", "vllm"])
def test_env_versions_satisfy_pyproject_and_the_torch_pin(name):
    reqs = pyproject_requirements()
    pins = env_pins(name)
    torch_pin = re.search(r"^torch==(\S+)$", (REPO / "constraints.txt").read_text(), re.M).group(1)
    assert pins.get("torch") == torch_pin
    assert "trl[vlm]" not in pins
    # torchvision only beside vLLM, which needs it (a CUDA build: never in the CPU .venv)
    assert "torchvision" not in pins or "vllm" in pins
    if name == "vllm":
        return  # its own transformers range, see envs/vllm.yaml
    for pkg, version in pins.items():
        if pkg in reqs:
            assert reqs[pkg].specifier.contains(version), (
                f"envs/{name}.yaml {pkg}=={version} vs pyproject {reqs[pkg]}"
            )


def test_gpu_env_has_the_training_stack():
    pins = env_pins("gpu")
    assert {"torch", "transformers", "trl", "accelerate", "deepspeed", "datasets", "math-verify"} <= set(pins)
    deploy = (REPO / "envs" / "gpu.post-deploy.sh").read_text()
    # flash-attn from a prebuilt wheel when one is named (PyPI has only its source), else SDPA
    assert re.search(r'pip install --no-deps --only-binary=:all: "\$VERO_FLASH_ATTN_WHEEL"', deploy)
    # every runtime dependency of the package is pinned (the package itself installs --no-deps)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = {Requirement(r).name.lower() for r in project["dependencies"]} - {
        "snakemake",
        "snakemake-executor-plugin-slurm",
    }
    assert runtime <= set(pins), sorted(runtime - set(pins))


def test_analysis_env_has_the_analysis_extra():
    pins = env_pins("analysis")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert {Requirement(r).name.lower() for r in project["optional-dependencies"]["analysis"]} <= set(pins)


def test_vllm_env_serves_the_judge():
    assert "vllm" in env_pins("vllm")


# ---- what sbatch receives ------------------------------------------------------------------------


class _Resources(dict):
    __getattr__ = dict.__getitem__


class _Job:
    """The two attributes the SLURM plugin's submit-string builder reads from a job."""

    def __init__(self, resources: dict):
        self.resources = _Resources(resources)
        self.threads = 1


def sbatch_flags(resources: dict) -> str:
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    job = _Job(resources)
    params = {
        "run_uuid": "u",
        "slurm_logfile": "/tmp/x.log",
        "comment_str": "rule_x",
        "account": "",
        "partition": "",
        "workdir": "",
    }
    return get_submit_command(job, params) + set_gres_string(job)


def test_paper_training_rule_asks_sbatch_for_one_node_with_its_gpus():
    cfg = load_config(PAPER)
    (rule,) = gpu_rule_of("train.smk")
    flags = sbatch_flags(resources_for(cfg, rule))
    res = resources_for(cfg, rule)
    assert f"--gpus={res['gpu']}" in flags and "--nodes=1" in flags
    assert f"-t {res['runtime']}" in flags and f"--mem {res['mem_mb']}" in flags
    assert f"--cpus-per-task={res['cpus_per_task']}" in flags


def profile_slurm_extra(name: str) -> str:
    """The slurm_extra a rule without its own gets from the profile, parsed as Snakemake parses it."""
    from snakemake.resources import Resources

    parsed = Resources.parse(profile(name)["default-resources"], allow_expressions=True, defaults="full")
    context = {"input": [], "attempt": 1, "threads": 1, "rulename": "train_experiment", "async_run": None}
    return parsed["slurm_extra"].evaluate(None, **context).value


@pytest.mark.parametrize(("name", "lead_s"), [("slurm", 1800), ("ci-slurm", 60)])
def test_the_profile_asks_slurm_for_the_time_limit_warning_the_trainer_handles(name, lead_s):
    import signal

    from snakemake_executor_plugin_slurm.validation import validate_slurm_extra

    from vero.train.trainer import STOP_SIGNALS

    extra = profile_slurm_extra(name)
    assert extra == f"--signal=URG@{lead_s}"
    sig = re.fullmatch(r"--signal=(\w+)@(\d+)", extra).group(1)
    # the trainer saves on it; not B: (the batch shell alone) and not USR1 (kills Snakemake's jobstep)
    assert getattr(signal, f"SIG{sig}") in STOP_SIGNALS and sig != "USR1"
    cfg = load_config(PAPER if name == "slurm" else DEMO)
    (rule,) = gpu_rule_of("train.smk")
    res = {**resources_for(cfg, rule), "slurm_extra": extra}
    assert "slurm_extra" not in resources_for(cfg, rule), "the config would replace the profile's warning"
    validate_slurm_extra(_Job(res))  # the plugin accepts it
    assert extra in sbatch_flags(res)
    if name == "slurm":
        # one rollout batch (<= 25 min assumed) + an 88 GB checkpoint at 1 GB/s + 60 s of SLURM slack
        assert lead_s >= 25 * 60 + 88 + 60
        assert res["runtime"] * 60 > 10 * lead_s  # the warning leaves the job most of its time


def test_multi_node_training_override_gives_one_task_per_node():
    """The multi-node recipe of config/config.yaml's comment, as sbatch sees it."""
    overrides = {
        "train": {"launcher": {"kind": "multi_node", "nodes": 2, "gpus_per_node": 8}},
        "reward": {"judge": {"serve": {"enabled": False}}},
    }
    cfg = load_config(PAPER, overrides=overrides)
    (rule,) = gpu_rule_of("train.smk")
    multi = {"nodes": 2, "gpu": 16, "tasks": 2, "tasks_per_gpu": 0, "mpi": "srun"}
    cfg["resources"][rule] = {**cfg["resources"].get(rule, {}), **multi}
    flags = sbatch_flags(resources_for(cfg, rule))
    assert "--nodes=2" in flags and "--gpus=16" in flags and "--ntasks=2" in flags
    # --ntasks-per-gpu would make SLURM ask for 2 x 16 tasks (measured on the local cluster)
    assert "--ntasks-per-gpu" not in flags


# ---- the local cluster's /etc/slurm bookkeeping (scripts/local_slurm/etc.sh) -------------------

ETC_SH = REPO / "scripts" / "local_slurm" / "etc.sh"


def etc_call(action: str, cluster_dir, etc_dir) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f'set -eu; . "{ETC_SH}"; etc_{action} "$1" "$2"', "_", str(cluster_dir), str(etc_dir)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def snapshot(etc_dir) -> dict:
    """Every entry of a directory: a link's target, a file's bytes; None when the dir is absent."""
    if not etc_dir.exists():
        return None
    return {
        p.name: ("link", str(p.readlink())) if p.is_symlink() else ("file", p.read_bytes())
        for p in sorted(etc_dir.iterdir())
    }


@pytest.mark.parametrize("before", ["absent_dir", "empty_dir", "site_files", "site_links"])
def test_stopping_the_local_cluster_puts_back_what_etc_slurm_held(tmp_path, before):
    etc, cluster = tmp_path / "etc-slurm", tmp_path / "cluster"
    if before != "absent_dir":
        etc.mkdir()
        (etc / "plugstack.conf").write_text("site plugin\n")
    if before == "site_files":
        (etc / "slurm.conf").write_text("ClusterName=site\n")
        (etc / "gres.conf").write_text("AutoDetect=nvml\n")
    if before == "site_links":
        (etc / "slurm.conf").symlink_to("/opt/site/slurm.conf")  # dangling: kept as it was
    original = snapshot(etc)

    assert etc_call("install", cluster, etc).returncode == 0
    for name in ("slurm.conf", "gres.conf"):
        assert (etc / name).readlink() == cluster / "etc" / name
    # start.sh run again on the same directory (a config change) keeps the first saved state
    assert etc_call("install", cluster, etc).returncode == 0
    done = etc_call("restore", cluster, etc)
    assert done.returncode == 0, done.stderr
    assert snapshot(etc) == original
    assert not (cluster / "etc-saved").exists()
    assert etc_call("restore", cluster, etc).returncode == 0 and snapshot(etc) == original


def test_links_of_a_cluster_that_was_never_stopped_are_not_taken_for_the_site_config(tmp_path):
    """A test session killed with SIGKILL leaves its links; the next cluster restores the state
    from before the first one, not the dead cluster's links."""
    etc = tmp_path / "etc-slurm"
    etc.mkdir()
    (etc / "slurm.conf").write_text("ClusterName=site\n")
    original = snapshot(etc)
    first, second = tmp_path / "first", tmp_path / "second"
    assert etc_call("install", first, etc).returncode == 0  # ...and its stop never runs
    assert etc_call("install", second, etc).returncode == 0
    assert (etc / "slurm.conf").readlink() == second / "etc" / "slurm.conf"
    assert etc_call("restore", second, etc).returncode == 0
    assert snapshot(etc) == original


def test_a_config_changed_while_the_cluster_ran_is_left_alone(tmp_path):
    etc, cluster = tmp_path / "etc-slurm", tmp_path / "cluster"
    assert etc_call("install", cluster, etc).returncode == 0
    (etc / "slurm.conf").unlink()
    (etc / "slurm.conf").write_text("ClusterName=admin-wrote-this\n")
    done = etc_call("restore", cluster, etc)
    assert done.returncode == 0 and "changed while the cluster ran" in done.stderr
    assert (etc / "slurm.conf").read_text() == "ClusterName=admin-wrote-this\n"
    assert not (etc / "gres.conf").exists()
