"""grounding_counting_search: counting, one or many boxes to ground, search among distractors."""

from __future__ import annotations

import random
import string

from PIL import ImageDraw

from vero.data.veromini.base import Draft, Task, dumps
from vero.data.veromini.drawing import (
    COLORS,
    SHAPE_NAMES,
    canvas,
    draw_centered_text,
    draw_shape,
    place_boxes,
)

CATEGORY = "grounding_counting_search"

_BOX_FORMAT = (
    'Reply with a JSON list like [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}] in pixel coordinates.'
)


def _plural(shape: str) -> str:
    return shape + "es" if shape.endswith("x") else shape + "s"


def counting(rng: random.Random) -> Draft:
    w, h = rng.randint(110, 160), rng.randint(96, 150)
    target_color, target_shape = rng.choice(COLORS), rng.choice(SHAPE_NAMES)
    k = rng.randint(1, 6)
    n_other = rng.randint(1, 5)
    boxes = place_boxes(rng, w, h, k + n_other, 12, 20)
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    for b in boxes[:k]:
        draw_shape(d, target_shape, b, fill=target_color.rgb)
    for b in boxes[k:]:
        # A distractor differs from the target in color, shape or both.
        while True:
            c, s = rng.choice(COLORS), rng.choice(SHAPE_NAMES)
            if (c, s) != (target_color, target_shape):
                break
        draw_shape(d, s, b, fill=c.rgb)
    q = rng.choice(
        (
            "How many {c} {p} are in the image?",
            "Count the {c} {p}. Answer with a number.",
            "What is the number of {c} {p} in this picture?",
        )
    ).format(c=target_color.name, p=_plural(target_shape))
    return Draft(q, [img], "counting", str(k), None, {"count": k})


def ground_single(rng: random.Random) -> Draft:
    w, h = rng.randint(110, 160), rng.randint(96, 150)
    n = rng.randint(2, 5)
    pairs = rng.sample([(c, s) for c in COLORS for s in SHAPE_NAMES], n)
    boxes = place_boxes(rng, w, h, n, 16, 30)
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    for (c, s), b in zip(pairs, boxes, strict=True):
        draw_shape(d, s, b, fill=c.rgb)
    c, s = pairs[0]
    gold = [{"bbox_2d": list(boxes[0]), "label": f"{c.name} {s}"}]
    q = f"Locate the {c.name} {s}. {_BOX_FORMAT}"
    return Draft(q, [img], "grounding", dumps(gold), None, {"boxes": [boxes[0]]})


def ground_multi(rng: random.Random) -> Draft:
    w, h = rng.randint(120, 160), rng.randint(110, 160)
    shape = rng.choice(SHAPE_NAMES)
    k = rng.randint(2, 4)
    n_other = rng.randint(1, 3)
    boxes = place_boxes(rng, w, h, k + n_other, 14, 26)
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    others = [s for s in SHAPE_NAMES if s != shape]
    for b in boxes[:k]:
        draw_shape(d, shape, b, fill=rng.choice(COLORS).rgb)
    for b in boxes[k:]:
        draw_shape(d, rng.choice(others), b, fill=rng.choice(COLORS).rgb)
    gold = [{"bbox_2d": list(b), "label": shape} for b in boxes[:k]]
    q = rng.choice(
        (
            "Find every {s} in the image, whatever its color. {f}",
            "Give the bounding box of each {s}. {f}",
            "Detect all the {p}. {f}",
        )
    ).format(s=shape, p=_plural(shape), f=_BOX_FORMAT)
    return Draft(q, [img], "grounding", dumps(gold), None, {"boxes": boxes[:k]})


def search(rng: random.Random) -> Draft:
    w, h = rng.randint(130, 160), rng.randint(120, 160)
    n = rng.randint(6, 10)
    boxes = place_boxes(rng, w, h, n, 16, 22)
    target_color, target_shape = rng.choice(COLORS), rng.choice(SHAPE_NAMES)
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    kind = rng.choice(("letter", "digit"))
    symbols = string.ascii_uppercase if kind == "letter" else string.digits
    answer = rng.choice(symbols)
    for i, b in enumerate(boxes):
        if i == 0:
            c, s, sym = target_color, target_shape, answer
        else:
            while True:
                c, s = rng.choice(COLORS), rng.choice(SHAPE_NAMES)
                if (c, s) != (target_color, target_shape):
                    break
            sym = rng.choice(symbols)
        draw_shape(d, s, b, fill=c.rgb)
        draw_centered_text(d, b, sym, size=9, fill=(255, 255, 255) if c.name != "yellow" else (0, 0, 0))
    q = f"Exactly one shape is a {target_color.name} {target_shape}. Which {kind} is written on it?"
    return Draft(q, [img], "search", answer, None, {"box": boxes[0]})


TASKS = (
    Task("counting", CATEGORY, "counting", counting),
    Task("ground_single", CATEGORY, "grounding", ground_single),
    Task("ground_multi", CATEGORY, "grounding", ground_multi),
    Task("search", CATEGORY, "search", search),
)
