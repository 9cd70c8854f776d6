"""What the README promises of the rules, checked on the rule files themselves (no DAG is built).

- "one log and one timing file per job" (README "Outputs"): every rule that runs something (shell,
  script, run, notebook, wrapper) has `log:` and `benchmark:`; a rule that runs nothing (a named
  target that only gathers inputs) is a local rule, so it is never a cluster job.
- "Resources per rule ... never from the rules themselves" (README "SLURM"): every rule that runs
  something on the cluster takes its `resources:` from the config (`rule_resources(...)` or a value
  derived from it), and no `resources:` entry is a literal.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

RUNS = {"shell", "script", "run", "notebook", "wrapper", "cwl"}
_RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\s*$")
_DIRECTIVE = re.compile(r"^    (\w+):")
_LITERAL_RESOURCE = re.compile(r"^\s+\w+\s*=\s*(?:[-\d.]+|\"[^\"]*\"|'[^']*')\s*,?\s*$")


def parse_rules(text: str) -> tuple[dict[str, dict[str, list[str]]], set[str]]:
    """Rules of one Snakemake file: name -> directive -> its lines; and the names under `localrules:`."""
    rules: dict[str, dict[str, list[str]]] = {}
    local: set[str] = set()
    current: dict[str, list[str]] | None = None
    directive: str | None = None
    in_local = False
    for line in text.splitlines():
        if line and not line.startswith((" ", "\t", "#")):
            in_local = line.strip() == "localrules:" or line.startswith("localrules:")
            if in_local and ":" in line and line.split(":", 1)[1].strip():
                local.update(n.strip() for n in line.split(":", 1)[1].split(",") if n.strip())
            m = _RULE.match(line)
            current = rules.setdefault(m.group(1), {}) if m else None
            directive = None
            continue
        if in_local:
            local.update(n.strip() for n in line.split(",") if n.strip() and not n.strip().startswith("#"))
            continue
        if current is None:
            continue
        m = _DIRECTIVE.match(line)
        if m:
            directive = m.group(1)
            current.setdefault(directive, [])
            rest = line.split(":", 1)[1].strip()
            if rest:
                current[directive].append(rest)
        elif directive and line.strip():
            current[directive].append(line.strip())
    return rules, local


def problems(files: dict[str, str]) -> list[str]:
    """Rules that break the README's promises, over files (name -> text) parsed together."""
    rules: dict[str, tuple[str, dict]] = {}
    local: set[str] = set()
    for name, text in files.items():
        parsed, loc = parse_rules(text)
        local |= loc
        rules.update({r: (name, d) for r, d in parsed.items()})
    out = []
    for rule, (where, d) in sorted(rules.items()):
        if RUNS & d.keys():
            for need in ("log", "benchmark"):
                if need not in d:
                    out.append(f"{where}: rule {rule} runs a job but has no {need}:")
            if rule not in local:
                if "resources" not in d:
                    out.append(f"{where}: rule {rule} has no resources: (config resources.<rule>)")
                out += [
                    f"{where}: rule {rule}: resources entry {line!r} is written in the rule"
                    for line in d.get("resources", [])
                    if _LITERAL_RESOURCE.match("    " + line)
                ]
        elif rule not in local:
            out.append(f"{where}: rule {rule} runs nothing but is not a local rule")
    return out


def _workflow_files() -> dict[str, str]:
    paths = [REPO_ROOT / "Snakefile", *sorted((REPO_ROOT / "rules").glob("*.smk"))]
    return {str(p.relative_to(REPO_ROOT)): p.read_text() for p in paths}


def test_every_job_has_a_log_a_timing_file_and_configured_resources():
    files = _workflow_files()
    rules = {r for t in files.values() for r in parse_rules(t)[0]}
    assert {"train_experiment", "eval_benchmark", "data_filter", "build_report", "all"} <= rules
    assert not problems(files), "\n".join(problems(files))


def test_the_check_finds_each_broken_promise():
    snake = (
        "localrules:\n    all,\n\n\n"
        "rule all:\n    input:\n        'a',\n\n\n"
        "rule gather:\n    input:\n        'b',\n\n\n"
        "rule no_bench:\n    output:\n        'a',\n    log:\n        'l',\n"
        "    resources:\n        **rule_resources('no_bench'),\n    shell:\n        'touch {output}'\n\n\n"
        "rule fixed_res:\n    output:\n        'b',\n    log:\n        'l',\n    benchmark:\n        'b',\n"
        '    resources:\n        mem_mb=4000,\n        slurm_partition="gpu",\n'
        "        **rule_resources('x'),\n"
        "    script:\n        'x.py'\n\n\n"
        "rule no_res:\n    output:\n        'c',\n    log:\n        'l',\n    benchmark:\n        'b',\n"
        "    run:\n        pass\n"
    )
    assert problems({"Snakefile": snake}) == [
        "Snakefile: rule fixed_res: resources entry 'mem_mb=4000,' is written in the rule",
        "Snakefile: rule fixed_res: resources entry 'slurm_partition=\"gpu\",' is written in the rule",
        "Snakefile: rule gather runs nothing but is not a local rule",
        "Snakefile: rule no_bench runs a job but has no benchmark:",
        "Snakefile: rule no_res has no resources: (config resources.<rule>)",
    ]


def test_rule_files_parse_as_the_workflow_sees_them():
    # The parser reads the directives Snakemake reads: a rule's log path is the one the rule writes.
    rules, _ = parse_rules((REPO_ROOT / "rules" / "train.smk").read_text())
    assert rules["train_experiment"]["log"] == ['logf("train_experiment/{experiment}"),']
    assert "vllm_server_env" in parse_rules((REPO_ROOT / "rules" / "envs.smk").read_text())[1]


def test_readme_targets_are_local_rules_of_the_workflow():
    # README "Targets": each named target is a rule, and a local one (it gathers, it runs nothing).
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("## Targets", 1)[1].split("\n## ", 1)[0]
    targets = re.findall(r"^\| `(\w+)` \|", table, flags=re.M)
    rules, local = {}, set()
    for text in _workflow_files().values():
        parsed, loc = parse_rules(text)
        rules.update(parsed)
        local |= loc
    assert len(targets) >= 10
    assert [t for t in targets if t not in rules] == []
    assert [t for t in targets if t not in local or RUNS & rules[t].keys()] == []
