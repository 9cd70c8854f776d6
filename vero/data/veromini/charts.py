"""chart_ocr: bar charts with values to read and compare, and printed codes to transcribe."""

from __future__ import annotations

import random
import string

from PIL import ImageDraw

from vero.data.veromini.base import EASY_SIDE, Draft, Task, Vocab, vocab
from vero.data.veromini.drawing import COLORS, canvas, draw_centered_text, draw_text, text_size

CATEGORY = "chart_ocr"

# Chart domains: title, the labels its bars may carry, the unit of the values.
DOMAINS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Rainfall", ("Oslo", "Lima", "Pune", "Kyiv", "Nice", "Baku", "Rome", "Riga"), "mm"),
    ("Sales", ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug"), "units"),
    ("Visitors", ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), "people"),
    ("Harvest", ("Figs", "Kiwi", "Plum", "Pear", "Lime", "Date", "Yam"), "kg"),
    ("Votes", ("Ana", "Ben", "Cai", "Dev", "Eli", "Fay", "Gus"), "votes"),
    ("Downloads", ("v1", "v2", "v3", "v4", "v5", "v6", "v7"), "k"),
    ("Scores", ("Reds", "Jets", "Owls", "Elks", "Cubs"), "pts"),
    ("Energy", ("Wind", "Solar", "Hydro", "Coal", "Gas", "Tidal"), "GWh"),
)
# Easy and medium charts: two or three bars labelled with single capital letters (left to right
# in alphabetical order), small values printed large above bars of proportional height.
EASY_LABELS = "ABCD"


def _bar_chart(rng: random.Random, level: str) -> tuple:
    title, pool, unit = rng.choice(DOMAINS)
    if level != "hard":
        return (*_easy_bar_chart(rng, title, unit, vocab(level)), title, unit)
    n = rng.randint(3, min(5, len(pool)))
    labels = rng.sample(pool, n)
    values = rng.sample(range(2, 60), n)
    w, h = 40 + 26 * n, rng.randint(110, 150)
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    draw_text(d, (4, 2), f"{title} ({unit})", size=10)
    top, bottom = 26, h - 16
    vmax = max(values)
    color = rng.choice(COLORS).rgb
    d.line([(8, bottom), (w - 4, bottom)], fill=(0, 0, 0))
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        x1 = 14 + i * 26
        y1 = bottom - round((bottom - top) * v / vmax)
        d.rectangle((x1, y1, x1 + 18, bottom), fill=color)
        draw_centered_text(d, (x1 - 4, y1 - 11, x1 + 22, y1 - 1), str(v), size=9)
        draw_centered_text(d, (x1 - 6, bottom + 1, x1 + 24, h - 1), lab, size=9)
    return img, labels, values, title, unit


def _easy_bar_chart(rng: random.Random, title: str, unit: str, v: Vocab):
    n = rng.randint(2, 3)
    labels = sorted(rng.sample(EASY_LABELS, n))
    values = rng.sample(range(1, v.top + 1), n)
    w = h = EASY_SIDE
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    top, bottom = 24, h - 20
    color = rng.choice(v.colors).rgb
    d.line([(4, bottom), (w - 4, bottom)], fill=(0, 0, 0), width=2)
    slot = w // n
    for i, (lab, value) in enumerate(zip(labels, values, strict=True)):
        cx = slot * i + slot // 2
        y1 = bottom - round((bottom - top) * value / v.top)
        d.rectangle((cx - 12, y1, cx + 12, bottom), fill=color)
        draw_centered_text(d, (cx - 14, y1 - 20, cx + 14, y1), str(value), size=18)
        draw_centered_text(d, (cx - 14, bottom + 1, cx + 14, h), lab, size=18)
    return img, labels, values


def bar_value(rng: random.Random, level: str = "hard") -> Draft:
    img, labels, values, title, unit = _bar_chart(rng, level)
    i = rng.randrange(len(labels))
    q = rng.choice(
        (
            "In the {t} chart, what value is shown for {l}? Answer with a number.",
            "Read the {t} bar chart: how many {u} does {l} have?",
            "According to the chart of {t}, what is the value of the {l} bar?",
        )
    ).format(t=title.lower(), l=labels[i], u=unit)
    why = f"The bar for {labels[i]} reads {values[i]}."
    return Draft(q, [img], "numeric", str(values[i]), None, {"labels": labels, "values": values}, why)


def bar_compute(rng: random.Random, level: str = "hard") -> Draft:
    img, labels, values, title, unit = _bar_chart(rng, level)
    i, j = rng.sample(range(len(labels)), 2)
    op = rng.choice(("difference", "sum") if level != "hard" else ("difference", "sum", "mean"))
    read = f"The bar for {labels[i]} is {values[i]} and the bar for {labels[j]} is {values[j]}."
    if op == "difference":
        q = (
            f"Using the {title.lower()} chart, by how many {unit} does {labels[i]} exceed {labels[j]}? "
            "A negative number is allowed."
        )
        ans, tol = str(values[i] - values[j]), None
        why = f"{read} {values[i]} - {values[j]} = {ans}."
    elif op == "sum":
        q = f"Using the {title.lower()} chart, what is the combined value of {labels[i]} and {labels[j]}?"
        ans, tol = str(values[i] + values[j]), None
        why = f"{read} {values[i]} + {values[j]} = {ans}."
    else:
        mean = sum(values) / len(values)
        q = (
            f"What is the average of all bars in the {title.lower()} chart ({len(values)} bars)? "
            "Round to two decimals."
        )
        ans, tol = f"{mean:.2f}", 0.01
        why = f"Each bar: {', '.join(map(str, values))}. The sum {sum(values)} / {len(values)} = {ans}."
    return Draft(q, [img], "numeric", ans, tol, {"op": op, "labels": labels, "values": values}, why)


def bar_extreme(rng: random.Random, level: str = "hard") -> Draft:
    img, labels, values, title, unit = _bar_chart(rng, level)
    which = rng.choice(("highest", "lowest"))
    pick = max if which == "highest" else min
    ans = labels[values.index(pick(values))]
    q = f"In the chart titled '{title} ({unit})', which label has the {which} value?"
    each = ", ".join(f"{lab} {v}" for lab, v in zip(labels, values, strict=True))
    why = f"Each bar: {each}. The {which} is {ans}."
    return Draft(q, [img], "string_match", ans, None, {"labels": labels, "values": values}, why)


def read_code(rng: random.Random, level: str = "hard") -> Draft:
    if level != "hard":
        # two large digits on a plain card (easy: from a short alphabet)
        k, alphabet, size = 2, string.digits if level == "medium" else vocab(level).digits(), 30
    else:
        k, alphabet, size = rng.randint(4, 7), string.ascii_uppercase + string.digits, rng.randint(14, 18)
    code = "".join(rng.choice(alphabet) for _ in range(k))
    thing = rng.choice(("label", "sign", "ticket", "badge", "tag"))
    tw, th = text_size(code, size)
    if level != "hard":
        w = h = EASY_SIDE
    else:
        w, h = max(96, tw + 30), max(64, th + 40)
    img = canvas(w, h, (245, 245, 240))
    d = ImageDraw.Draw(img)
    frame = rng.choice(vocab(level).colors).rgb if level != "hard" else (60, 60, 60)
    d.rectangle((6, 6, w - 7, h - 7), outline=frame, width=2)
    dx, dy = (rng.randint(-12, 12), rng.randint(-20, 20)) if level != "hard" else (0, 0)
    draw_centered_text(d, (dx, dy, w + dx, h + dy), code, size=size)
    q = rng.choice(
        (
            "The {thing} shows a {k}-character code. Transcribe it exactly.",
            "What {k}-character code is printed on the {thing}?",
            "Read the code on the {thing} ({k} characters) and write it out.",
        )
    ).format(thing=thing, k=k)
    why = f"The text reads {' '.join(code)}."
    return Draft(q, [img], "string_match", code, None, {"code": code}, why)


TASKS = (
    Task("bar_value", CATEGORY, "numeric", bar_value),
    Task("bar_compute", CATEGORY, "numeric", bar_compute),
    Task("bar_extreme", CATEGORY, "string_match", bar_extreme),
    Task("read_code", CATEGORY, "string_match", read_code),
)
