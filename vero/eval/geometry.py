"""Boxes and points of VeroEval's grounding and clicking benchmarks, read as the Vero release reads
them (AerialVG: `vero-eval/lmms_eval/tasks/aerialvg/utils.py`; ScreenSpot and ScreenSpot-Pro:
`.../screenspot_point_in_box/utils_point.py`, `.../screenspotpro/utils_point.py`).

Reading order of an answer: the whole answer as JSON, searched depth-first for the first
`bbox_2d` / `point_2d`; else the last fenced JSON block that holds one; else the last
`bbox_2d: [...]` / `point_2d: [...]` written in the text; else (points) the last `[x, y]`; else
the last four (boxes) or two (points) numbers of the text — so a box written in prose still reads,
and a box given where a point is asked reads as its bottom-right corner.

Coordinates: the release's reasoning tasks read predictions as absolute pixels for every model
family ("absolute"); its zero-shot Qwen3-VL tasks read them on Qwen's 0–1000 grid ("qwen1000").
Predicted and gold boxes are clipped to the image and their corners sorted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

_NUM_RE = re.compile(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?")
_FENCED_RE = re.compile(r"```(?:json)?\s*(\[[\s\S]*?\])\s*```", re.IGNORECASE)
COORDS = ("absolute", "qwen1000")


def _find_key(obj: Any, key: str, n: int) -> list[float] | None:
    """Depth-first: the first `key` holding a list of ≥ n values (its first n as floats)."""
    if isinstance(obj, dict):
        if key in obj and isinstance(obj[key], (list, tuple)) and len(obj[key]) >= n:
            try:
                return [float(v) for v in obj[key][:n]]
            except (TypeError, ValueError):
                return None
        for value in obj.values():
            found = _find_key(value, key, n)
            if found is not None:
                return found
    if isinstance(obj, list):
        for item in obj:
            found = _find_key(item, key, n)
            if found is not None:
                return found
    return None


def _read(text: str, key: str, n: int, pair_fallback: bool) -> list[float] | None:
    coords = None
    try:
        coords = _find_key(json.loads(text), key, n)
    except Exception:
        coords = None
    if coords is None:
        for block in reversed(_FENCED_RE.findall(text)):
            try:
                coords = _find_key(json.loads(block), key, n)
            except Exception:
                coords = None
            if coords is not None:
                break
    if coords is None:
        written = re.findall(key + r"\"?\s*[:=]\s*\[\s*([^\]]+)\]", text, flags=re.IGNORECASE)
        if written:
            nums = _NUM_RE.findall(written[-1])
            if len(nums) >= n:
                coords = [float(v) for v in nums[:n]]
    if coords is None and pair_fallback:
        pairs = re.findall(r"\[\s*(-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?)\s*\]", text)
        if pairs:
            coords = [float(pairs[-1][0]), float(pairs[-1][1])]
    if coords is None:
        nums = _NUM_RE.findall(text)
        if len(nums) >= n:
            coords = [float(v) for v in nums[-n:]]
    return coords


def release_box(answer: Any) -> list[float] | None:
    """AerialVG's predicted box [x1, y1, x2, y2] of an extracted answer, or None (reading order in
    the module docstring).

    >>> release_box('[{"bbox_2d": [10, 20, 30, 40], "label": "car"}, {"bbox_2d": [1, 1, 2, 2]}]')
    [10.0, 20.0, 30.0, 40.0]
    >>> release_box("The car spans x from 12 to 80 and y from 5 to 44")
    [12.0, 80.0, 5.0, 44.0]
    """
    return _read(answer, "bbox_2d", 4, False) if isinstance(answer, str) else None


def release_point(answer: Any) -> list[float] | None:
    """ScreenSpot's predicted point [x, y] of an extracted answer, or None.

    >>> release_point('[{"point_2d": [120, 45]}]'), release_point("click at (300, 200)")
    ([120.0, 45.0], [300.0, 200.0])
    """
    return _read(answer, "point_2d", 2, True) if isinstance(answer, str) else None


def clip_sort_box(
    box: Sequence[float], width: float | None = None, height: float | None = None
) -> list[float]:
    """Corners clipped to [0, width] × [0, height] ([0, 1] without a size), then each axis sorted.

    >>> clip_sort_box([90, 50, -5, 20], 80, 60)
    [0.0, 20.0, 80.0, 50.0]
    """
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w, h = (float(width), float(height)) if width is not None and height is not None else (1.0, 1.0)
    x1, x2 = sorted([max(0.0, min(w, x1)), max(0.0, min(w, x2))])
    y1, y2 = sorted([max(0.0, min(h, y1)), max(0.0, min(h, y2))])
    return [x1, y1, x2, y2]


def to_pixels(values: Sequence[float], size: Sequence[float], coords: str) -> list[float]:
    """Prediction coordinates → pixels: unchanged for "absolute", ×(w or h)/1000 for "qwen1000"."""
    if coords == "absolute":
        return [float(v) for v in values]
    if coords != "qwen1000":
        raise ValueError(f"unknown coordinate convention {coords!r}; expected one of {list(COORDS)}")
    w, h = size
    return [float(v) * (w if i % 2 == 0 else h) / 1000.0 for i, v in enumerate(values)]


def iou(a: Sequence[float] | None, b: Sequence[float] | None) -> float:
    """Intersection over union of two [x1, y1, x2, y2] boxes (0 for an empty union).

    >>> round(iou([0, 0, 10, 10], [5, 0, 15, 10]), 4)
    0.3333
    """
    if not a or not b:
        return 0.0
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (
        max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1]) + max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]) - inter
    )
    return inter / union if union > 0 else 0.0


def aerialvg_scores(
    answer: Any, gold: Sequence[float], width: float, height: float, coords: str = "absolute"
) -> dict[str, Any]:
    """AerialVG's figures of one sample: IoU of the predicted box (`release_box`, in pixels,
    clipped and sorted) with the gold box (clipped and sorted), acc@0.5 and acc@0.75.

    >>> aerialvg_scores('[{"bbox_2d": [12, 10, 50, 52]}]', [10, 10, 50, 50], 100, 100)["acc@0.5"]
    1.0
    """
    box = release_box(answer)
    pred = clip_sort_box(to_pixels(box, (width, height), coords), width, height) if box else None
    value = iou(pred, clip_sort_box(gold, width, height)) if pred else 0.0
    return {
        "iou": value,
        "acc@0.5": 1.0 if value >= 0.5 else 0.0,
        "acc@0.75": 1.0 if value >= 0.75 else 0.0,
        "box": pred,
    }


def screenspot_hit(
    answer: Any,
    gold: Sequence[float],
    size: Sequence[float] | None,
    *,
    gold_relative: bool,
    coords: str = "absolute",
) -> tuple[bool, list[float]]:
    """(hit, point) of a click: the predicted point (`release_point`, [0, 0] when none) lies in the
    gold box, edges included.

    ScreenSpot (`gold_relative`: boxes as fractions of the screenshot): point ÷ (w, h), both
    clipped to [0, 1]. ScreenSpot-Pro (pixel boxes): the point clamped to the screenshot, the box
    clipped and sorted. Without an image size a ScreenSpot point reads as (0, 0).

    >>> screenspot_hit('[{"point_2d": [50, 20]}]', [0.4, 0.1, 0.6, 0.3], (100, 100), gold_relative=True)
    (True, [0.5, 0.2])
    """
    point = release_point(answer)
    w, h = (float(size[0]), float(size[1])) if size else (None, None)
    if gold_relative:  # ScreenSpot: compare in fractions of the screenshot
        if point is None:
            pred = [0.0, 0.0]
        elif coords == "qwen1000":
            pred = [point[0] / 1000.0, point[1] / 1000.0]
        elif not w or not h:
            pred = [0.0, 0.0]
        else:
            pred = [point[0] / w, point[1] / h]
        pred = [max(0.0, min(1.0, v)) for v in pred]
        box = clip_sort_box(gold)
    elif coords == "qwen1000":  # ScreenSpot-Pro on the 0-1000 grid
        pred = [0.0, 0.0] if point is None else [max(0.0, min(1000.0, v)) for v in point]
        if not w or not h:
            box = [0.0, 0.0, 0.0, 0.0]
        else:
            g = [gold[0] / w * 1000.0, gold[1] / h * 1000.0, gold[2] / w * 1000.0, gold[3] / h * 1000.0]
            box = clip_sort_box(g, 1000.0, 1000.0)
    else:  # ScreenSpot-Pro in pixels
        if point is None:
            pred = [0.0, 0.0]
        else:
            x, y = point
            pred = [max(0.0, min(w, x)) if w else x, max(0.0, min(h, y)) if h else y]
        x1, y1, x2, y2 = (float(v) for v in gold[:4])
        if w:
            x1, x2 = max(0.0, min(w, x1)), max(0.0, min(w, x2))
        if h:
            y1, y2 = max(0.0, min(h, y1)), max(0.0, min(h, y2))
        box = [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]
    hit = box[0] <= pred[0] <= box[2] and box[1] <= pred[1] <= box[3]
    return hit, pred
