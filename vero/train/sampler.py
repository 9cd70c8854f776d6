"""Keep the mix's category-balanced order through TRL's GRPO sampler.

The data stage writes `data/mix/{experiment}.parquet` so that every block of `mix.batch_size`
consecutive rows holds each category at its share. TRL's default `RepeatSampler` permutes the
whole dataset, which breaks those blocks. `BlockRepeatSampler` yields the same structure TRL
expects (each prompt `num_generations` times in a row, each rollout batch repeated
`repeat_count` times) but draws whole rollout batches from consecutive rows: in epoch 0 in the
mix's own order, in later epochs with the rollout batches permuted (seeded by the epoch, so a
resumed job sees the same order). A rollout batch made of whole blocks keeps the shares.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from vero.config import ConfigError


class BlockRepeatSampler(Sampler[int]):
    """Sequential rollout batches of `batch_size` prompts, each prompt repeated `mini_repeat_count` times."""

    def __init__(
        self,
        num_samples: int,
        *,
        mini_repeat_count: int,
        batch_size: int,
        repeat_count: int = 1,
        shuffle_batches_after_first_epoch: bool = True,
        seed: int = 0,
    ):
        if batch_size < 1 or mini_repeat_count < 1 or repeat_count < 1:
            raise ValueError("batch_size, mini_repeat_count and repeat_count must be >= 1")
        if num_samples < batch_size:
            raise ValueError(
                f"the training mix has {num_samples} rows, fewer than one rollout batch "
                f"({batch_size} prompts)"
            )
        self.num_samples = num_samples
        self.mini_repeat_count = mini_repeat_count
        self.batch_size = batch_size
        self.repeat_count = repeat_count
        self.shuffle_batches_after_first_epoch = shuffle_batches_after_first_epoch
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by transformers' Trainer (through accelerate) at the start of every epoch."""
        self.epoch = int(epoch)

    def batch_order(self) -> list[int]:
        """Indices of the rollout batches (0 = rows [0, batch_size)) in this epoch's order."""
        n_batches = self.num_samples // self.batch_size
        if self.epoch == 0 or not self.shuffle_batches_after_first_epoch:
            return list(range(n_batches))
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(n_batches, generator=gen).tolist()

    def __iter__(self) -> Iterator[int]:
        for b in self.batch_order():
            chunk = range(b * self.batch_size, (b + 1) * self.batch_size)
            for _ in range(self.repeat_count):
                for index in chunk:
                    for _ in range(self.mini_repeat_count):
                        yield index

    def __len__(self) -> int:
        return (
            (self.num_samples // self.batch_size)
            * self.batch_size
            * self.mini_repeat_count
            * self.repeat_count
        )


def check_block_alignment(train_batch_size: int, mix_batch_size: int, *, single_category: bool) -> None:
    """A rollout batch must be whole mix blocks, or the category shares are not guaranteed."""
    if single_category:
        return
    if train_batch_size % mix_batch_size:
        raise ConfigError(
            f"config key 'train.batch_size': {train_batch_size} is not a multiple of mix.batch_size "
            f"({mix_batch_size}); rollout batches would cut the mix's category-balanced blocks"
        )


def category_counts_per_batch(
    categories: Sequence[str], indices: Sequence[int], batch_len: int
) -> list[Counter]:
    """Category counts of consecutive chunks of `batch_len` sampled indices (a test and log helper)."""
    return [
        Counter(categories[i] for i in indices[start : start + batch_len])
        for start in range(0, len(indices) - batch_len + 1, batch_len)
    ]
