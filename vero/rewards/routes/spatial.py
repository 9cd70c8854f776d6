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


def _to_model_coords(boxes, ctx: RouteContext) -> np.ndarray:
    arr = np.asarray(boxes, dtype=float)
    if ctx.coords == "qwen1000":
        if not ctx.image_size:
            raise ValueError(
                "coords='qwen1000' needs the sample's image_size (w, h) to convert the gold boxes"
            )
        w, h = ctx.image_size
        arr = arr * np.array([1000.0 / w, 1000.0 / h, 1000.0 / w, 1000.0 / h])
    elif ctx.coords != "absolute":
        raise ValueError(f"unknown coords {ctx.coords!r}")
    return arr


def iou_matrix(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """IoU of every predicted box (rows) with every gold box (columns); boxes are x1, y1, x2, y2."""
    px1, py1, px2, py2 = (pred[:, i : i + 1] for i in range(4))
    gx1, gy1, gx2, gy2 = (gold[:, i] for i in range(4))
    iw = np.clip(np.minimum(px2, gx2) - np.maximum(px1, gx1), 0, None)
    ih = np.clip(np.minimum(py2, gy2) - np.maximum(py1, gy1), 0, None)
    inter = iw * ih
    union = (px2 - px1) * (py2 - py1) + (gx2 - gx1) * (gy2 - gy1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(iou, nan=0.0, posinf=0.0, neginf=0.0)


def grounding_score(pred: np.ndarray, gold: np.ndarray) -> float:
    """1.0·mean IoU of matches + 0.75·F1 − 0.5·½(FP rate + FN rate), clipped to [0, 1]; a match is a
    Hungarian pair with IoU ≥ 0.5."""
    n_pred, n_gold = len(pred), len(gold)
    if n_pred == 0 or n_gold == 0:
        return 0.0
    iou = iou_matrix(pred, gold)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    matched = iou[rows, cols]
    matched = matched[matched >= IOU_THRESHOLD]
    tp = len(matched)
    mean_iou = float(matched.mean()) if tp else 0.0
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
    guess = np.asarray([_ordered_box(b) for b in boxes], dtype=float)
    return grounding_score(guess, gold)


def clicking_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """1 when the single predicted point lies inside (edges included) any gold box, else 0."""
    points = _items(pred, "point_2d", 2)
    if not points or len(points) != 1:
        return 0.0
    x, y = points[0]
    gold = _to_model_coords(gold_boxes(answer), ctx)
    inside = (gold[:, 0] <= x) & (x <= gold[:, 2]) & (gold[:, 1] <= y) & (y <= gold[:, 3])
    return 1.0 if bool(inside.any()) else 0.0
