"""Throughput and memory of the data filter on generated rows (not a test: it prints figures).

    .venv/bin/python benchmarks/filter.py                 # 10K and 100K rows
    .venv/bin/python benchmarks/filter.py --rows 50000    # one size

Each size runs in a fresh process, so the peak RSS printed is that size's own. Rows are cheap
synthetic records (a pool of small noise PNGs, unique questions, a few malformed rows), written to
Parquet first; the timed part is `vero.data.filtering.filter_file` (read, check, dedup,
contamination, write). Memory should stay flat as rows grow: the filter holds one record batch
plus a 12-byte digest per kept row.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POOL = 256


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generated_rows(n: int, seed: int = 0):
    from PIL import Image

    from vero.data.schema import make_record

    rng = random.Random(seed)
    pool = []
    for _ in range(POOL):
        im = Image.frombytes("RGB", (64, 64), rng.randbytes(64 * 64 * 3))
        buf = io.BytesIO()
        im.save(buf, format="PNG", compress_level=1)
        pool.append(buf.getvalue())
    for i in range(n):
        row = make_record(
            id=f"g{i}",
            data_source=f"gen{i % 8}",
            category="grounding_counting_search",
            question=f"How many red dots are in picture number {i}?",
            images=[pool[i % POOL]],
            reward_type="counting",
            answer=str(i % 10),
            image_size=[64, 64],
        )
        if i % 97 == 0:
            row["answer"] = "many"  # answer_invalid
        elif i % 101 == 0:
            row["images"] = [pool[0][:40]]  # image_undecodable
        yield row


def run_one(n: int, workdir: Path) -> dict:
    from vero.data.filtering import FilterSettings, filter_file
    from vero.data.io import write_records

    raw, out = workdir / f"raw_{n}.parquet", workdir / f"filtered_{n}.parquet"
    write_records(raw, generated_rows(n))
    base_rss = _rss_mb()
    settings = FilterSettings(min_source_rows=1, min_source_mean_pixels=0, min_image_pixels=1024)
    start = time.perf_counter()
    report = filter_file(raw, out, settings, category="grounding_counting_search")
    seconds = time.perf_counter() - start
    return {
        "rows": n,
        "seconds": round(seconds, 2),
        "rows_per_s": round(n / seconds),
        "kept": report["kept"],
        "dropped": report["dropped"],
        "rss_before_filter_mb": round(base_rss, 1),
        "peak_rss_mb": round(_peak_mb(), 1),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, nargs="*", default=[10_000, 100_000])
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if a.child:
        with tempfile.TemporaryDirectory(prefix="vero-filter-bench-") as tmp:
            print(json.dumps(run_one(a.rows[0], Path(tmp))))
        return
    print(f"{'rows':>8} {'seconds':>8} {'rows/s':>8} {'kept':>8} {'peak RSS MB':>12}  dropped")
    for n in a.rows:
        res = subprocess.run(
            [sys.executable, __file__, "--child", "--rows", str(n)],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            sys.exit(f"benchmark for {n} rows failed:\n{res.stderr}")
        r = json.loads(res.stdout.strip().splitlines()[-1])
        cells = f"{r['rows']:>8} {r['seconds']:>8} {r['rows_per_s']:>8} {r['kept']:>8} {r['peak_rss_mb']:>12}"
        print(f"{cells}  {r['dropped']}")


if __name__ == "__main__":
    main()
