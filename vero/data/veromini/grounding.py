"""grounding_counting_search: counting, one or many boxes to ground, search among distractors."""

from __future__ import annotations

import random
import string

from PIL import ImageDraw

from vero.data.veromini.base import EASY_SIDE, Draft, Task, dumps, vocab
from vero.data.veromini.drawing import (
    canvas,
    draw_centered_text,
    draw_shape,
    grid_boxes,
    place_boxes,
)

CATEGORY = "grounding_counting_search"

_BOX_FORMAT = (
    'Reply with a JSON list like [{"bbox_2d": [x1, y1, x2, y2], "label": "..."}] in pixel coordinates.'
)


def _plural(shape: str) -> str:
    return shape + "es" if shape.endswith("x") else shape + "s"


def counting(rng: random.Random, level: str = "hard") -> Draft:
    v, easy = vocab(level), level != "hard"  # easy: the fixed canvas of easy and medium
    w, h = (EASY_SIDE, EASY_SIDE) if easy else (rng.randint(110, 160), rng.randint(96, 150))
    target_color, target_shape = rng.choice(v.colors), rng.choice(v.shapes)
    k = rng.randint(1, v.grid + 1) if easy else rng.randint(1, 6)  # easy 1-3, medium 1-4
    n_other = rng.randint(0, v.grid - 1) if easy else rng.randint(1, 5)
    if easy:
        boxes = grid_boxes(rng, k + n_other, side=w, cells=v.grid, size=v.box - 6)
    else:
        boxes = place_boxes(rng, w, h, k + n_other, 12, 20)
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    for b in boxes[:k]:
        draw_shape(d, target_shape, b, fill=target_color.rgb)
    for b in boxes[k:]:
        # A distractor differs from the target in color, shape or both.
        while True:
            c, s = rng.choice(v.colors), rng.choice(v.shapes)
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
    why = f"Count the {target_color.name} {_plural(target_shape)}: there are {k}."
    return Draft(q, [img], "counting", str(k), None, {"count": k}, why)


def ground_single(rng: random.Random, level: str = "hard") -> Draft:
    v, easy = vocab(level), level != "hard"
    w, h = (EASY_SIDE, EASY_SIDE) if easy else (rng.randint(110, 160), rng.randint(96, 150))
    n = rng.randint(1, 3) if easy else rng.randint(2, 5)
    pairs = rng.sample([(c, s) for c in v.colors for s in v.shapes], n)
    if easy:
        boxes = grid_boxes(rng, n, side=w, cells=v.grid, size=v.box)
    else:
        boxes = place_boxes(rng, w, h, n, 16, 30)
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    for (c, s), b in zip(pairs, boxes, strict=True):
        draw_shape(d, s, b, fill=c.rgb)
    c, s = pairs[0]
    gold = [{"bbox_2d": list(boxes[0]), "label": f"{c.name} {s}"}]
    ask = f"Locate the {c.name} {s}."
    if level != "hard":  # a few phrasings, so held-out and training questions share their targets
        ask = rng.choice((ask, f"Find the {c.name} {s}.", f"Where is the {c.name} {s}?"))
    q = f"{ask} {_BOX_FORMAT}"
    why = f"Locate the {c.name} {s}."
    return Draft(q, [img], "grounding", dumps(gold), None, {"boxes": [boxes[0]]}, why)


def ground_multi(rng: random.Random, level: str = "hard") -> Draft:
    v, easy = vocab(level), level != "hard"
    w, h = (EASY_SIDE, EASY_SIDE) if easy else (rng.randint(120, 160), rng.randint(110, 160))
    shape = rng.choice(v.shapes)
    k = rng.randint(1, 2) if easy else rng.randint(2, 4)
    n_other = rng.randint(1, v.grid - 1) if easy else rng.randint(1, 3)
    if easy:
        boxes = grid_boxes(rng, k + n_other, side=w, cells=v.grid, size=v.box)
    else:
        boxes = place_boxes(rng, w, h, k + n_other, 14, 26)
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    others = [s for s in v.shapes if s != shape]
    for b in boxes[:k]:
        draw_shape(d, shape, b, fill=rng.choice(v.colors).rgb)
    for b in boxes[k:]:
        draw_shape(d, rng.choice(others), b, fill=rng.choice(v.colors).rgb)
    gold = [{"bbox_2d": list(b), "label": shape} for b in boxes[:k]]
    q = rng.choice(
        (
            "Find every {s} in the image, whatever its color. {f}",
            "Give the bounding box of each {s}. {f}",
            "Detect all the {p}. {f}",
        )
    ).format(s=shape, p=_plural(shape), f=_BOX_FORMAT)
    why = f"Look for each {shape}: I find {k}."
    return Draft(q, [img], "grounding", dumps(gold), None, {"boxes": boxes[:k]}, why)


# Medium search symbols: a short alphabet drawn large (easy: shorter still, from its vocabulary).
_MEDIUM_SYMBOLS = {"letter": "ABCDEFGH", "digit": "123456789"}


def search(rng: random.Random, level: str = "hard") -> Draft:
    v, easy = vocab(level), level != "hard"
    w, h = (EASY_SIDE, EASY_SIDE) if easy else (rng.randint(130, 160), rng.randint(120, 160))
    n = rng.randint(2, 3) if easy else rng.randint(6, 10)
    if easy:
        boxes = grid_boxes(rng, n, side=w, cells=v.grid, size=v.box + 2)
    else:
        boxes = place_boxes(rng, w, h, n, 16, 22)
    target_color, target_shape = rng.choice(v.colors), rng.choice(v.shapes)
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    kind = rng.choice(("letter", "digit"))
    if level == "easy":
        symbols = v.letters() if kind == "letter" else v.digits()
    elif easy:
        symbols = _MEDIUM_SYMBOLS[kind]
    else:
        symbols = string.ascii_uppercase if kind == "letter" else string.digits
    answer = rng.choice(symbols)
    for i, b in enumerate(boxes):
        if i == 0:
            c, s, sym = target_color, target_shape, answer
        else:
            while True:
                c, s = rng.choice(v.colors), rng.choice(v.shapes)
                if (c, s) != (target_color, target_shape):
                    break
            sym = rng.choice(symbols)
        draw_shape(d, s, b, fill=c.rgb)
        fill = (255, 255, 255) if c.name != "yellow" else (0, 0, 0)
        draw_centered_text(d, b, sym, size=16 if easy else 9, fill=fill)
    q = f"Exactly one shape is a {target_color.name} {target_shape}. Which {kind} is written on it?"
    why = f"Scan for the {target_color.name} {target_shape}: the {kind} on it is {answer}."
    return Draft(q, [img], "search", answer, None, {"box": boxes[0]}, why)


TASKS = (
    Task("counting", CATEGORY, "counting", counting),
    Task("ground_single", CATEGORY, "grounding", ground_single),
    Task("ground_multi", CATEGORY, "grounding", ground_multi),
    Task("search", CATEGORY, "search", search),
)
