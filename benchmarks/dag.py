"""Dry-run time of the DAG: the paper config, and a 10x larger experiment grid.

    .venv/bin/python benchmarks/dag.py [--repeats 3] [--scale 10]

For each config it runs `snakemake -n --quiet all` in a subprocess (what a user waits for before
anything is submitted) and prints the wall time (best of the repeats) and the number of jobs.
The larger grid copies every experiment of config/config.yaml `scale` times with a different
learning rate each (`<name>_lr<k>`), so the DAG grows in every stage at once.
"""

from __future__ import annotations

import argparse
import copy
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def scaled_config(base: dict, scale: int) -> dict:
    cfg = copy.deepcopy(base)
    grid = {}
    for name, exp in base["experiments"].items():
        for k in range(scale):
            e = copy.deepcopy(exp)
            if k:
                train = dict(e.get("train") or {})
                train["learning_rate"] = float(base.get("train", {}).get("learning_rate", 1e-6)) * (1 + k)
                e["train"] = train
            grid[name if k == 0 else f"{name}_lr{k}"] = e
    cfg["experiments"] = grid
    return cfg


def dry_run(configfile: Path, results_dir: str) -> tuple[float, int]:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "all",
        "-n",
        "--quiet",
        "rules",
        "--cores",
        "1",
        "--configfile",
        str(configfile),
        "--config",
        f"results_dir={results_dir}",
    ]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"dry run failed for {configfile}:\n{out.stderr[-3000:]}")
    m = re.search(r"^total\s+(\d+)", out.stdout + out.stderr, flags=re.M)
    return dt, int(m.group(1)) if m else -1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--scale", type=int, default=10)
    a = p.parse_args(argv)
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / f"config_x{a.scale}.yaml"
        big.write_text(yaml.safe_dump(scaled_config(base, a.scale)))
        cases = [
            (f"paper ({len(base['experiments'])} experiments)", ROOT / "config" / "config.yaml"),
            (f"grid x{a.scale} ({len(base['experiments']) * a.scale} experiments)", big),
        ]
        print(f"{'config':<32} {'jobs':>6} {f'dry-run s (best of {a.repeats})':>24}")
        for label, path in cases:
            runs = [dry_run(path, f"{tmp}/results") for _ in range(a.repeats)]
            best = min(t for t, _ in runs)
            print(f"{label:<32} {runs[0][1]:>6} {best:>24.2f}")


if __name__ == "__main__":
    main()
