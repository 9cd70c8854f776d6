"""Spatial routes: grounding (Hungarian-matched boxes) and clicking (point in box).

Ground truth is stored in absolute pixels. For a model family that writes Qwen [0, 1000]-normalized
coordinates (`coords="qwen1000"`), the gold is converted with the image size before comparison.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.optimize import linear_sum_assignment

from vero.rewards.routes.context import RouteContext
from vero.rewards.text import boxed_contents, is_number, load_literal

IOU_THRESHOLD = 0.5
_MAX_ITEMS = 1000  # a prediction with more boxes than this is refused (cost of the matching)


def _coords(value: object, n: int) -> tuple[float, ...] | None:
    if not isinstance(value, list | tuple) or len(value) != n or not all(is_number(v) for v in value):
        return None
    out = tuple(float(v) for v in value)
    return out if all(math.isfinite(v) for v in out) else None


def _ordered_box(b: tuple[float, ...]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = b
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _items(text: str, key: str, n: int) -> list[tuple[float, ...]] | None:
    """A strict JSON array of objects each with `key` → n numbers (bare or as the single \\boxed content)."""
    s = text.strip()
    if "\\boxed" in s:
        boxes = boxed_contents(s)
        if len(boxes) != 1:
            return None
        s = boxes[0].strip()
    if not s.startswith("["):
        return None
    try:
        value = load_literal(s)
    except ValueError:
        return None
    if not isinstance(value, list) or len(value) > _MAX_ITEMS:
        return None
    out = []
    for item in value:
        if not isinstance(item, dict) or key not in item:
            return None
        c = _coords(item[key], n)
        if c is None:
            return None
        out.append(c)
    return out


@lru_cache(maxsize=4096)
def gold_boxes(answer: str) -> tuple[tuple[float, float, float, float], ...]:
    boxes = _items(answer, "bbox_2d", 4)
    if not boxes:
        raise ValueError("expected a JSON array of {'bbox_2d': [x1, y1, x2, y2]} objects")
    return tuple(_ordered_box(b) for b in boxes)


def check_box_gold(answer: str) -> None:
    try:
        gold_boxes(answer)
    except ValueError as exc:
        raise ValueError(f"box ground truth {answer!r}: {exc}") from None


def _to_model_coords(boxes, ctx: RouteContext) -> list[tuple[float, float, float, float]]:
    if ctx.coords == "absolute":
        return list(boxes)
    if ctx.coords != "qwen1000":
        raise ValueError(f"unknown coords {ctx.coords!r}")
    if not ctx.image_size:
        raise ValueError("coords='qwen1000' needs the sample's image_size (w, h) to convert the gold boxes")
    sx, sy = 1000.0 / ctx.image_size[0], 1000.0 / ctx.image_size[1]
    return [(x1 * sx, y1 * sy, x2 * sx, y2 * sy) for x1, y1, x2, y2 in boxes]


def box_iou(a, b) -> float:
    """IoU of two boxes (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2; 0 when the union is empty."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def grounding_score(pred, gold) -> float:
    """1.0·mean IoU of matches + 0.75·F1 − 0.5·½(FP rate + FN rate), clipped to [0, 1]; a match is a
    Hungarian pair (scipy `linear_sum_assignment`, maximizing total IoU) with IoU ≥ 0.5."""
    n_pred, n_gold = len(pred), len(gold)
    if n_pred == 0 or n_gold == 0:
        return 0.0
    iou = [[box_iou(p, g) for g in gold] for p in pred]
    if n_pred == 1 or n_gold == 1:  # the optimal assignment is the single best pair
        pairs = [max((v for row in iou for v in row), default=0.0)]
    else:
        rows, cols = linear_sum_assignment(np.asarray(iou), maximize=True)
        pairs = [iou[r][c] for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]
    matched = [v for v in pairs if v >= IOU_THRESHOLD]
    tp = len(matched)
    mean_iou = sum(matched) / tp if tp else 0.0
    precision, recall = tp / n_pred, tp / n_gold
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    fp_rate, fn_rate = (n_pred - tp) / n_pred, (n_gold - tp) / n_gold
    score = 1.0 * mean_iou + 0.75 * f1 - 0.5 * (0.5 * (fp_rate + fn_rate))
    return float(min(max(score, 0.0), 1.0))


def grounding_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    boxes = _items(pred, "bbox_2d", 4)
    if not boxes:
        return 0.0
    gold = _to_model_coords(gold_boxes(answer), ctx)
    return grounding_score([_ordered_box(b) for b in boxes], gold)


def clicking_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """1 when the single predicted point lies inside (edges included) any gold box, else 0."""
    points = _items(pred, "point_2d", 2)
    if not points or len(points) != 1:
        return 0.0
    x, y = points[0]
    gold = _to_model_coords(gold_boxes(answer), ctx)
    return 1.0 if any(x1 <= x <= x2 and y1 <= y <= y2 for x1, y1, x2, y2 in gold) else 0.0
