"""Wall time of the whole CPU demo: `snakemake all` with config/demo.yaml into a fresh directory.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/demo.py [--cores 2]

Prints the number of jobs, the wall time and the CPU time of the run (the goal: at most 15
minutes on 2 cores, aim 10).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cores", type=int, default=2)
    a = p.parse_args(argv)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "all",
            "--profile",
            "profiles/local",
            "--configfile",
            "config/demo.yaml",
            "--cores",
            str(a.cores),
            "--config",
            f"results_dir={tmp}/results",
        ]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            raise SystemExit(f"demo failed:\n{out.stderr[-4000:]}")
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        m = re.search(r"(\d+) of (\d+) steps \(100%\) done", out.stdout + out.stderr)
        jobs = m.group(2) if m else "?"
    print(
        f"demo: {jobs} jobs on {a.cores} cores in {wall:.0f} s wall "
        f"({(usage.ru_utime + usage.ru_stime) / 60:.1f} CPU-min)"
    )


if __name__ == "__main__":
    main()
