"""No invocation changes what an invocation already running will read (issue 11 item 3).

Run A plans its jobs and starts them; its first filter job waits on the question-filter endpoint
this test holds. Meanwhile a dry run with other settings, a run the lock refuses, and a run with
another results directory all happen. Then the endpoint answers, and A's later jobs (the other
filters, the filter report, the mix) must run on A's settings: its mix holds
`mix.samples_per_category: 4` rows where every other invocation asked for 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vero.config import REPO_ROOT
from vero.data.io import read_parquet_records

pytestmark = pytest.mark.slow

RELEASE = threading.Event()
ASKED = threading.Event()


class HeldJudge(BaseHTTPRequestHandler):
    """A question-filter judge that keeps every reply until the test releases it."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        ASKED.set()
        RELEASE.wait(timeout=600)
        content = '{"relevance": 9, "ambiguity": 9, "verifiability": 9}'
        reply = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def _args(results, endpoint, per_category):
    qf = {"enabled": True, "base_url": endpoint, "max_retries": 0, "timeout_s": 900}
    config = [
        f"results_dir={results}",
        f"data={json.dumps({'filter': {'question_filter': qf}})}",
        f"mix={json.dumps({'samples_per_category': per_category})}",
    ]
    return ["--configfile", "config/demo.yaml", "--config", *config]


def _snakemake(*args, **kw):
    cmd = [sys.executable, "-m", "snakemake", *args]
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, **kw)


def test_dry_runs_locked_out_runs_and_other_results_dirs_change_nothing_a_running_job_reads(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), HeldJudge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1"
    RELEASE.clear()
    ASKED.clear()
    results = tmp_path / "results"
    target = str(results / "data" / "mix" / "single_stem.parquet")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    log = (tmp_path / "a.out").open("w")
    run_a = subprocess.Popen(
        [sys.executable, "-m", "snakemake", target, "--cores", "1", *_args(results, endpoint, 4)],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 600
        while not ASKED.wait(timeout=1):  # A is inside its first filter job
            assert run_a.poll() is None, (tmp_path / "a.out").read_text()[-3000:]
            assert time.monotonic() < deadline, "run A never reached the question filter"
        mix_settings = sorted((results / "settings" / "data_mix").glob("*.json"))
        assert len(mix_settings) == 1, mix_settings
        planned = mix_settings[0].read_text()

        # B1: a dry run with other settings, same results directory
        dry = _snakemake(target, "-n", "--cores", "1", *_args(results, endpoint, 2))
        assert dry.returncode == 0, dry.stderr[-3000:]
        # B2: a real run with other settings: refused by the lock
        locked = _snakemake(target, "--cores", "1", *_args(results, endpoint, 2))
        assert locked.returncode != 0 and "cannot be locked" in locked.stdout + locked.stderr
        # B3: a real run with another results directory
        other = tmp_path / "other"
        heldout = str(other / "data" / "heldout" / "stem.parquet")
        elsewhere = _snakemake(heldout, "--cores", "1", *_args(other, endpoint, 2), env=env)
        assert elsewhere.returncode == 0, elsewhere.stderr[-3000:]

        assert mix_settings[0].read_text() == planned  # written once, never again
        assert json.loads(planned)["experiments"]["single_stem"]["mix"]["samples_per_category"] == 4
        RELEASE.set()  # run A goes on
        assert run_a.wait(timeout=900) == 0, (tmp_path / "a.out").read_text()[-4000:]
    finally:
        RELEASE.set()
        if run_a.poll() is None:
            run_a.kill()
        log.close()
        server.shutdown()
    rows = list(read_parquet_records(results / "data" / "mix" / "single_stem.parquet", columns=["category"]))
    assert [r["category"] for r in rows] == ["stem"] * 4
