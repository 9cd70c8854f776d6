"""knowledge_recognition: colors, shapes and objects to name (synonym lists) and multiple choice."""

from __future__ import annotations

import random

from PIL import ImageDraw

from vero.data.veromini.base import EASY_SIDE, Draft, Task, dumps, vocab
from vero.data.veromini.drawing import (
    BACKGROUNDS,
    OBJECTS,
    SHAPES,
    canvas,
    draw_object,
    draw_shape,
)

CATEGORY = "knowledge_recognition"


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _single(rng: random.Random, draw_fn, level: str = "hard", lo: int = 72, hi: int = 128):
    # easy and medium: one large figure (60-90 % of the side) on the 112 px canvas
    fixed = level != "hard"
    w, h = (EASY_SIDE, EASY_SIDE) if fixed else (rng.randint(lo, hi), rng.randint(lo, hi))
    bg_name = rng.choice(tuple(BACKGROUNDS))
    img = canvas(w, h, BACKGROUNDS[bg_name])
    lo_s = round(min(w, h) * 0.6) if fixed else min(w, h) // 2
    s = rng.randint(lo_s, min(w, h) - 12)
    x, y = rng.randint(4, w - s - 4), rng.randint(4, h - s - 4)
    draw_fn(ImageDraw.Draw(img), (x, y, x + s, y + s))
    return img, bg_name


def color_name(rng: random.Random, level: str = "hard") -> Draft:
    color = rng.choice(vocab(level).colors)
    shape = rng.choice(vocab(level).shapes)
    img, bg = _single(rng, lambda d, b: draw_shape(d, shape, b, fill=color.rgb), level)
    q = rng.choice(
        (
            "What color is the {s}?",
            "Name the color of the {s} on the {bg} background.",
            "Which color fills the {s}?",
        )
    ).format(s=shape, bg=bg)
    why = f"I can see {_a(color.name)} {shape}."
    return Draft(q, [img], "list_string_match", dumps(list(color.synonyms)), None, {"color": color.name}, why)


def shape_name(rng: random.Random, level: str = "hard") -> Draft:
    color = rng.choice(vocab(level).colors)
    shape = rng.choice(vocab(level).shapes)
    img, bg = _single(rng, lambda d, b: draw_shape(d, shape, b, fill=color.rgb), level)
    q = rng.choice(
        (
            "What shape is drawn in {c}? Answer with one word.",
            "Name the {c} shape on the {bg} background.",
            "Which geometric shape is the {c} figure?",
        )
    ).format(c=color.name, bg=bg)
    why = f"I can see {_a(color.name)} {shape}."
    return Draft(q, [img], "list_string_match", dumps(list(SHAPES[shape])), None, {"shape": shape}, why)


def object_name(rng: random.Random, level: str = "hard") -> Draft:
    obj = rng.choice(vocab(level).objects)
    img, bg = _single(rng, lambda d, b: draw_object(d, obj, b), level)
    q = rng.choice(
        (
            "What object is drawn on the {bg} background? Answer with one word.",
            "Name the object in this {bg} picture.",
            "This simple drawing on a {bg} background shows one everyday thing. What is it?",
        )
    ).format(bg=bg)
    why = f"I can see {_a(obj)}."
    return Draft(q, [img], "list_string_match", dumps(list(OBJECTS[obj])), None, {"object": obj}, why)


def object_choice(rng: random.Random, level: str = "hard") -> Draft:
    options = rng.sample(vocab(level).objects, 4)
    obj = rng.choice(options)
    img, _ = _single(rng, lambda d, b: draw_object(d, obj, b), level)
    lines = "\n".join(f"{'ABCD'[i]}. {name}" for i, name in enumerate(options))
    q = f"Which object is shown in the picture?\n{lines}\nAnswer with the option letter."
    letter = "ABCD"[options.index(obj)]
    why = f"I can see {_a(obj)}, option {letter}."
    return Draft(q, [img], "multiple_choice", letter, None, {"object": obj, "options": options}, why)


TASKS = (
    Task("color_name", CATEGORY, "list_string_match", color_name),
    Task("shape_name", CATEGORY, "list_string_match", shape_name),
    Task("object_name", CATEGORY, "list_string_match", object_name),
    Task("object_choice", CATEGORY, "multiple_choice", object_choice),
)
