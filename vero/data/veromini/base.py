"""What a VeroMini task returns, and the registry of tasks per category."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image


@dataclass
class Draft:
    """One generated sample before it becomes a record (ids, split and bytes are added later)."""

    question: str
    images: list[Image.Image]
    reward_type: str
    answer: str
    tolerance: float | None = None
    # Facts behind the sample (kept out of the record), used by tests to build completions.
    meta: dict[str, Any] = field(default_factory=dict)


TaskFn = Callable[[random.Random], Draft]


@dataclass(frozen=True)
class Task:
    name: str
    category: str
    reward_type: str
    make: TaskFn


def dumps(value: Any) -> str:
    """Compact, stable JSON for structured answers."""
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


def pick_size(rng: random.Random, lo: int = 96, hi: int = 160) -> tuple[int, int]:
    return rng.randint(lo, hi), rng.randint(lo, hi)
