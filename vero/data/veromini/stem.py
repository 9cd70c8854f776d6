"""stem: arithmetic cards and geometry figures with numeric answers, and multiple choice."""

from __future__ import annotations

import math
import random
import string

from PIL import ImageDraw

from vero.data.veromini.base import Draft, Task
from vero.data.veromini.drawing import COLORS, canvas, draw_centered_text, draw_text, text_size

CATEGORY = "stem"


_FORMS = {
    "a + b * c": lambda a, b, c: a + b * c,
    "a * b - c": lambda a, b, c: a * b - c,
    "(a + b) * c": lambda a, b, c: (a + b) * c,
    "a - b + c": lambda a, b, c: a - b + c,
    "a * c + b": lambda a, b, c: a * c + b,
}


def arithmetic(rng: random.Random) -> Draft:
    a, b, c = rng.randint(2, 30), rng.randint(2, 12), rng.randint(2, 9)
    form = rng.choice(tuple(_FORMS))
    expr = form.replace("a", str(a)).replace("b", str(b)).replace("c", str(c))
    value = _FORMS[form](a, b, c)
    shown = expr  # the bundled font has no multiplication sign, so "*" stays
    card = rng.choice(COLORS)
    tw, _ = text_size(shown, 14)
    w, h = max(96, tw + 28), 72
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    d.rounded_rectangle(
        (4, 4, w - 5, h - 5),
        radius=8,
        fill=tuple(min(255, v + 90) for v in card.rgb),
        outline=card.rgb,
        width=3,
    )
    draw_centered_text(d, (0, 0, w, h), shown, size=14)
    q = rng.choice(
        (
            "The {c} card shows an arithmetic expression. What is its value?",
            "Evaluate the expression written on the {c} card.",
            "Compute the result of the expression on the {c} card (usual operator precedence).",
        )
    ).format(c=card.name)
    return Draft(q, [img], "numeric", str(value), None, {"expr": expr})


def _letters(rng: random.Random, k: int) -> str:
    return "".join(rng.sample(string.ascii_uppercase, k))


def rectangle_measure(rng: random.Random) -> Draft:
    a, b = rng.randint(2, 19), rng.randint(2, 19)
    name = _letters(rng, 4)
    unit = rng.choice(("cm", "m", "mm"))
    w, h = 150, 120
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    sx = 30 + round(80 * a / 19)
    sy = 20 + round(50 * b / 19)
    x1, y1 = (w - sx) // 2, (h - sy) // 2
    d.rectangle((x1, y1, x1 + sx, y1 + sy), outline=(0, 0, 0), width=2)
    for (px, py), ch in zip(((x1, y1), (x1 + sx, y1), (x1 + sx, y1 + sy), (x1, y1 + sy)), name, strict=True):
        draw_text(d, (px - 8 if px == x1 else px + 2, py - 11 if py == y1 else py + 1), ch, size=10)
    draw_centered_text(d, (x1, y1 + sy + 2, x1 + sx, y1 + sy + 14), f"{a} {unit}", size=10)
    draw_centered_text(d, (x1 + sx + 2, y1, w, y1 + sy), f"{b}", size=10)
    what = rng.choice(("area", "perimeter"))
    ans = a * b if what == "area" else 2 * (a + b)
    unit_word = f"square {unit}" if what == "area" else unit
    q = f"Rectangle {name} has the side lengths marked (both in {unit}). What is its {what} in {unit_word}?"
    return Draft(q, [img], "numeric", str(ans), None, {"a": a, "b": b})


def circle_measure(rng: random.Random) -> Draft:
    r = rng.randint(2, 15)
    center = rng.choice(string.ascii_uppercase)
    w = h = 128
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    rad = 24 + r * 2
    cx = cy = w // 2
    d.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), outline=(0, 0, 0), width=2)
    d.line([(cx, cy), (cx + rad, cy)], fill=(200, 0, 0), width=2)
    d.ellipse((cx - 2, cy - 2, cx + 2, cy + 2), fill=(0, 0, 0))
    draw_text(d, (cx - 10, cy - 12), center, size=10)
    draw_text(d, (cx + rad // 2 - 8, cy + 2), f"r={r}", size=10)
    what = rng.choice(("area", "circumference"))
    value = math.pi * r * r if what == "area" else 2 * math.pi * r
    q = (
        f"The circle centred at {center} has its radius marked. What is its {what}? "
        "Give a decimal to two places."
    )
    return Draft(q, [img], "numeric", f"{value:.2f}", 0.01, {"r": r})


def triangle_angle_choice(rng: random.Random) -> Draft:
    a1 = rng.randint(30, 80)
    a2 = rng.randint(30, 150 - a1)
    a3 = 180 - a1 - a2
    names = _letters(rng, 3)
    w, h = 150, 120
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    pts = [(18, h - 18), (w - 18, h - 18), (rng.randint(40, w - 40), 18)]
    d.polygon(pts, outline=(0, 0, 0), width=2)
    offsets = [(-12, 0), (4, 0), (-4, -14)]
    for (px, py), (ox, oy), ch in zip(pts, offsets, names, strict=True):
        draw_text(d, (px + ox, py + oy), ch, size=10)
    draw_text(d, (pts[0][0] + 12, pts[0][1] - 14), f"{a1}°", size=9)
    draw_text(d, (pts[1][0] - 30, pts[1][1] - 14), f"{a2}°", size=9)
    draw_text(d, (pts[2][0] - 6, pts[2][1] + 16), "?", size=11)
    wrong = set()
    while len(wrong) < 3:
        cand = a3 + rng.choice((-20, -15, -10, -5, 5, 10, 15, 20, 30))
        if 0 < cand < 180 and cand != a3:
            wrong.add(cand)
    options = [a3, *sorted(wrong)]
    rng.shuffle(options)
    letter = "ABCD"[options.index(a3)]
    lines = "\n".join(f"{'ABCD'[i]}. {v}°" for i, v in enumerate(options))
    q = (
        f"In triangle {names}, two angles are marked. What is the angle at vertex {names[2]}?\n"
        f"{lines}\nAnswer with the letter of the correct option."
    )
    return Draft(q, [img], "multiple_choice", letter, None, {"options": options, "value": a3})


TASKS = (
    Task("arithmetic", CATEGORY, "numeric", arithmetic),
    Task("rectangle_measure", CATEGORY, "numeric", rectangle_measure),
    Task("circle_measure", CATEGORY, "numeric", circle_measure),
    Task("triangle_angle_choice", CATEGORY, "multiple_choice", triangle_angle_choice),
)
