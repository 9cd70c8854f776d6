"""Spatial routes: grounding (Hungarian-matched boxes) and clicking (point in box).

Source of the rules: the release's `grounding_reward.py` and `click_reward.py`
(zlab-princeton/vero @ 8c81e37, vero-rl/vero_reward/). Ground truth is stored in absolute pixels. For
a model family that writes Qwen [0, 1000]-normalized coordinates (`coords="qwen1000"`) each gold
coordinate becomes round(v / size · 1000) clamped to [0, 1000]; predictions are taken as written. The
JSON list is the first `[{…}]` fragment of the text (a fenced ```json block first), coordinates are
anything `float()` reads ("12" included). Without the image size the accuracy is 0 (the release's rule),
and the breakdown carries the flag `no_image_size`.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np
from scipy.optimize import linear_sum_assignment

from vero.rewards.answer import NOT_JSON, cached_json
from vero.rewards.routes.context import RouteContext

IOU_THRESHOLD = 0.5
WEIGHTS = {"location": 1.0, "recall": 0.75, "penalty": 0.5}
_FENCED = re.compile(r"```(?:json)?\s*(\[.*?\])\s*```", re.DOTALL)
_ITEMS = re.compile(r"\[\s*\{.*?\}\s*\]", re.DOTALL)
_MAX_CHARS = 200_000


def json_items(text: str) -> object:
    """The release's JSON reading of a box or point answer: the first fenced ```json [...]``` block if it
    parses, else the first `[{…}]` fragment if it parses, else None (callers must not mutate it)."""
    if len(text) > _MAX_CHARS:
        return None
    for pattern in (_FENCED, _ITEMS):
        m = pattern.search(text)
        if m:
            value = cached_json(m.group(1) if pattern is _FENCED else m.group(0))
            if value is not NOT_JSON:
                return value
    return None


def _floats(value: object, n: int) -> list[float] | None:
    if not isinstance(value, list) or len(value) != n:
        return None
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError, OverflowError):
        return None


def _ordered(b: list[float]) -> list[float]:
    return [min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])]


def _boxes(text: str, ctx: RouteContext, gold: bool) -> list[list[float]]:
    parsed = json_items(text)
    if not parsed or not isinstance(parsed, list | dict):
        return []
    out = []
    for item in parsed:
        if not isinstance(item, dict):
            continue
        b = _floats(item.get("bbox_2d"), 4)
        if b is None:
            continue
        if gold and ctx.coords == "qwen1000":
            w, h = ctx.image_size or (0, 0)
            if not w or not h:
                continue
            b = [
                max(0.0, min(float(round(v / d * 1000.0)), 1000.0))
                for v, d in zip(b, (w, h, w, h), strict=True)
            ]
        out.append(_ordered(b) if ctx.fix.box_corner_order else b)
    return out


def gold_boxes(answer: str, ctx: RouteContext | None = None) -> list[list[float]]:
    return _boxes(answer, ctx or RouteContext(), gold=True)


@lru_cache(maxsize=4096)
def _gold(answer: str, ctx: RouteContext) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(b) for b in _boxes(answer, ctx, gold=True))


def check_box_gold(answer: str) -> None:
    if not isinstance(answer, str) or not gold_boxes(answer):
        raise ValueError(
            f"box ground truth {answer!r}: expected a JSON array of {{'bbox_2d': [x1, y1, x2, y2]}}"
        )


def iou_matrix(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """IoU of every predicted box with every gold box; negative widths count as 0, the union is at
    least 1e-12 (so two empty boxes have IoU 0)."""
    pa = (pred[:, 2] - pred[:, 0]).clip(min=0) * (pred[:, 3] - pred[:, 1]).clip(min=0)
    ga = (gold[:, 2] - gold[:, 0]).clip(min=0) * (gold[:, 3] - gold[:, 1]).clip(min=0)
    iw = (
        np.minimum(pred[:, None, 2], gold[None, :, 2]) - np.maximum(pred[:, None, 0], gold[None, :, 0])
    ).clip(min=0)
    ih = (
        np.minimum(pred[:, None, 3], gold[None, :, 3]) - np.maximum(pred[:, None, 1], gold[None, :, 1])
    ).clip(min=0)
    inter = iw * ih
    return inter / np.maximum(pa[:, None] + ga[None, :] - inter, 1e-12)


def _area(b) -> float:
    w, h = b[2] - b[0], b[3] - b[1]
    return (w if w > 0 else 0.0) * (h if h > 0 else 0.0)


def _iou_rows(pred, gold) -> list[list[float]]:
    """`iou_matrix` for finite boxes in plain Python, with the same floating-point operations (so the
    same values); faster than numpy for the few boxes of an answer."""
    gold_areas = [_area(g) for g in gold]
    rows = []
    for p in pred:
        pa = _area(p)
        row = []
        for g, ga in zip(gold, gold_areas, strict=True):
            iw = (p[2] if p[2] < g[2] else g[2]) - (p[0] if p[0] > g[0] else g[0])
            ih = (p[3] if p[3] < g[3] else g[3]) - (p[1] if p[1] > g[1] else g[1])
            inter = (iw if iw > 0 else 0.0) * (ih if ih > 0 else 0.0)
            union = pa + ga - inter
            row.append(inter / (union if union > 1e-12 else 1e-12))
        rows.append(row)
    return rows


def grounding_score(pred: list[list[float]], gold: list[list[float]]) -> float:
    """1.0·mean IoU of matches + 0.75·F1 − 0.5·½(FP rate + FN rate), clipped to [0, 1]. Matches: the
    Hungarian assignment (scipy `linear_sum_assignment`) of cost 1 − IoU, 10⁶ below IoU 0.5, keeping
    pairs with IoU ≥ 0.5. No gold → 0; an undefined IoU (NaN coordinates) → 0."""
    n, m = len(pred), len(gold)
    if m == 0:
        return 0.0
    matched: list[float] = []
    if n:
        finite = all(math.isfinite(v) for b in (*pred, *gold) for v in b)
        if finite and n * m <= 64:
            iou = _iou_rows(pred, gold)
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                iou = iou_matrix(np.asarray(pred, dtype=float), np.asarray(gold, dtype=float)).tolist()
            if any(v != v for row in iou for v in row):
                return 0.0  # scipy refuses a cost matrix with NaN: the release scores 0
        if n == 1 or m == 1:
            # One row (column): the assignment takes the lowest cost, i.e. the highest IoU if any is
            # at the threshold, else no match.
            best = max(v for row in iou for v in row)
            matched = [best] if best >= IOU_THRESHOLD else []
        else:
            arr = np.asarray(iou)
            cost = 1.0 - arr
            cost[arr < IOU_THRESHOLD] = 1e6
            rows, cols = linear_sum_assignment(cost)
            matched = [
                iou[r][c]
                for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
                if iou[r][c] >= IOU_THRESHOLD
            ]
    tp = len(matched)
    if 0 < tp < 8:  # numpy's mean of fewer than 8 values: a left-to-right sum, divided
        total = 0.0
        for v in matched:
            total += v
        mean_iou = total / tp
    else:
        mean_iou = float(np.mean(matched)) if tp else 0.0
    precision = tp / n if n else (1.0 if tp == m else 0.0)
    recall = tp / m
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    fp_rate = (n - tp) / n if n else 0.0
    fn_rate = (m - tp) / m
    penalty = WEIGHTS["penalty"] * 0.5 * (fp_rate + fn_rate)
    score = WEIGHTS["location"] * mean_iou + WEIGHTS["recall"] * f1 - penalty
    return min(max(score, 0.0), 1.0)


def grounding_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    if ctx.image_size is None:
        return 0.0
    return grounding_score(_boxes(pred, ctx, gold=False), _gold(answer, ctx))


def clicking_reward(pred: str, answer: str, ctx: RouteContext) -> float:
    """1 when the first predicted point lies inside the first gold box (edges included), else 0. In
    absolute coordinates a point outside the image scores 0. With the `click_any_gold_box` correction
    any gold box counts."""
    if ctx.image_size is None:
        return 0.0
    parsed = json_items(pred)
    if not parsed or not isinstance(parsed, list | dict):
        return 0.0
    first = parsed[0] if isinstance(parsed, list) else None
    if not isinstance(first, dict):
        return 0.0
    point = first.get("point_2d")
    if not point:
        return 0.0
    xy = _floats(point, 2)
    if xy is None:
        return 0.0
    x, y = xy
    if ctx.coords != "qwen1000":
        w, h = ctx.image_size
        if not (0 <= x <= w and 0 <= y <= h):
            return 0.0
    gold = _gold(answer, ctx)
    if not gold:
        return 0.0
    candidates = gold if ctx.fix.click_any_gold_box else gold[:1]
    return 1.0 if any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in candidates) else 0.0
