"""A job's settings (vero.settings): what is declared is readable exactly, what is not raises, every
read is traced, and the settings file is named by its content (issue 11 items 2 and 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vero.config import REPO_ROOT, load_config, resolve_experiment
from vero.settings import (
    JobSettings,
    UndeclaredSetting,
    config_key_of,
    cut_settings,
    job_settings_file,
    load_job_settings,
    resolved_view,
    traced,
)
from vero.workflow import JOB_SETTINGS

PAPER = load_config(REPO_ROOT / "config" / "config.yaml")
VIEW = resolved_view(PAPER)


def _job(rule, **wildcards):
    data, cut = cut_settings(VIEW, ["results_dir", *JOB_SETTINGS[rule]], wildcards)
    return traced(data, rule=rule, cut=cut, resolved=True)


def test_a_job_reads_its_declared_settings_and_nothing_else():
    job = _job("data_filter", category="stem")
    assert job["data"]["filter"]["min_question_chars"] == PAPER["data"]["filter"]["min_question_chars"]
    for read in (
        lambda: job["model"],
        lambda: job.get("train", {}),
        lambda: "seed" in job,
        lambda: job["data"]["source"],
        lambda: job["data"]["filter"]["max_drop_fraction"],  # the report's, not the filter's
    ):
        with pytest.raises(UndeclaredSetting, match="rule data_filter read config key"):
            read()
    assert "max_drop_fraction" not in list(job["data"]["filter"])  # iteration shows declared keys
    assert dict(job["data"]["filter"]).keys() == set(job["data"]["filter"])


def test_an_experiments_job_sees_its_resolved_sections_only():
    job = _job("train_experiment", experiment="single_stem")
    resolved = resolve_experiment(job, "single_stem")
    expected = resolve_experiment(PAPER, "single_stem")
    assert resolved["train"]["max_steps"] == expected["train"]["max_steps"] == 1000  # its override
    assert resolved["train"]["learning_rate"] == expected["train"]["learning_rate"]  # the default
    assert json.loads(json.dumps(resolved["reward"])) == expected["reward"]
    with pytest.raises(UndeclaredSetting):
        job["train"]  # the defaults themselves are not this job's settings
    with pytest.raises(UndeclaredSetting):
        resolve_experiment(job, "mixed")
    mix_job = _job("data_mix", experiment="single_stem")
    mixed = resolve_experiment(mix_job, "single_stem")
    assert mixed["categories"] == ["stem"] and mixed["mix"]["batch_size"] == PAPER["mix"]["batch_size"]
    with pytest.raises(UndeclaredSetting, match=r"experiments\.single_stem\.train"):
        mixed["train"]["max_steps"]


def test_reads_are_traced_with_their_keys():
    job = _job("data_mix", experiment="mixed")
    resolve_experiment(job, "mixed")["mix"]["samples_per_category"]
    with pytest.raises(UndeclaredSetting):
        job.get("model")
    trace = job._trace
    assert "experiments.mixed.mix.samples_per_category" in trace["read"] and trace["undeclared"] == {"model"}
    assert config_key_of("experiments.mixed.mix.samples_per_category", PAPER) == "mix.samples_per_category"
    assert config_key_of("experiments.sft.train.trainer", PAPER) == "experiments.sft.train.trainer"


def _filter_file(tmp_path, overrides=None):
    cfg = load_config(REPO_ROOT / "config" / "config.yaml", overrides)
    patterns = JOB_SETTINGS["data_filter"]
    return job_settings_file(
        resolved_view(cfg), "data_filter", patterns, {"category": "stem"}, settings_dir=tmp_path
    )


def test_settings_files_are_named_by_content_and_written_once(tmp_path):
    a = _filter_file(tmp_path)
    assert _filter_file(tmp_path) == a
    b = _filter_file(tmp_path, {"data": {"filter": {"min_question_chars": 9}}})
    assert a != b
    assert json.loads(Path(a).read_text())["data"]["filter"]["min_question_chars"] == 3
    # a change no job of this rule reads leaves the file (and so the rerun trigger) alone
    assert _filter_file(tmp_path, {"eval": {"temperature": 0.1}, "wandb": {"project": "x"}}) == a
    job = load_job_settings(a)
    assert isinstance(job, JobSettings) and job["wandb"]["mode"] in ("online", "offline", "disabled")


def test_the_base_models_evaluation_sees_no_experiment():
    job = _job("eval_summary", experiment="base", checkpoint="final")
    assert dict(job["experiments"]) == {} and job["experiments"].get("base", {}) == {}
    with pytest.raises(UndeclaredSetting):
        job["experiments"]["mixed"]


def test_every_rule_of_the_workflow_declares_its_settings():
    import re

    rules = set()
    for path in [REPO_ROOT / "Snakefile", *sorted((REPO_ROOT / "rules").glob("*.smk"))]:
        text = path.read_text()
        rules |= set(re.findall(r'job_settings\("(\w+)"\)', text))
        for rule, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", text, flags=re.M):
            if "shell:" in body and "python workflow_scripts/" in body:
                assert f'job_settings("{rule}")' in body, f"rule {rule} passes no settings to its job"
    assert rules <= set(JOB_SETTINGS), rules - set(JOB_SETTINGS)
