"""knowledge_recognition: colors, shapes and objects to name (synonym lists) and multiple choice."""

from __future__ import annotations

import random

from PIL import ImageDraw

from vero.data.veromini.base import Draft, Task, dumps
from vero.data.veromini.drawing import (
    BACKGROUNDS,
    COLORS,
    OBJECT_NAMES,
    OBJECTS,
    SHAPE_NAMES,
    SHAPES,
    canvas,
    draw_object,
    draw_shape,
)

CATEGORY = "knowledge_recognition"


def _single(rng: random.Random, draw_fn, lo: int = 72, hi: int = 128):
    w, h = rng.randint(lo, hi), rng.randint(lo, hi)
    bg_name = rng.choice(tuple(BACKGROUNDS))
    img = canvas(w, h, BACKGROUNDS[bg_name])
    s = rng.randint(min(w, h) // 2, min(w, h) - 12)
    x, y = rng.randint(4, w - s - 4), rng.randint(4, h - s - 4)
    draw_fn(ImageDraw.Draw(img), (x, y, x + s, y + s))
    return img, bg_name


def color_name(rng: random.Random) -> Draft:
    color = rng.choice(COLORS)
    shape = rng.choice(SHAPE_NAMES)
    img, bg = _single(rng, lambda d, b: draw_shape(d, shape, b, fill=color.rgb))
    q = rng.choice(
        (
            "What color is the {s}?",
            "Name the color of the {s} on the {bg} background.",
            "Which color fills the {s}?",
        )
    ).format(s=shape, bg=bg)
    return Draft(q, [img], "list_string_match", dumps(list(color.synonyms)), None, {"color": color.name})


def shape_name(rng: random.Random) -> Draft:
    color = rng.choice(COLORS)
    shape = rng.choice(SHAPE_NAMES)
    img, bg = _single(rng, lambda d, b: draw_shape(d, shape, b, fill=color.rgb))
    q = rng.choice(
        (
            "What shape is drawn in {c}? Answer with one word.",
            "Name the {c} shape on the {bg} background.",
            "Which geometric shape is the {c} figure?",
        )
    ).format(c=color.name, bg=bg)
    return Draft(q, [img], "list_string_match", dumps(list(SHAPES[shape])), None, {"shape": shape})


def object_name(rng: random.Random) -> Draft:
    obj = rng.choice(OBJECT_NAMES)
    img, bg = _single(rng, lambda d, b: draw_object(d, obj, b))
    q = rng.choice(
        (
            "What object is drawn on the {bg} background? Answer with one word.",
            "Name the object in this {bg} picture.",
            "This simple drawing on a {bg} background shows one everyday thing. What is it?",
        )
    ).format(bg=bg)
    return Draft(q, [img], "list_string_match", dumps(list(OBJECTS[obj])), None, {"object": obj})


def object_choice(rng: random.Random) -> Draft:
    options = rng.sample(OBJECT_NAMES, 4)
    obj = rng.choice(options)
    img, _ = _single(rng, lambda d, b: draw_object(d, obj, b))
    lines = "\n".join(f"{'ABCD'[i]}. {name}" for i, name in enumerate(options))
    q = f"Which object is shown in the picture?\n{lines}\nAnswer with the option letter."
    return Draft(
        q, [img], "multiple_choice", "ABCD"[options.index(obj)], None, {"object": obj, "options": options}
    )


TASKS = (
    Task("color_name", CATEGORY, "list_string_match", color_name),
    Task("shape_name", CATEGORY, "list_string_match", shape_name),
    Task("object_name", CATEGORY, "list_string_match", object_name),
    Task("object_choice", CATEGORY, "multiple_choice", object_choice),
)
