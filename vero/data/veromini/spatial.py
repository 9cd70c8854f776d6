"""spatial_action: panels to order, a mock web page to act on, targets to click, relations."""

from __future__ import annotations

import random

from PIL import ImageDraw

from vero.data.veromini.base import Draft, Task, dumps
from vero.data.veromini.drawing import (
    COLORS,
    SHAPE_NAMES,
    canvas,
    draw_centered_text,
    draw_shape,
    draw_text,
    place_boxes,
)

CATEGORY = "spatial_action"


def panel_order(rng: random.Random) -> Draft:
    n = rng.randint(3, 5)
    kind = rng.choice(("dots", "bar"))
    amounts = rng.sample(range(1, 10), n)
    pw, ph = 34, 70
    w, h = n * (pw + 4) + 4, ph + 8
    img = canvas(w, h, (235, 235, 235))
    d = ImageDraw.Draw(img)
    color = rng.choice(COLORS).rgb
    for i, amount in enumerate(amounts):
        x1 = 4 + i * (pw + 4)
        d.rectangle((x1, 4, x1 + pw, 4 + ph), fill=(255, 255, 255), outline=(0, 0, 0))
        draw_text(d, (x1 + 3, 5), str(i + 1), size=9)
        if kind == "bar":
            top = 4 + ph - 4 - amount * 5
            d.rectangle((x1 + 12, top, x1 + 22, 4 + ph - 4), fill=color)
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
    q = (
        f"The image has {n} numbered panels. Order them by {measure}, from {direction}. "
        f"Answer with the panel numbers as a list, e.g. {list(range(1, n + 1))}."
    )
    return Draft(q, [img], "number_list", dumps(answer), None, {"amounts": amounts})


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


def web_action(rng: random.Random) -> Draft:
    site = rng.choice(_SITES)
    buttons = rng.sample(_BUTTONS, rng.randint(2, 4))
    w, h = 160, 40 + 22 * (len(buttons) + 1)
    img = canvas(w, h, (250, 250, 250))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, 18), fill=(40, 70, 140))
    draw_text(d, (4, 3), site, size=11, fill=(255, 255, 255))
    marks = rng.sample(range(1, 10), len(buttons) + 1)
    elements = [("field", "search box", marks[0])] + [
        ("button", b, m) for b, m in zip(buttons, marks[1:], strict=True)
    ]
    rng.shuffle(elements)
    for i, (kind, label, mark) in enumerate(elements):
        y = 24 + i * 22
        if kind == "field":
            d.rectangle((30, y, w - 8, y + 16), fill=(255, 255, 255), outline=(120, 120, 120))
            draw_text(d, (34, y + 2), "Search...", size=9, fill=(150, 150, 150))
        else:
            d.rounded_rectangle(
                (30, y, 30 + 70, y + 16), radius=4, fill=(220, 225, 240), outline=(40, 70, 140)
            )
            draw_centered_text(d, (30, y, 100, y + 16), label, size=9)
        d.rectangle((6, y + 1, 22, y + 15), fill=(255, 230, 0), outline=(0, 0, 0))
        draw_centered_text(d, (6, y + 1, 22, y + 15), str(mark), size=9)
    if rng.random() < 0.5:
        label = rng.choice(buttons)
        mark = next(m for k, lab, m in elements if lab == label)
        task = f"On the {site} page, click the '{label}' button."
        gold = {"ACTION": "CLICK", "MARK": mark}
    else:
        query = rng.choice(_QUERIES)
        mark = marks[0]
        task = f"On the {site} page, search for '{query}' by typing it into the search box."
        gold = {"ACTION": "TYPE", "MARK": mark, "VALUE": query}
    q = (
        f"{task} Every element carries a yellow number tag. Reply with a JSON object with keys "
        '"ACTION" (CLICK or TYPE), "MARK" (the tag number) and "VALUE" (the text to type, or "None").'
    )
    return Draft(q, [img], "web_action", dumps(gold), None, {"elements": elements})


def _scene(rng: random.Random, n: int, w: int, h: int, lo: int = 16, hi: int = 28):
    """`n` shapes whose (color, shape) pairs are all different."""
    pairs = rng.sample([(c, s) for c in COLORS for s in SHAPE_NAMES], n)
    boxes = place_boxes(rng, w, h, n, lo, hi)
    img = canvas(w, h)
    d = ImageDraw.Draw(img)
    for (c, s), b in zip(pairs, boxes, strict=True):
        draw_shape(d, s, b, fill=c.rgb)
    return img, pairs, boxes


def click_target(rng: random.Random) -> Draft:
    w, h = rng.randint(110, 160), rng.randint(96, 140)
    img, pairs, boxes = _scene(rng, rng.randint(3, 5), w, h)
    i = rng.randrange(len(pairs))
    c, s = pairs[i]
    gold = [{"bbox_2d": list(boxes[i]), "label": f"{c.name} {s}"}]
    q = (
        f"Click on the {c.name} {s}. Reply with a JSON list holding one point in pixel coordinates, "
        'like [{"point_2d": [x, y]}].'
    )
    return Draft(q, [img], "clicking", dumps(gold), None, {"box": boxes[i]})


def relation(rng: random.Random) -> Draft:
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
    return Draft(q, [img], "string_match", ans, None, {"boxes": boxes})


TASKS = (
    Task("panel_order", CATEGORY, "number_list", panel_order),
    Task("web_action", CATEGORY, "web_action", web_action),
    Task("click_target", CATEGORY, "clicking", click_target),
    Task("relation", CATEGORY, "string_match", relation),
)
