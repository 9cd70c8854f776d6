"""The whole CPU demo and its figures: `snakemake all` with config/demo.yaml, then what it shows.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/demo.py [--cores 2] [--keep DIR]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/demo.py --results DIR   # figures of a finished run

Runs the demo into a fresh directory (or DIR with --keep), then prints the number of jobs, the
wall and CPU time (the goal: at most 15 minutes on 2 cores, aim 10), the CPU time per rule, and
the figures of issue 17 side by side with their targets (vero.report.demo_figures): mixed run
vs base overall (mean ± SEM), the transfer matrix's diagonal, math-verify-only vs task-routed
reward on grounding, reasoning length by category, traces per category. With --results it only
reads DIR.
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
    p.add_argument("--keep", help="run into this directory and keep it (default: a temporary one)")
    p.add_argument("--results", help="do not run: print the figures of this finished results dir")
    a = p.parse_args(argv)
    if a.results:
        print_figures(Path(a.results))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    with tempfile.TemporaryDirectory() as tmp:
        if a.keep:
            tmp = str(Path(a.keep).resolve())
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
        print_figures(Path(tmp) / "results", wall_s=wall)


def cpu_by_rule(results: Path) -> dict[str, float]:
    """CPU seconds per rule, summed over its jobs' Snakemake timing files (results/benchmarks/:
    `<rule>.tsv` or `<rule>/**/*.tsv`, column cpu_time), largest first."""
    import csv

    out: dict[str, float] = {}
    for path in sorted((results / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(results / "benchmarks").parts[0].removesuffix(".tsv")
        with path.open() as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        out[rule] = out.get(rule, 0.0) + sum(float(r["cpu_time"]) for r in rows if r.get("cpu_time"))
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def print_figures(results: Path, wall_s: float | None = None) -> None:
    from vero.config import load_config
    from vero.report.demo_figures import demo_figures, figure_lines

    cfg = (
        load_config(results / "resolved_config.json")
        if (results / "resolved_config.json").is_file()
        else (load_config(ROOT / "config" / "demo.yaml"))
    )
    cpu = cpu_by_rule(results)
    if cpu:
        print("CPU-s by rule (Snakemake timing files): " + ", ".join(f"{r} {v:.0f}" for r, v in cpu.items()))
    fig = demo_figures(results, cfg)
    fig["wall_s"] = wall_s
    base = fig["base"]
    if base["categories"]:
        print(
            "base model per category (%, mean ± SEM, n): "
            + ", ".join(
                f"{c} {s:.1f} ± {e:.1f} (n={n})"
                for c, (s, e, n) in base["categories"].items()
                if s is not None
            )
        )
    rows = figure_lines(fig)
    w = max(len(r[0]) for r in rows) if rows else 10
    print(f"{'figure':<{w}} | {'target':<18} | met | measured")
    for name, measured, target, met in rows:
        print(f"{name:<{w}} | {target:<18} | {met:<3} | {measured}")


if __name__ == "__main__":
    main()
