"""What a VeroMini task returns, the difficulty levels, and the registry of tasks per category."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from vero.data.veromini.drawing import COLOR_BY_NAME, COLORS, OBJECT_NAMES, SHAPE_NAMES, NamedColor

# Difficulty levels, from the easy end (what the tiny CPU demo model learns in minutes) to the
# original draw. Every task keeps its reward type and category at every level; a level only
# changes the scene and its vocabulary, and never puts the answer into the question text.
#   hard:   the original scenes: varied canvas sizes, free placement, up to 10 objects, the full
#           vocabulary (9 colors, 6 shapes, 8 objects), two-digit values, small fonts;
#   medium: a fixed 112 px canvas, objects in the cells of a 3 x 3 grid, the full vocabulary,
#           single digits, large fonts;
#   easy:   the 112 px canvas with a 2 x 2 grid, 4 colors, 3 shapes, 4 objects, small numbers.
DIFFICULTIES = ("easy", "medium", "hard")
DEFAULT_DIFFICULTY = "hard"

# The fixed canvas of easy and medium: 112 x 112 px is exactly the tiny VLM's image budget
# (4 x 4 merged 28 px patches), so it is not resized and pixel coordinates are the ones the
# model sees.
EASY_SIDE = 112


def check_difficulty(difficulty: str) -> str:
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"VeroMini difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")
    return difficulty


@dataclass(frozen=True)
class Vocab:
    """What a level draws from: named colors, shapes, objects, grid cells, the largest small number."""

    colors: tuple[NamedColor, ...]
    shapes: tuple[str, ...]
    objects: tuple[str, ...]
    grid: int  # cells per side of grid-placed scenes (easy and medium)
    box: int  # side of a grid-placed object, px
    top: int  # largest bar value, operand, tag number or symbol index

    def digits(self, start: int = 1) -> str:
        """The digits start..top as characters."""
        return "".join(str(i) for i in range(start, self.top + 1))

    def letters(self) -> str:
        return string.ascii_uppercase[: self.top]


_FULL = Vocab(COLORS, SHAPE_NAMES, OBJECT_NAMES, grid=3, box=32, top=9)
VOCABS = {
    "hard": _FULL,
    "medium": _FULL,
    "easy": Vocab(
        tuple(COLOR_BY_NAME[n] for n in ("red", "green", "blue", "yellow")),
        ("circle", "square", "triangle"),
        ("house", "tree", "sun", "heart"),
        grid=2,
        box=44,
        top=4,
    ),
}


def vocab(level: str) -> Vocab:
    return VOCABS[check_difficulty(level)]


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
    # A short worked reasoning from the drawn facts (the think block of a warm-start target).
    rationale: str = ""
    # The answer block of a warm-start target when the `answer` field is not itself a reference
    # (instruction following: a response that meets every constraint); None = derived from `answer`.
    response: str | None = None


TaskFn = Callable[[random.Random, str], Draft]


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
