"""stem: arithmetic cards and geometry figures with numeric answers, and multiple choice."""

from __future__ import annotations

import math
import random
import string

from PIL import ImageDraw

from vero.data.veromini.base import EASY_SIDE, Draft, Task, vocab
from vero.data.veromini.drawing import canvas, draw_centered_text, draw_text, text_size

CATEGORY = "stem"


_FORMS = {
    "a + b * c": lambda a, b, c: a + b * c,
    "a * b - c": lambda a, b, c: a * b - c,
    "(a + b) * c": lambda a, b, c: (a + b) * c,
    "a - b + c": lambda a, b, c: a - b + c,
    "a * c + b": lambda a, b, c: a * c + b,
}


# Easy and medium: one operation on two single digits.
_EASY_FORMS = {
    "a + b": lambda a, b, c: a + b,
    "a - b": lambda a, b, c: a - b,
}


def arithmetic(rng: random.Random, level: str = "hard") -> Draft:
    top = vocab(level).top
    if level != "hard":
        a, b, c = rng.randint(1, top), rng.randint(1, top), 0
        forms, size = _EASY_FORMS, 24
    else:
        a, b, c = rng.randint(2, 30), rng.randint(2, 12), rng.randint(2, 9)
        forms, size = _FORMS, 14
    form = rng.choice(tuple(forms))
    expr = form.replace("a", str(a)).replace("b", str(b)).replace("c", str(c))
    value = forms[form](a, b, c)
    shown = expr  # the bundled font has no multiplication sign, so "*" stays
    card = rng.choice(vocab(level).colors)
    tw, _ = text_size(shown, size)
    w, h = (EASY_SIDE, EASY_SIDE) if level != "hard" else (max(96, tw + 28), 72)
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    d.rounded_rectangle(
        (4, 4, w - 5, h - 5),
        radius=8,
        fill=tuple(min(255, v + 90) for v in card.rgb),
        outline=card.rgb,
        width=3,
    )
    # easy and medium: the expression a little off centre, so equal expressions differ as images
    dx, dy = (rng.randint(-10, 10), rng.randint(-16, 16)) if level != "hard" else (0, 0)
    draw_centered_text(d, (dx, dy, w + dx, h + dy), shown, size=size)
    q = rng.choice(
        (
            "The {c} card shows an arithmetic expression. What is its value?",
            "Evaluate the expression written on the {c} card.",
            "Compute the result of the expression on the {c} card (usual operator precedence).",
        )
    ).format(c=card.name)
    why = f"Compute {expr} = {value}."
    return Draft(q, [img], "numeric", str(value), None, {"expr": expr}, why)


def _letters(rng: random.Random, k: int) -> str:
    return "".join(rng.sample(string.ascii_uppercase, k))


def rectangle_measure(rng: random.Random, level: str = "hard") -> Draft:
    easy = level != "hard"  # the fixed canvas of easy and medium
    top = {"easy": 4, "medium": 6, "hard": 19}[level]  # the longest side
    a, b = rng.randint(2, top), rng.randint(2, top)
    name = _letters(rng, 4)
    unit = rng.choice(("cm", "m", "mm"))
    w, h = (EASY_SIDE, EASY_SIDE) if easy else (150, 120)
    font_size = 16 if easy else 10
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    if easy:
        sx, sy = 24 + round(40 * a / top), 20 + round(36 * b / top)
    else:
        sx, sy = 30 + round(80 * a / 19), 20 + round(50 * b / 19)
    x1, y1 = (w - sx) // 2, (h - sy) // 2
    ink = (0, 0, 0)
    if easy:  # room for the labels, a little variety of place and ink
        x1, y1 = x1 - 8 + rng.randint(-4, 4), y1 - 8 + rng.randint(-4, 4)
        ink = rng.choice(vocab(level).colors).rgb
    d.rectangle((x1, y1, x1 + sx, y1 + sy), outline=ink, width=2)
    if not easy:
        corners = ((x1, y1), (x1 + sx, y1), (x1 + sx, y1 + sy), (x1, y1 + sy))
        for (px, py), ch in zip(corners, name, strict=True):
            draw_text(d, (px - 8 if px == x1 else px + 2, py - 11 if py == y1 else py + 1), ch, size=10)
    lab_h = font_size + 4
    bottom_label = f"{a}" if easy else f"{a} {unit}"
    draw_centered_text(d, (x1, y1 + sy + 2, x1 + sx, y1 + sy + lab_h), bottom_label, size=font_size)
    right = min(w, x1 + sx + 2 + 3 * font_size) if easy else w
    draw_centered_text(d, (x1 + sx + 2, y1, right, y1 + sy), f"{b}", size=font_size)
    what = rng.choice(("area", "perimeter"))
    ans = a * b if what == "area" else 2 * (a + b)
    unit_word = f"square {unit}" if what == "area" else unit
    q = f"Rectangle {name} has the side lengths marked (both in {unit}). What is its {what} in {unit_word}?"
    if what == "area":
        why = f"The sides are {a} and {b}. The area of the rectangle is {a} * {b} = {ans}."
    else:
        why = f"The sides are {a} and {b}. The perimeter formula: 2 * ({a} + {b}) = {ans}."
    return Draft(q, [img], "numeric", str(ans), None, {"a": a, "b": b}, why)


def circle_measure(rng: random.Random, level: str = "hard") -> Draft:
    easy = level != "hard"  # the fixed canvas of easy and medium
    r = rng.randint({"easy": 1, "medium": 1, "hard": 2}[level], {"easy": 3, "medium": 5, "hard": 15}[level])
    center = rng.choice(string.ascii_uppercase)
    w = h = EASY_SIDE if easy else 128
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    rad = 18 + r * 6 if easy else 24 + r * 2
    cx = cy = w // 2
    ink = (0, 0, 0)
    if easy:  # a little variety of place and ink, so images differ beyond the radius
        cx, cy = cx + rng.randint(-6, 6), cy + rng.randint(-6, 6)
        ink = rng.choice(vocab(level).colors).rgb
    d.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), outline=ink, width=2)
    d.line([(cx, cy), (cx + rad, cy)], fill=(200, 0, 0), width=2)
    d.ellipse((cx - 2, cy - 2, cx + 2, cy + 2), fill=(0, 0, 0))
    if easy:
        draw_text(d, (cx - 14, cy + 4), center, size=14)
        draw_text(d, (cx + 2, cy - 20), f"r={r}", size=16)
    else:
        draw_text(d, (cx - 10, cy - 12), center, size=10)
        draw_text(d, (cx + rad // 2 - 8, cy + 2), f"r={r}", size=10)
    what = rng.choice(("area", "circumference"))
    value = math.pi * r * r if what == "area" else 2 * math.pi * r
    q = (
        f"The circle centred at {center} has its radius marked. What is its {what}? "
        "Give a decimal to two places."
    )
    if what == "area":
        why = f"The radius is {r}. The area formula: 3.1416 * {r} * {r} = {value:.2f}."
    else:
        why = f"The radius is {r}. The circumference formula: 2 * 3.1416 * {r} = {value:.2f}."
    return Draft(q, [img], "numeric", f"{value:.2f}", 0.01, {"r": r}, why)


def triangle_angle_choice(rng: random.Random, level: str = "hard") -> Draft:
    easy = level != "hard"  # the fixed canvas of easy and medium
    if easy:
        # multiples of ten; the options are four consecutive multiples of ten with the answer at
        # a uniformly random place, so the option list alone says nothing about which is right
        lo, hi = (4, 7) if level == "easy" else (3, 8)
        a1 = 10 * rng.randint(lo, hi)
        a2 = 10 * rng.randint(lo, min(hi, 15 - a1 // 10))
    else:
        a1 = rng.randint(30, 80)
        a2 = rng.randint(30, 150 - a1)
    a3 = 180 - a1 - a2
    names = _letters(rng, 3)
    w, h = (EASY_SIDE, EASY_SIDE) if easy else (150, 120)
    size = 14 if easy else 9
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    pts = (
        [(10, h - 14), (w - 10, h - 14), (rng.randint(40, w - 40), 18)]
        if easy
        else [
            (18, h - 18),
            (w - 18, h - 18),
            (rng.randint(40, w - 40), 18),
        ]
    )
    d.polygon(pts, outline=(0, 0, 0), width=2)
    if not easy:
        offsets = [(-12, 0), (4, 0), (-4, -14)]
        for (px, py), (ox, oy), ch in zip(pts, offsets, names, strict=True):
            draw_text(d, (px + ox, py + oy), ch, size=10)
    draw_text(d, (pts[0][0] + (8 if easy else 12), pts[0][1] - size - 5), f"{a1}°", size=size)
    draw_text(d, (pts[1][0] - (36 if easy else 30), pts[1][1] - size - 5), f"{a2}°", size=size)
    draw_text(d, (pts[2][0] - 6, pts[2][1] + (14 if easy else 16)), "?", size=size + 2)
    if easy:
        place = rng.randrange(4)
        options = [a3 + 10 * (k - place) for k in range(4)]
        if options[0] <= 0:  # keep every option a valid angle
            options = [v - options[0] + 10 for v in options]
        rng.shuffle(options)
    else:
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
    why = f"The angles sum to 180, so 180 - {a1} - {a2} = {a3}, which is option {letter}."
    return Draft(q, [img], "multiple_choice", letter, None, {"options": options, "value": a3}, why)


TASKS = (
    Task("arithmetic", CATEGORY, "numeric", arithmetic),
    Task("rectangle_measure", CATEGORY, "numeric", rectangle_measure),
    Task("circle_measure", CATEGORY, "numeric", circle_measure),
    Task("triangle_angle_choice", CATEGORY, "multiple_choice", triangle_angle_choice),
)
