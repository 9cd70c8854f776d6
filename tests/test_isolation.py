"""No invocation changes what an invocation already running will read (issue 11 item 3).

Run A plans its jobs, then blocks in its first job (data_raw reads a named pipe the test holds).
Meanwhile a dry run with other settings, a run the lock refuses, and a run with another results
directory all happen. Then the pipe is fed, and A's filter job must run on A's settings: its
questions of 10-30 characters are all kept under A's `min_question_chars: 5`, where B's 40 would
have dropped every one.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time

import pytest
from PIL import Image

from vero.config import REPO_ROOT

pytestmark = pytest.mark.slow


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 120, 200)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _rows(n: int) -> str:
    image = _png()
    lines = []
    for i in range(n):
        question = f"What is the sum of {i} and {i + 1}?"  # 26-28 characters
        lines.append(
            json.dumps(
                {
                    "id": f"fifo-{i}",
                    "data_source": "pipe",
                    "prompt": [{"role": "user", "content": f"<image>{question}"}],
                    "images": [image],
                    "ability": "stem",
                    "reward_model": {"style": "rule", "ground_truth": str(2 * i + 1)},
                    "extra_info": {"answer": str(2 * i + 1), "reward_type": "numeric", "question": question},
                }
            )
        )
    return "\n".join(lines) + "\n"


def _args(results, source, min_chars):
    data = {"source": {"kind": "files", "paths": [str(source)]}, "filter": {"min_question_chars": min_chars}}
    return [
        "--configfile",
        "config/demo.yaml",
        "--config",
        f"results_dir={results}",
        f"data={json.dumps(data)}",
    ]


def _snakemake(*args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


def test_dry_runs_locked_out_runs_and_other_results_dirs_change_nothing_a_running_job_reads(tmp_path):
    fifo = tmp_path / "source.jsonl"
    os.mkfifo(fifo)
    results = tmp_path / "results"
    target = str(results / "data" / "filtered" / "stem.parquet")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    log = (tmp_path / "a.out").open("w")
    run_a = subprocess.Popen(
        [sys.executable, "-m", "snakemake", target, "--cores", "1", *_args(results, fifo, 5)],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 300
        while "rule data_raw:" not in (tmp_path / "a.out").read_text():
            assert run_a.poll() is None, (tmp_path / "a.out").read_text()[-3000:]
            assert time.monotonic() < deadline, "run A never started data_raw"
            time.sleep(0.5)
        settings = sorted((results / "settings" / "data_filter").glob("*.json"))
        assert len(settings) == 1, settings
        planned = settings[0].read_text()

        # B1: a dry run with other settings, same results directory
        dry = _snakemake(target, "-n", "--cores", "1", *_args(results, fifo, 40))
        assert dry.returncode == 0, dry.stderr[-3000:]
        # B2: a real run with other settings: refused by the lock
        locked = _snakemake(target, "--cores", "1", *_args(results, fifo, 40))
        assert locked.returncode != 0 and "cannot be locked" in locked.stdout + locked.stderr
        # B3: a real run with another results directory
        other = tmp_path / "other"
        elsewhere = _snakemake(
            str(other / "data" / "heldout" / "stem.parquet"), "--cores", "1", *_args(other, fifo, 40), env=env
        )
        assert elsewhere.returncode == 0, elsewhere.stderr[-3000:]

        assert settings[0].read_text() == planned  # written once, never again
        assert json.loads(planned)["data"]["filter"]["min_question_chars"] == 5
        with fifo.open("w") as f:  # run A goes on
            f.write(_rows(12))
        assert run_a.wait(timeout=600) == 0, (tmp_path / "a.out").read_text()[-4000:]
    finally:
        if run_a.poll() is None:
            run_a.kill()
        log.close()
    report = json.loads((results / "data" / "filtered" / "stem.report.json").read_text())
    assert report["input_rows"] == 12 and report["kept"] == 12, report
    assert "question_too_short" not in json.dumps(report.get("dropped", {}))
