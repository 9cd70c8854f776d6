"""spatial_action: panels to order, a mock web page to act on, targets to click, relations."""

from __future__ import annotations

import random

from PIL import ImageDraw

from vero.data.veromini.base import EASY_SIDE, Draft, Task, dumps, vocab
from vero.data.veromini.drawing import (
    canvas,
    draw_centered_text,
    draw_shape,
    draw_text,
    grid_boxes,
    place_boxes,
    position_phrase,
)

CATEGORY = "spatial_action"


def panel_order(rng: random.Random, level: str = "hard") -> Draft:
    v = vocab(level)
    easy = level != "hard"  # the fixed canvas of easy and medium
    n = 3 if easy else rng.randint(3, 5)
    kind = rng.choice(("dots", "bar"))
    amounts = rng.sample(range(1, {"easy": 5, "medium": 7, "hard": 10}[level]), n)
    # easy and medium: three wide panels on the 112 px canvas, big dots and tall bars
    pw, ph = (32, 100) if easy else (34, 70)
    w, h = (EASY_SIDE, EASY_SIDE) if easy else (n * (pw + 4) + 4, ph + 8)
    img = canvas(w, h, (235, 235, 235))
    d = ImageDraw.Draw(img)
    named = rng.choice(v.colors)
    color, color_name = named.rgb, named.name
    for i, amount in enumerate(amounts):
        x1 = 4 + i * (pw + 4)
        d.rectangle((x1, 4, x1 + pw, 4 + ph), fill=(255, 255, 255), outline=(0, 0, 0))
        draw_text(d, (x1 + 3, 5), str(i + 1), size=14 if easy else 9)
        if kind == "bar":
            top = 4 + ph - 4 - amount * (12 if easy else 5)
            bx1, bx2 = (x1 + 8, x1 + pw - 8) if easy else (x1 + 12, x1 + 22)
            if easy:  # a little jitter, so equal amounts differ as images
                shift = rng.randint(-3, 3)
                bx1, bx2 = bx1 + shift, bx2 + shift
            d.rectangle((bx1, top, bx2, 4 + ph - 4), fill=color)
        elif easy:
            for k in range(amount):
                cx = x1 + 10 + (k % 2) * 13 + rng.randint(-2, 2)
                cy = 34 + (k // 2) * 18 + rng.randint(-3, 3)
                d.ellipse((cx - 5, cy - 5, cx + 5, cy + 5), fill=color)
        else:
            for k in range(amount):
                cx, cy = x1 + 8 + (k % 3) * 9, 22 + (k // 3) * 12
                d.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=color)
    descending = rng.random() < 0.5
    order = sorted(range(n), key=lambda i: amounts[i], reverse=descending)
    answer = [i + 1 for i in order]
    measure = "dots" if kind == "dots" else "bar height"
    direction = (
        "most to fewest"
        if (descending and kind == "dots")
        else "fewest to most"
        if kind == "dots"
        else ("tallest to shortest" if descending else "shortest to tallest")
    )
    if easy:  # name the drawing's color: more distinct questions, none of them says the order
        what = f"{color_name} dots" if kind == "dots" else f"{color_name} bars"
        q = (
            f"The image has {n} numbered panels of {what}. Order them by {measure}, from {direction}. "
            f"Answer with the panel numbers as a list, e.g. {list(range(1, n + 1))}."
        )
    else:
        q = (
            f"The image has {n} numbered panels. Order them by {measure}, from {direction}. "
            f"Answer with the panel numbers as a list, e.g. {list(range(1, n + 1))}."
        )
    unit = "dots" if kind == "dots" else "high"
    each = ", ".join(f"panel {i + 1} {a}" for i, a in enumerate(amounts))
    why = f"Count each panel: {each} {unit}. From {direction}: {', '.join(map(str, answer))}."
    return Draft(q, [img], "number_list", dumps(answer), None, {"amounts": amounts}, why)


_BUTTONS = ("Sign in", "Search", "Cart", "Help", "Menu", "Next", "Back", "Save", "Share", "Buy")
_QUERIES = (
    "red shoes",
    "cheap flights",
    "green tea",
    "used bikes",
    "rain jacket",
    "desk lamp",
    "yoga mat",
    "oak table",
)
_SITES = ("ShopNow", "TravelGo", "BookNook", "HomeHub", "FitZone", "PetPal")


def web_action(rng: random.Random, level: str = "hard") -> Draft:
    site = rng.choice(_SITES)
    easy = level != "hard"  # the fixed canvas of easy and medium
    buttons = rng.sample(_BUTTONS, 2 if easy else rng.randint(2, 4))
    # easy and medium: the 112 px canvas with rows of 28 px, large number tags
    row, (tw, th), font_size = (28, (22, 22), 16) if easy else (22, (16, 14), 9)
    w, h = (EASY_SIDE, EASY_SIDE) if easy else (160, 40 + 22 * (len(buttons) + 1))
    img = canvas(w, h, (250, 250, 250))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, 18), fill=(40, 70, 140))
    draw_text(d, (4, 3), site, size=11, fill=(255, 255, 255))
    marks = rng.sample(range(1, (5 if level == "easy" else 10)), len(buttons) + 1)
    elements = [("field", "search box", marks[0])] + [
        ("button", b, m) for b, m in zip(buttons, marks[1:], strict=True)
    ]
    rng.shuffle(elements)
    for i, (kind, label, mark) in enumerate(elements):
        y = 24 + i * row
        x0, bh = (32, th) if easy else (30, 16)
        if kind == "field":
            d.rectangle(
                (x0, y, w - (6 if easy else 8), y + bh), fill=(255, 255, 255), outline=(120, 120, 120)
            )
            draw_text(d, (x0 + 4, y + 2), "Search...", size=9, fill=(150, 150, 150))
        else:
            d.rounded_rectangle(
                (x0, y, x0 + 70, y + bh), radius=4, fill=(220, 225, 240), outline=(40, 70, 140)
            )
            draw_centered_text(d, (x0, y, x0 + 70, y + bh), label, size=11 if easy else 9)
        d.rectangle((6, y + 1, 6 + tw, y + 1 + th), fill=(255, 230, 0), outline=(0, 0, 0))
        draw_centered_text(d, (6, y + 1, 6 + tw, y + 1 + th), str(mark), size=font_size)
    if rng.random() < 0.5:
        label = rng.choice(buttons)
        mark = next(m for k, lab, m in elements if lab == label)
        task = f"On the {site} page, click the '{label}' button."
        gold = {"ACTION": "CLICK", "MARK": mark}
        why = f"Locate the '{label}' button: its tag is {mark}, so CLICK {mark}."
    else:
        query = rng.choice(_QUERIES)
        mark = marks[0]
        task = f"On the {site} page, search for '{query}' by typing it into the search box."
        gold = {"ACTION": "TYPE", "MARK": mark, "VALUE": query}
        why = f"Locate the search box: its tag is {mark}, so TYPE there."
    q = (
        f"{task} Every element carries a yellow number tag. Reply with a JSON object with keys "
        '"ACTION" (CLICK or TYPE), "MARK" (the tag number) and "VALUE" (the text to type, or "None").'
    )
    return Draft(q, [img], "web_action", dumps(gold), None, {"elements": elements}, why)


def _scene(rng: random.Random, n: int, w: int, h: int, lo: int = 16, hi: int = 28, level: str = "hard"):
    """`n` shapes whose (color, shape) pairs are all different."""
    v = vocab(level)
    pairs = rng.sample([(c, s) for c in v.colors for s in v.shapes], n)
    if level == "hard":
        boxes = place_boxes(rng, w, h, n, lo, hi)
    else:
        boxes = grid_boxes(rng, n, side=w, cells=v.grid, size=v.box)
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    for (c, s), b in zip(pairs, boxes, strict=True):
        draw_shape(d, s, b, fill=c.rgb)
    return img, pairs, boxes


def click_target(rng: random.Random, level: str = "hard") -> Draft:
    if level != "hard":
        w = h = EASY_SIDE
        img, pairs, boxes = _scene(rng, rng.randint(2, 3), w, h, level=level)
    else:
        w, h = rng.randint(110, 160), rng.randint(96, 140)
        img, pairs, boxes = _scene(rng, rng.randint(3, 5), w, h)
    i = rng.randrange(len(pairs))
    c, s = pairs[i]
    gold = [{"bbox_2d": list(boxes[i]), "label": f"{c.name} {s}"}]
    ask = f"Click on the {c.name} {s}."
    if level != "hard":  # a few phrasings, so held-out and training questions share their targets
        ask = rng.choice((ask, f"Point at the {c.name} {s}.", f"Where is the {c.name} {s}? Click it."))
    q = (
        f"{ask} Reply with a JSON list holding one point in pixel coordinates, "
        + 'like [{"point_2d": [x, y]}].'
    )

    why = f"Locate the {c.name} {s}: it is {position_phrase(boxes[i], w, h)}."
    return Draft(q, [img], "clicking", dumps(gold), None, {"box": boxes[i]}, why)


def relation(rng: random.Random, level: str = "hard") -> Draft:
    if level != "hard":
        w = h = EASY_SIDE
        for _ in range(50):
            img, pairs, boxes = _scene(rng, 2, w, h, level=level)
            (a, b) = boxes
            dx = (a[0] + a[2]) / 2 - (b[0] + b[2]) / 2
            dy = (a[1] + a[3]) / 2 - (b[1] + b[3]) / 2
            if (dx == 0) != (dy == 0):  # same row or same column: one clear relation
                break
    else:
        w, h = rng.randint(110, 160), rng.randint(96, 140)
        for _ in range(50):
            img, pairs, boxes = _scene(rng, 2, w, h, 18, 30)
            (a, b) = boxes
            dx = (a[0] + a[2]) / 2 - (b[0] + b[2]) / 2
            dy = (a[1] + a[3]) / 2 - (b[1] + b[3]) / 2
            if max(abs(dx), abs(dy)) > 1.5 * min(abs(dx), abs(dy)) + 10:
                break
    (c1, s1), (c2, s2) = pairs
    if abs(dx) >= abs(dy):
        ans = "left" if dx < 0 else "right"
        q = f"Is the {c1.name} {s1} to the left or to the right of the {c2.name} {s2}? Answer left or right."
    else:
        ans = "above" if dy < 0 else "below"
        q = f"Is the {c1.name} {s1} above or below the {c2.name} {s2}? Answer above or below."
    why = (
        f"The {c1.name} {s1} is {position_phrase(boxes[0], w, h)} and the {c2.name} {s2} is "
        f"{position_phrase(boxes[1], w, h)}, so it is {ans}."
    )
    return Draft(q, [img], "string_match", ans, None, {"boxes": boxes}, why)


TASKS = (
    Task("panel_order", CATEGORY, "number_list", panel_order),
    Task("web_action", CATEGORY, "web_action", web_action),
    Task("click_target", CATEGORY, "clicking", click_target),
    Task("relation", CATEGORY, "string_match", relation),
)
