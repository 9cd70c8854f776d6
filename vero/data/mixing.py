"""Training mixtures: per-category subsets and the category-balanced all-category mix.

The mix file is the training order. Every consecutive block of `batch_size` rows holds each
category's configured share (floor or ceiling of share x batch_size), so a sequential sampler gives
balanced batches: with the recipe's equal weights, 1/6 of each batch per category.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tqdm import tqdm

from vero.data.io import RecordWriter, count_rows


class MixError(ValueError):
    """A mixture that cannot be built as configured; the message names the config key."""


def normalize_weights(categories: Sequence[str], weights: Mapping[str, float] | None) -> dict[str, float]:
    """Shares of the experiment's categories summing to 1 (equal when `weights` is None)."""
    if not categories:
        raise MixError("an experiment needs at least one category")
    if weights is None:
        return {c: 1.0 / len(categories) for c in categories}
    missing = [c for c in categories if c not in weights]
    if missing:
        raise MixError(f"config key 'mix.weights': no weight for categories {missing}")
    chosen = {c: float(weights[c]) for c in categories}
    total = sum(chosen.values())
    if total <= 0 or any(w < 0 or not math.isfinite(w) for w in chosen.values()):
        raise MixError(f"config key 'mix.weights': weights {chosen} must be >= 0 with a positive sum")
    return {c: w / total for c, w in chosen.items() if w > 0}


def batch_quotas(shares: Mapping[str, float], batch_size: int, total_rows: int) -> list[dict[str, int]]:
    """Rows per category for each block of `batch_size` (the last block may be shorter).

    Each block gives a category the floor of its share and hands the remaining slots to the
    categories furthest behind their cumulative target, so every block is within one row of the
    exact share and the totals track the weights.
    """
    if batch_size < 1:
        raise MixError(f"config key 'mix.batch_size': must be >= 1, got {batch_size}")
    cats = list(shares)
    given = dict.fromkeys(cats, 0)
    blocks = []
    done = 0
    while done < total_rows:
        size = min(batch_size, total_rows - done)
        quota = {c: math.floor(shares[c] * size) for c in cats}
        spare = size - sum(quota.values())
        deficit = sorted(
            cats, key=lambda c: (-(shares[c] * (done + size) - given[c] - quota[c]), cats.index(c))
        )
        for c in deficit[:spare]:
            quota[c] += 1
        for c in cats:
            given[c] += quota[c]
        blocks.append(quota)
        done += size
    return blocks


def check_batch_balance(
    categories_in_order: Sequence[str], batch_size: int, weights: Mapping[str, float] | None = None
) -> list[str]:
    """Problems with the category balance of a training order (empty = every full block is balanced).

    `weights` None means equal shares of the categories present.
    """
    present = sorted(set(categories_in_order))
    shares = (
        normalize_weights(present, None) if weights is None else normalize_weights(list(weights), weights)
    )
    problems = []
    stray = sorted(set(present) - set(shares))
    if stray:
        problems.append(f"categories {stray} have no weight")
    for start in range(0, len(categories_in_order) - batch_size + 1, batch_size):
        counts = Counter(categories_in_order[start : start + batch_size])
        for c, share in shares.items():
            lo, hi = math.floor(share * batch_size), math.ceil(share * batch_size)
            if not lo <= counts.get(c, 0) <= hi:
                problems.append(f"block at row {start}: {c} has {counts.get(c, 0)} rows, expected {lo}..{hi}")
    return problems


def _shuffled_rows(path: Path, rng: random.Random, buffer_size: int) -> Iterator[dict[str, Any]]:
    """One pass over a Parquet file in random order: row groups shuffled, rows through a buffer.

    With a buffer at least as large as the file this is a uniform shuffle; otherwise memory stays at
    `buffer_size` rows whatever the file size.
    """
    pf = pq.ParquetFile(path)
    order = list(range(pf.num_row_groups))
    rng.shuffle(order)
    buffer: list[dict[str, Any]] = []
    for g in order:
        for row in pf.read_row_group(g).to_pylist():
            if len(buffer) < buffer_size:
                buffer.append(row)
                continue
            i = rng.randrange(len(buffer))
            yield buffer[i]
            buffer[i] = row
    rng.shuffle(buffer)
    yield from buffer


class _CategoryStream:
    def __init__(self, category: str, path: Path, seed: int, buffer_size: int, allow_repeat: bool):
        self.category, self.path, self.buffer_size, self.allow_repeat = (
            category,
            path,
            buffer_size,
            allow_repeat,
        )
        self.rng = random.Random(f"{seed}:mix:{category}")
        self.epoch = 0
        self.available = count_rows(path)
        self._it = _shuffled_rows(path, self.rng, buffer_size)

    def take(self, n: int) -> list[dict[str, Any]]:
        out = []
        while len(out) < n:
            row = next(self._it, None)
            if row is None:
                self.epoch += 1
                self._it = _shuffled_rows(self.path, self.rng, self.buffer_size)
                continue
            if self.epoch:
                row = {**row, "id": f"{row['id']}#repeat{self.epoch}"}
            out.append(row)
        return out


def build_mix(
    filtered_paths: Mapping[str, str | Path],
    categories: Sequence[str],
    samples_per_category: int,
    batch_size: int,
    weights: Mapping[str, float] | None,
    seed: int,
    out_path: str | Path,
    *,
    allow_repeat: bool = False,
    shuffle_buffer: int = 10000,
    progress: bool = False,
) -> dict[str, Any]:
    """Write the training order of one experiment to `out_path`; returns a summary.

    The mix holds `samples_per_category x len(categories)` rows, split across categories by
    `weights` (equal when None); a single-category experiment takes `samples_per_category` rows of
    its category.
    """
    shares = normalize_weights(list(categories), weights)
    total = samples_per_category * len(categories)
    blocks = batch_quotas(shares, batch_size, total)
    needed = Counter()
    for q in blocks:
        needed.update(q)
    streams = {}
    for c in shares:
        if c not in filtered_paths:
            raise MixError(f"no filtered data for category {c!r}")
        stream = _CategoryStream(c, Path(filtered_paths[c]), seed, shuffle_buffer, allow_repeat)
        if stream.available == 0:
            raise MixError(f"{filtered_paths[c]}: no rows left for category {c!r} after filtering")
        if stream.available < needed[c] and not allow_repeat:
            raise MixError(
                f"{filtered_paths[c]}: category {c!r} has {stream.available} filtered rows but the mix needs "
                f"{needed[c]}; lower 'mix.samples_per_category' or set 'mix.allow_repeat: true'"
            )
        streams[c] = stream
    block_rng = random.Random(f"{seed}:mix:blocks")
    with RecordWriter(out_path, row_group_size=max(1, min(batch_size, 1024))) as writer:
        for quota in tqdm(blocks, desc="mix", unit="batches", disable=not progress):
            block = [row for c, n in quota.items() if n for row in streams[c].take(n)]
            block_rng.shuffle(block)  # categories interleaved within each block, not in runs
            for row in block:
                writer.write(row)
    return {
        "rows": total,
        "batch_size": batch_size,
        "blocks": len(blocks),
        "shares": shares,
        "rows_per_category": dict(needed),
        "available_per_category": {c: s.available for c, s in streams.items()},
        "repeated_epochs": {c: s.epoch for c, s in streams.items() if s.epoch},
    }
