"""VeroMini, the embedded procedurally generated dataset (see generator.py)."""

from vero.data.veromini.base import DEFAULT_DIFFICULTY, DIFFICULTIES
from vero.data.veromini.generator import (
    TASKS,
    generate_category,
    generate_veromini,
    reward_types_covered,
    write_pretrain,
)

__all__ = [
    "DEFAULT_DIFFICULTY",
    "DIFFICULTIES",
    "TASKS",
    "generate_category",
    "generate_veromini",
    "reward_types_covered",
    "write_pretrain",
]
