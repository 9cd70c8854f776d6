"""Throughput and memory of the data stage on Vero-600K's published layout (not a test: it prints
figures).

    .venv/bin/python benchmarks/filter.py                 # 10K and 100K rows
    .venv/bin/python benchmarks/filter.py --rows 50000    # one size

For each size a local dataset in the hub layout is written first (8 configs, i.e. source
datasets, in Parquet shards of 1,250 rows with the `datasets` features: an `image` column holding
an HF Image, `prompt` chat messages, `ability` round-robin over the release's six domain names,
`reward_model`, `extra_info`), then two stages run, each in a fresh process so the peak RSS printed
is that stage's own:

- ingest: `vero.data.readers.iter_hub_records` (`datasets.load_dataset`, streaming, as the paper
  config reads the hub) into `vero.data.ingest.split_by_category` (one Parquet file per category,
  the duplicate-id index, the ingestion report);
- filter: `vero.data.filtering.filter_file` on each of the six category files in turn (answer
  forms, image decode, dedup, source rules, the report per source).

Images come from a pool of 256 small noise PNGs (64x64, about 12 KB); about 2 % of the rows are
malformed (a grounding box with three numbers, a truncated image). Memory should stay flat as rows
grow: the filter holds one record batch plus a 12-byte digest per kept row, the ingest one entry
per id (the duplicate-id check) and whatever `datasets`' streaming reader holds, which is one
shard's batches (it keeps them until the shard ends: bigger shards, more memory).
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
CONFIGS = 8
SHARD_ROWS = 1250  # rows per Parquet shard, the same at every size (datasets' streaming reader holds one)
ABILITIES = (
    "chart_ocr",
    "knowledge_recognition",
    "spatial_action",
    "counting_grounding_search",
    "stem",
    "visual_alignment",
)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pool(rng: random.Random) -> list[bytes]:
    from PIL import Image

    pool = []
    for _ in range(POOL):
        im = Image.frombytes("RGB", (64, 64), rng.randbytes(64 * 64 * 3))
        buf = io.BytesIO()
        im.save(buf, format="PNG", compress_level=1)
        pool.append(buf.getvalue())
    return pool


def _row(i: int, config: str, pool: list[bytes]) -> dict:
    ability = ABILITIES[i % len(ABILITIES)]
    image = pool[i % POOL]
    if ability == "counting_grounding_search" and i % 5 == 0:
        rt, answer = "grounding", json.dumps([{"bbox_2d": [4, 4, 40 + i % 20, 50]}])
    elif ability == "stem":
        rt, answer = "numeric", f"{i % 97}.5"
    elif ability == "visual_alignment":
        rt, answer = "llm_judge", f"A square of noise, number {i}."
    else:
        rt, answer = "counting", str(i % 10)
    if i % 97 == 0:
        rt, answer = "grounding", '[{"bbox_2d": [1, 2, 3]}]'  # answer_invalid
    elif i % 101 == 0:
        image = pool[0][:40]  # image_undecodable
    question = f"How many red dots are in picture number {i}?"
    return {
        "id": f"{config}-{i}",
        "data_source": config,
        "prompt": [
            {"role": "system", "content": "Reason step by step, then answer."},
            {"role": "user", "content": "<image>\n" + question},
        ],
        "image": {"bytes": image, "path": f"{i}.png"},
        "ability": ability,
        "reward_model": {"style": "rule", "ground_truth": answer},
        "extra_info": {
            "answer": answer,
            "reward_type": rt,
            "tolerance": 0.01 if rt == "numeric" else None,
            "index": i,
            "question": "<image>\n" + question,
            "id": f"{config}-{i}",
        },
    }


def write_dataset(n: int, root: Path) -> None:
    """The hub layout: README.md declaring one config per source, a train shard each."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "data_source": datasets.Value("string"),
            "prompt": datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")}),
            "image": datasets.Image(),
            "ability": datasets.Value("string"),
            "reward_model": {"style": datasets.Value("string"), "ground_truth": datasets.Value("string")},
            "extra_info": {
                "answer": datasets.Value("string"),
                "reward_type": datasets.Value("string"),
                "tolerance": datasets.Value("float64"),
                "index": datasets.Value("int64"),
                "question": datasets.Value("string"),
                "id": datasets.Value("string"),
            },
        }
    )
    pool = _pool(random.Random(0))
    yaml = ["---", "configs:"]
    for c in range(CONFIGS):
        config = f"source_{c}"
        (root / config).mkdir(parents=True)
        indices = list(range(c, n, CONFIGS))
        shards = [indices[k : k + SHARD_ROWS] for k in range(0, len(indices), SHARD_ROWS)]
        for s, part in enumerate(shards):
            shard = root / config / f"train-{s:05d}-of-{len(shards):05d}.parquet"
            with pq.ParquetWriter(shard, features.arrow_schema) as writer:
                for k in range(0, len(part), 500):
                    rows = [_row(i, config, pool) for i in part[k : k + 500]]
                    writer.write_table(pa.Table.from_pylist(rows, schema=features.arrow_schema))
        yaml += [
            f"- config_name: {config}",
            "  data_files:",
            "  - split: train",
            f"    path: {config}/*.parquet",
        ]
    (root / "README.md").write_text("\n".join([*yaml, "---", ""]))


def run_ingest(root: Path, out: Path) -> dict:
    from vero.data.ingest import split_by_category
    from vero.data.readers import iter_hub_records

    start, cpu = time.perf_counter(), time.process_time()
    report = split_by_category(iter_hub_records(str(root), [], "train", streaming=True, curated=True), out)
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "rows": report["rows_read"],
        "dropped": report["dropped"],
    }


def run_filter(raw: Path, out: Path) -> dict:
    from vero.categories import CATEGORIES
    from vero.data.filtering import FilterSettings, filter_file

    settings = FilterSettings(min_image_pixels=1024)
    start, cpu = time.perf_counter(), time.process_time()
    rows, kept, dropped = 0, 0, {}
    for cat in CATEGORIES:
        r = filter_file(raw / f"{cat}.parquet", out / f"{cat}.parquet", settings, category=cat)
        rows, kept = rows + r["input_rows"], kept + r["kept"]
        for k, v in r["dropped"].items():
            dropped[k] = dropped.get(k, 0) + v
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "rows": rows,
        "kept": kept,
        "dropped": dropped,
    }


def _child(args: list[str]) -> dict:
    res = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        sys.exit(f"benchmark step {args} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, nargs="*", default=[10_000, 100_000])
    p.add_argument("--step", choices=["write", "ingest", "filter"], help=argparse.SUPPRESS)
    p.add_argument("--dir", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    if a.step:
        d = Path(a.dir)
        if a.step == "write":
            write_dataset(a.rows[0], d / "hub")
            out = {"written": a.rows[0]}
        elif a.step == "ingest":
            out = run_ingest(d / "hub", d / "raw")
        else:
            out = run_filter(d / "raw", d / "filtered")
        print(json.dumps({**out, "peak_rss_mb": round(_peak_mb(), 1)}))
        return
    print(f"{'rows':>8} {'stage':>7} {'seconds':>8} {'CPU s':>7} {'rows/s':>7} {'peak RSS MB':>12}  dropped")
    for n in a.rows:
        with tempfile.TemporaryDirectory(prefix="vero-filter-bench-") as tmp:
            _child(["--step", "write", "--rows", str(n), "--dir", tmp])
            for stage in ("ingest", "filter"):
                r = _child(["--step", stage, "--rows", str(n), "--dir", tmp])
                cells = f"{r['rows']:>8} {stage:>7} {r['seconds']:>8.1f} {r['cpu_seconds']:>7.1f}"
                print(
                    f"{cells} {r['rows'] / r['seconds']:>7.0f} {r['peak_rss_mb']:>12}  {r['dropped']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
