"""The paper config runs, not only plans (issue 11 items 2 and 5).

One run of `config/config.yaml` itself, changed only through `snakemake --config` as the README
documents (tests/paper_smoke.yaml lists every replaced key with its reason), through every rule
the paper config's `all` schedules, to the report. The LLM judge, the question filter and the
skill extractor talk to a local OpenAI-compatible endpoint this module starts.

The same completed run then serves the rerun tests: after each kind of change a dry run must
schedule exactly the jobs that read the changed setting (and what depends on their outputs).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import yaml

from tests.fixtures.published_vero600k import build_published_sample
from vero.categories import CATEGORIES
from vero.config import REPO_ROOT, ConfigLoader, deep_merge, load_schema, read_yaml
from vero.settings import config_key_of

pytestmark = pytest.mark.slow

PAPER = REPO_ROOT / "config" / "config.yaml"
SMOKE = REPO_ROOT / "tests" / "paper_smoke.yaml"


# ---- the local dataset in the published layout ------------------------------------------------

SAMPLE_BUILDER = "tests/fixtures/published_vero600k.py"

# ---- the local OpenAI-compatible endpoint ---------------------------------------------------------


class Endpoint(BaseHTTPRequestHandler):
    """Chat completions for the three clients of the paper config: the reward judge (a 1-10 score:
    high when the response contains the reference answer), the question filter (three scores) and
    the skill extractor (the skills the lexicon finds in the trace, as the JSON list it asks for)."""

    counts: ClassVar[dict] = {}

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
        user = body["messages"][-1]["content"]
        if isinstance(user, list):  # images + text: the question filter
            kind, content = "question_filter", '{"relevance": 9, "ambiguity": 8, "verifiability": 9}'
        elif "reasoning skills" in system:
            from vero.analysis.skills.lexicon import LexiconExtractor

            skills = LexiconExtractor().extract(user, "") or []
            kind = "skills"
            content = json.dumps([{"label": s.label, "description": s.description} for s in skills[:4]])
            if not skills:
                content = '[{"label": "Direct answer", "description": "States an answer without working."}]'
        else:
            kind = "judge"
            ref = re.search(r"\[REFERENCE ANSWER\]\s*(.*?)\s*\[RESPONSE TO GRADE\]\s*(.*)", user, re.S)
            hit = ref is not None and ref.group(1).strip().lower() in ref.group(2).lower()
            content = json.dumps({"REASONING": "compared with the reference", "SCORE": 9 if hit else 2})
        Endpoint.counts[kind] = Endpoint.counts.get(kind, 0) + 1
        reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def do_GET(self):  # GET /v1/models: the health check OpenAI-compatible servers answer
        models = ["Qwen/Qwen3-32B", "Qwen/Qwen3-VL-235B-A22B-Instruct"]
        reply = json.dumps({"object": "list", "data": [{"id": m, "object": "model"} for m in models]})
        self.send_response(200 if self.path.rstrip("/").endswith("/models") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args):
        pass


# ---- the override set -----------------------------------------------------------------------------


def smoke_table() -> dict:
    return yaml.safe_load(SMOKE.read_text())


def nest(dotted: dict) -> dict:
    out: dict = {}
    for key, value in dotted.items():
        node = out
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return out


def override_args(values: dict) -> list[str]:
    """`--config` entries as a user types them: one KEY=VALUE per top-level key, nested values as
    YAML flow mappings (README "Overriding settings")."""
    out = []
    for key, value in nest(values).items():
        text = value if isinstance(value, str) else json.dumps(value)
        out.append(f"{key}={text}")
    return out


def smoke_values(fill: dict) -> dict:
    values = {}
    for key, entry in smoke_table()["replace"].items():
        value = entry["value"]
        if isinstance(value, str):
            value = value.format(**fill)
        values[key] = value
    return values


def snakemake(*args, env=None, timeout=1800):
    cmd = [sys.executable, "-m", "snakemake", *args]
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def scheduled_jobs(text: str) -> set[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run prints."""
    jobs, rule = set(), None
    for line in text.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line.strip())
        if m:
            if rule:
                jobs.add((rule, ""))
            rule = m.group(1)
            continue
        m = re.match(r"^wildcards: (.*)$", line.strip())
        if m and rule:
            jobs.add((rule, m.group(1)))
            rule = None
        elif not line.strip() and rule:
            jobs.add((rule, ""))
            rule = None
    if rule:
        jobs.add((rule, ""))
    return jobs


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper-smoke")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Endpoint.counts = {}
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1"
    source = build_published_sample(root / "vero600k", layout="hub")
    fill = {"endpoint": endpoint, "results": str(root / "results"), "sample": source["hub_id"]}
    values = smoke_values(fill)
    extra_source = {f"data.source.{k}": v for k, v in source.items() if k != "hub_id"}
    args = override_args({**values, **extra_source})
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "",  # the config's wandb.mode decides (tests/conftest.py sets offline)
        "VERO_SETTINGS_TRACE": str(root / "trace"),
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = snakemake(
        "all", "--profile", "profiles/local", "--cores", "2", "--config", *args, env=env, timeout=3000
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    jobs = len(re.findall(r"^\s*(?:local)?rule \w+:$", proc.stdout + proc.stderr, flags=re.M))
    timing = f"{jobs} jobs, {time.monotonic() - started:.0f} s wall, {cpu:.0f} CPU-s"
    (root / "snakemake.out").write_text(proc.stdout + "\n" + proc.stderr)
    server.shutdown()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    yield {
        "root": root,
        "results": root / "results",
        "args": args,
        "values": values,
        "output": proc.stdout + proc.stderr,
        "endpoint_calls": dict(Endpoint.counts),
        "timing": timing,
    }


def dry_run(smoke, *changes) -> set[tuple[str, str]]:
    """The jobs a dry run schedules on the completed smoke run, with `changes` (more `--config`
    entries; a later entry for the same top-level key is merged over the smoke run's)."""
    merged = {}
    for entry in [*smoke["args"], *changes]:
        key, _, text = entry.partition("=")
        value = yaml.load(text, Loader=ConfigLoader) if text[:1] in "{[" else text
        merged[key] = deep_merge(merged[key], value) if isinstance(value, dict) and key in merged else value
    args = [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in merged.items()]
    proc = snakemake("all", "-n", "--cores", "1", "--config", *args, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    return set() if "Nothing to be done" in text else scheduled_jobs(text)


# ---- the smoke run ------------------------------------------------------------------------------


def test_paper_config_runs_every_rule_to_the_report(smoke, tmp_path):
    results = smoke["results"]
    assert (results / "report" / "report.html").stat().st_size > 0
    planned = snakemake(
        "all", "-n", "--quiet", "rules", "--cores", "1", "--config", f"results_dir={tmp_path}/r"
    )
    assert planned.returncode == 0, planned.stderr[-3000:]
    stats = (planned.stdout + planned.stderr).split("Job stats:", 1)[1]
    paper_rules = {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+\s*$", stats, flags=re.M)} - {"total"}
    ran = set(re.findall(r"^\s*(?:local)?rule (\w+):$", smoke["output"], flags=re.M))
    # vllm_server_env records the python of envs/vllm.yaml for jobs that start a vLLM server; the
    # smoke run starts none (the GPU engines are replaced), the vLLM tier (tests/vllm) starts them
    paper_rules -= {"vllm_server_env"}
    assert paper_rules <= ran, (
        f"rules the paper config schedules that the smoke run did not run: {paper_rules - ran}"
    )
    calls = smoke["endpoint_calls"]
    assert calls.get("question_filter", 0) > 0 and calls.get("skills", 0) > 0, calls
    # evaluation checks the judge with a probe before it scores; the reward asks it about the
    # judge-type outputs that pass the format gate (vero.rewards)
    assert calls.get("judge", 0) > 0, calls
    # the study's outputs, from real runs of every experiment
    cfg = read_yaml(PAPER)
    for exp in cfg["experiments"]:
        assert (results / "runs" / exp / "final" / "config.json").exists(), exp
        assert json.loads((results / "eval" / exp / "final" / "summary.json").read_text())["overall"]
    filtered = json.loads((results / "data" / "filter_report.json").read_text())
    assert filtered and (results / "data" / "mix" / "mixed.parquet").stat().st_size > 0


def _paper_leaves(tree, prefix=()):
    for k, v in tree.items():
        if isinstance(v, dict) and v:
            yield from _paper_leaves(v, (*prefix, k))
        else:
            yield ".".join((*prefix, k)), v


def test_every_paper_key_is_read_or_replaced(smoke, capsys):
    """Every key of config/config.yaml is read by the smoke run with the paper's value, or listed in
    tests/paper_smoke.yaml: replaced (with a reason) or unread (what reads it is switched off).

    "Read" is what the jobs' settings views traced (vero.settings): the job's code accessed the
    value. A read that only serializes settings (a JSON dump such as the run's
    resolved_config.json, W&B's run config, a deep copy) is "recorded" and does not count. A key
    listed as unread that a job reads fails the test, so the list cannot go stale.
    """
    paper = yaml.load(PAPER.read_text(), Loader=ConfigLoader)
    table = smoke_table()
    replaced, unread = table["replace"], table["unread"]
    readers: dict[str, set[str]] = {}
    copiers: dict[str, set[str]] = {}
    problems = []
    for path in sorted((smoke["root"] / "trace").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            for kind, into in (("read", readers), ("copied", copiers)):
                for key in record.get(kind, []):
                    if not key.startswith("<"):
                        into.setdefault(config_key_of(key, paper), set()).add(record["rule"])
            problems += [f"{record['rule']} read undeclared {k}" for k in record["undeclared"]]
    assert not problems, problems

    schema = load_schema()

    def free_form(key):
        """Under a mapping the schema leaves open (extra_body, generation_kwargs, ...): the job
        passes it on as it is, so serializing it (a request body) is how it is used."""
        node = schema
        for part in key.split(".")[:-1]:
            props = node.get("properties") or {}
            addl = node.get("additionalProperties")
            node = props.get(part) if part in props else addl if isinstance(addl, dict) else None
            if node is None:
                return False
            if (
                node.get("type") == "object"
                and "properties" not in node
                and "additionalProperties" not in node
            ):
                return True
        return False

    def by(index, key):
        return sorted({r for k, rs in index.items() if k == key or k.startswith(key + ".") for r in rs})

    rows, missing, stale = [], [], []
    for key, value in _paper_leaves(paper):
        read, copied = by(readers, key), by(copiers, key)
        if not read and copied and free_form(key):
            read = copied
        if key in replaced:
            rows.append((key, value, f"REPLACED by {smoke['values'].get(key)!r}: {replaced[key]['reason']}"))
        elif key in unread:
            note = f" (recorded by {', '.join(copied)})" if copied else ""
            rows.append((key, value, f"unread: {unread[key]}{note}"))
            if read:
                stale.append(f"{key} is listed as unread but {read} read it")
        elif read:
            jobs = [r for r in read if r != "<planning>"]
            where = ", ".join(jobs) + (" and planning" if "<planning>" in read and jobs else "")
            rows.append((key, value, f"read with the paper's value by {where or 'planning'}"))
        else:
            missing.append(key)
            rows.append(
                (key, value, "NEITHER READ NOR LISTED" + (f" (only recorded by {copied})" if copied else ""))
            )
    with capsys.disabled():
        print(f"\npaper-config smoke run: {len(rows)} keys of config/config.yaml; data: {SAMPLE_BUILDER}")
        print(f"run: {smoke['timing']}; endpoint calls: {smoke['endpoint_calls']}")
        for key, value, status in rows:
            print(f"  {key} = {json.dumps(value)}: {status}")
        for key in sorted(set(replaced) - {k for k, _, _ in rows}):
            print(f"  {key} (default) -> {smoke['values'].get(key)!r}: {replaced[key]['reason']}")
    assert not missing, f"keys of the paper config neither read by the smoke run nor listed: {missing}"
    assert not stale, stale


# ---- exact reruns on the completed run ------------------------------------------------------------

N_BENCH = 2  # eval.benchmarks of the smoke run


def _jobs(jobs, rule):
    return sorted(w for r, w in jobs if r == rule)


def _experiments_of(jobs, rule):
    return sorted(re.search(r"experiment=(\w+)", w).group(1) for r, w in jobs if r == rule)


def test_resources_and_wandb_changes_rerun_nothing(smoke):
    resources = 'resources={"train_experiment": {"runtime": 5}, "default": {"mem_mb": 123}}'
    assert dry_run(smoke, resources, 'wandb={"project": "elsewhere", "entity": "someone"}') == set()


def test_a_data_filter_change_reruns_filtering_and_everything_downstream(smoke):
    jobs = dry_run(smoke, 'data={"filter": {"min_question_chars": 4}}')
    experiments = list(read_yaml(PAPER)["experiments"])
    rules = {r for r, _ in jobs}
    assert "data_raw" not in rules and "data_heldout" not in rules and "build_tiny_model" not in rules
    assert len(_jobs(jobs, "data_filter")) == len(CATEGORIES) and ("data_filter_report", "") in jobs
    assert _experiments_of(jobs, "data_mix") == sorted(experiments)
    assert _experiments_of(jobs, "train_experiment") == sorted(experiments)
    # the base model's evaluation does not depend on the training data
    assert sorted(set(_experiments_of(jobs, "eval_benchmark"))) == sorted(experiments)
    assert ("build_report", "") in jobs


def test_one_experiments_train_override_reruns_only_that_experiment(smoke):
    jobs = dry_run(smoke, 'experiments={"algo_grpo": {"train": {"learning_rate": 3e-6}}}')
    assert _experiments_of(jobs, "train_experiment") == ["algo_grpo"]
    assert _experiments_of(jobs, "eval_benchmark") == ["algo_grpo"] * N_BENCH
    assert _experiments_of(jobs, "eval_summary") == ["algo_grpo"]
    assert not _jobs(jobs, "data_mix") and not _jobs(jobs, "analysis_skills")  # skills read mixed only
    rules = {r for r, _ in jobs}
    assert {"analysis_dynamics", "analysis_dynamics_algorithm", "analysis_reasoning_length"} <= rules
    assert "analysis_transfer" not in rules and "analysis_probe" not in rules  # algo_grpo is in neither


def test_a_default_reruns_the_experiments_that_do_not_override_it(smoke):
    """train.max_steps is overridden by the six single-category runs: only the others rerun."""
    jobs = dry_run(smoke, 'train={"max_steps": 2}')
    singles = [e for e in read_yaml(PAPER)["experiments"] if e.startswith("single_")]
    trained = _experiments_of(jobs, "train_experiment")
    assert trained == sorted(set(read_yaml(PAPER)["experiments"]) - set(singles))


def test_an_eval_sampling_change_reruns_evaluation_and_analysis_only(smoke):
    jobs = dry_run(smoke, 'eval={"temperature": 0.5}')
    experiments = list(read_yaml(PAPER)["experiments"])
    rules = {r for r, _ in jobs}
    assert not rules & {
        "data_raw",
        "data_heldout",
        "data_filter",
        "data_filter_report",
        "data_mix",
        "build_tiny_model",
        "train_experiment",
        "analysis_dynamics",
        "analysis_dynamics_algorithm",
    }
    assert len(_jobs(jobs, "eval_benchmark")) == (len(experiments) + 1) * N_BENCH  # + the base model
    assert {
        "eval_comparison",
        "analysis_skills",
        "analysis_probe",
        "analysis_umap",
        "analysis_transfer",
        "analysis_reasoning_length",
        "analysis_summary",
        "build_report",
    } <= rules


def test_an_analysis_change_reruns_that_analysis_and_the_report(smoke):
    jobs = dry_run(smoke, 'analysis={"probe": {"folds": 3}}')
    assert {r for r, _ in jobs} == {"analysis_probe", "analysis_summary", "build_report", "all"}
