"""Benchmark metrics that are not reward routes: relaxed accuracy, ANLS, IoU accuracy and
point-in-box. Each returns a float in [0, 1] and never raises on model output.

Maintained implementations are used where they exist: relaxed accuracy is lm-eval's ChartQA
`RelaxedCorrectness`, ANLS uses nltk's Levenshtein distance. (IFEval, for MMIFEval, is the
instruction_following reward route, which runs lm-eval's IFEval checkers.)
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

RELAXED_TOLERANCE = 0.05
ANLS_THRESHOLD = 0.5
IOU_THRESHOLD = 0.5


def relaxed_accuracy(prediction: str, golds: Sequence[str], tolerance: float = RELAXED_TOLERANCE) -> float:
    """1 if the prediction is within `tolerance` (relative) of a numeric gold, or equal to a text
    gold (case-insensitive), else 0 (ChartQA's metric, via lm-eval's implementation)."""
    from lm_eval.tasks.chartqa.utils import RelaxedCorrectness

    if not isinstance(prediction, str) or not golds:
        return 0.0
    try:
        return float(
            RelaxedCorrectness()._relaxed_correctness(prediction, [str(g) for g in golds], tolerance)
        )
    except Exception:  # a metric never fails a run on odd model output
        return 0.0


def _anls_normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(text)).lower().split())


def anls(prediction: str, golds: Sequence[str], threshold: float = ANLS_THRESHOLD) -> float:
    """Average Normalized Levenshtein Similarity of one sample: max over golds of 1 − NL when
    NL < threshold else 0, where NL is the edit distance over the longer string's length."""
    from nltk.metrics.distance import edit_distance

    if not isinstance(prediction, str) or not golds:
        return 0.0
    pred = _anls_normalize(prediction)
    best = 0.0
    for gold in golds:
        g = _anls_normalize(gold)
        longest = max(len(pred), len(g))
        if longest == 0:
            best = max(best, 1.0)
            continue
        nl = edit_distance(pred, g) / longest
        if nl < threshold:
            best = max(best, 1.0 - nl)
    return best


# ---- boxes and points ----------------------------------------------------------------------

_BOXED_RE = re.compile(r"\\boxed\{")


def _strip_boxed(text: str) -> str:
    """Content of the last \\boxed{...} (balanced braces), or the text itself."""
    starts = [m.end() for m in _BOXED_RE.finditer(text)]
    for start in reversed(starts):
        depth, i = 1, start
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0 and text[start : i - 1].strip():
            return text[start : i - 1]
    return text


def _json_candidates(text: str) -> list[Any]:
    """JSON values found in the text, last first (the final answer comes last)."""
    out = []
    decoder = json.JSONDecoder()
    for m in reversed(list(re.finditer(r"[\[{]", text))):
        try:
            value, _ = decoder.raw_decode(text[m.start() :])
        except json.JSONDecodeError:
            continue
        out.append(value)
    return out


def _numbers(value: Any, n: int) -> list[float] | None:
    if (
        isinstance(value, (list, tuple))
        and len(value) == n
        and all(isinstance(v, (int, float)) for v in value)
    ):
        return [float(v) for v in value]
    return None


def _answer_items(text: str):
    """Each JSON item of an answer: the dicts of a list of dicts, or the parsed value itself."""
    if not isinstance(text, str):
        return
    for value in _json_candidates(_strip_boxed(text)):
        yield from (value if isinstance(value, list) and value and isinstance(value[0], dict) else [value])


def parse_box(text: str) -> list[float] | None:
    """The last predicted box of an answer (the JSON values are walked from the end of the text):
    [{"bbox_2d": [...]}], {"bbox_2d": [...]} or [x1, y1, x2, y2]. Not the release's rule, which takes
    the first box: VeroEval's AerialVG uses `vero.eval.geometry.release_box`."""
    for item in _answer_items(text):
        if isinstance(item, dict):
            box = _numbers(item.get("bbox_2d", item.get("bbox")), 4)
        else:
            box = _numbers(item, 4)
        if box is not None:
            return box
    return None


def parse_point(text: str) -> list[float] | None:
    """The last predicted click of an answer: [{"point_2d": [x, y]}], [x, y], or the centre of a
    predicted box. Not the release's rule (first point, then fallbacks): VeroEval's ScreenSpot uses
    `vero.eval.geometry.release_point`."""
    for item in _answer_items(text):
        if isinstance(item, dict):
            pt = _numbers(item.get("point_2d", item.get("point")), 2)
            box = _numbers(item.get("bbox_2d", item.get("bbox")), 4)
        else:
            pt, box = _numbers(item, 2), _numbers(item, 4)
        if pt is not None:
            return pt
        if box is not None:
            return [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]
    return None


def to_absolute(values: Sequence[float], image_size: Sequence[int] | None, coords: str) -> list[float]:
    """Model coordinates → pixels: Qwen3-VL answers in [0, 1000] ("qwen1000"), Qwen2.5-VL in pixels."""
    if coords == "absolute":
        return list(values)
    if coords != "qwen1000":
        raise ValueError(f"unknown coordinate system {coords!r}; expected 'absolute' or 'qwen1000'")
    if not image_size:
        raise ValueError("qwen1000 coordinates need the image size")
    w, h = image_size
    return [v * (w if i % 2 == 0 else h) / 1000.0 for i, v in enumerate(values)]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (
        max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1]) + max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]) - inter
    )
    return inter / union if union > 0 else 0.0


def iou_accuracy(
    answer: str, gold_box: Sequence[float], image_size: Sequence[int] | None, coords: str = "absolute"
) -> float:
    """1 if the first predicted box overlaps the gold box (pixels) with IoU ≥ 0.5, else 0."""
    box = parse_box(answer)
    if box is None:
        return 0.0
    try:
        box = to_absolute(box, image_size, coords)
    except ValueError:
        return 0.0
    return 1.0 if box_iou(box, gold_box) >= IOU_THRESHOLD else 0.0


def point_in_box(
    answer: str, gold_box: Sequence[float], image_size: Sequence[int] | None, coords: str = "absolute"
) -> float:
    """1 if the predicted point lies inside the gold box (edges included), else 0."""
    pt = parse_point(answer)
    if pt is None:
        return 0.0
    try:
        x, y = to_absolute(pt, image_size, coords)
    except ValueError:
        return 0.0
    return 1.0 if gold_box[0] <= x <= gold_box[2] and gold_box[1] <= y <= gold_box[3] else 0.0
