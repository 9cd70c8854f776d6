"""VeroMini, the embedded procedurally generated dataset (see generator.py)."""

from vero.data.veromini.generator import TASKS, generate_category, generate_veromini, reward_types_covered

__all__ = ["TASKS", "generate_category", "generate_veromini", "reward_types_covered"]
