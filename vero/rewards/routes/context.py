"""Per-sample context a route may need beyond the prediction and the ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field

from vero.rewards.semantics import RELEASE, Corrections


@dataclass(frozen=True)
class RouteContext:
    tolerance: float | None = None
    image_size: tuple[int, int] | None = None
    coords: str = "absolute"  # "absolute" pixels or "qwen1000" ([0, 1000]-normalized, Qwen3-VL)
    math_verify_timeout_s: float = 5.0
    fix: Corrections = field(default=RELEASE)  # the corrections in force (none: the release's reward)
