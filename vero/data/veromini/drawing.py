"""Small drawing vocabulary shared by the VeroMini tasks: colors, shapes, objects, text, PNG."""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class NamedColor:
    name: str
    rgb: tuple[int, int, int]
    synonyms: tuple[str, ...]


COLORS: tuple[NamedColor, ...] = (
    NamedColor("red", (215, 38, 38), ("red", "crimson", "scarlet")),
    NamedColor("green", (34, 150, 60), ("green", "emerald")),
    NamedColor("blue", (35, 75, 215), ("blue", "cobalt")),
    NamedColor("yellow", (240, 200, 20), ("yellow", "gold", "golden")),
    NamedColor("orange", (245, 135, 20), ("orange", "amber")),
    NamedColor("purple", (135, 55, 175), ("purple", "violet")),
    NamedColor("pink", (240, 120, 185), ("pink", "rose")),
    NamedColor("brown", (130, 80, 35), ("brown", "chocolate")),
    NamedColor("gray", (125, 125, 125), ("gray", "grey")),
)
COLOR_BY_NAME = {c.name: c for c in COLORS}

SHAPES: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "disc", "disk"),
    "square": ("square",),
    "triangle": ("triangle",),
    "star": ("star", "pentagram"),
    "diamond": ("diamond", "rhombus", "lozenge"),
    "hexagon": ("hexagon",),
}
SHAPE_NAMES = tuple(SHAPES)

OBJECTS: dict[str, tuple[str, ...]] = {
    "house": ("house", "home", "hut", "cottage"),
    "tree": ("tree", "pine", "fir"),
    "sun": ("sun",),
    "arrow": ("arrow",),
    "heart": ("heart",),
    "flag": ("flag", "banner"),
    "umbrella": ("umbrella", "parasol"),
    "key": ("key",),
}
OBJECT_NAMES = tuple(OBJECTS)

BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "cream": (250, 244, 225),
    "light blue": (218, 234, 250),
    "light green": (222, 244, 222),
    "light gray": (228, 228, 228),
}


@lru_cache(maxsize=16)
def font(size: int = 11) -> ImageFont.FreeTypeFont:
    # Pillow's bundled FreeType font: the same glyphs on every machine, no system fonts needed.
    return ImageFont.load_default(size=size)


def canvas(width: int, height: int, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    return Image.new("RGB", (width, height), background)


def to_png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def text_size(text: str, size: int = 11) -> tuple[int, int]:
    x1, y1, x2, y2 = font(size).getbbox(text)
    return x2 - x1, y2 - y1


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int = 11, fill=(0, 0, 0)):
    draw.text(xy, text, font=font(size), fill=fill)


def draw_centered_text(draw, box: Box, text: str, size: int = 11, fill=(0, 0, 0)) -> None:
    x1, y1, x2, y2 = box
    draw.text(((x1 + x2) / 2, (y1 + y2) / 2), text, font=font(size), fill=fill, anchor="mm")


def regular_polygon(
    cx: float, cy: float, r: float, n: int, rotation: float = -90.0
) -> list[tuple[float, float]]:
    return [
        (
            cx + r * math.cos(math.radians(rotation + 360.0 * i / n)),
            cy + r * math.sin(math.radians(rotation + 360.0 * i / n)),
        )
        for i in range(n)
    ]


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: Box, fill, outline=None) -> None:
    """Draw `shape` filling `box` (x1, y1, x2, y2 inclusive of its extent)."""
    x1, y1, x2, y2 = box
    cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, min(x2 - x1, y2 - y1) / 2
    if shape == "circle":
        draw.ellipse(box, fill=fill, outline=outline)
    elif shape == "square":
        draw.rectangle(box, fill=fill, outline=outline)
    elif shape == "triangle":
        draw.polygon([(cx, y1), (x2, y2), (x1, y2)], fill=fill, outline=outline)
    elif shape == "diamond":
        draw.polygon([(cx, y1), (x2, cy), (cx, y2), (x1, cy)], fill=fill, outline=outline)
    elif shape == "hexagon":
        draw.polygon(regular_polygon(cx, cy, r, 6, rotation=0.0), fill=fill, outline=outline)
    elif shape == "star":
        points = []
        for i in range(10):
            rad = r if i % 2 == 0 else r * 0.45
            a = math.radians(-90 + 36 * i)
            points.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
        draw.polygon(points, fill=fill, outline=outline)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def draw_object(draw: ImageDraw.ImageDraw, name: str, box: Box) -> None:
    """Simple pictograms, each recognisable from its outline."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    if name == "house":
        draw.rectangle((x1 + w * 0.15, cy, x2 - w * 0.15, y2), fill=(200, 90, 60), outline=(60, 30, 20))
        draw.polygon([(x1, cy), (cx, y1), (x2, cy)], fill=(120, 40, 30))
        draw.rectangle((cx - w * 0.08, y2 - h * 0.3, cx + w * 0.08, y2), fill=(90, 60, 30))
    elif name == "tree":
        draw.rectangle((cx - w * 0.08, y2 - h * 0.3, cx + w * 0.08, y2), fill=(110, 70, 30))
        draw.polygon([(x1, y2 - h * 0.3), (cx, y1), (x2, y2 - h * 0.3)], fill=(30, 130, 50))
    elif name == "sun":
        r = min(w, h) * 0.28
        for i in range(12):
            a = math.radians(30 * i)
            draw.line(
                [
                    (cx + r * math.cos(a), cy + r * math.sin(a)),
                    (cx + 1.7 * r * math.cos(a), cy + 1.7 * r * math.sin(a)),
                ],
                fill=(240, 170, 0),
                width=2,
            )
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(250, 200, 0))
    elif name == "arrow":
        draw.rectangle((x1, cy - h * 0.12, x2 - w * 0.35, cy + h * 0.12), fill=(40, 40, 40))
        draw.polygon(
            [(x2 - w * 0.4, y1 + h * 0.15), (x2, cy), (x2 - w * 0.4, y2 - h * 0.15)], fill=(40, 40, 40)
        )
    elif name == "heart":
        r = w * 0.25
        draw.ellipse((x1, y1 + h * 0.1, cx, y1 + h * 0.1 + 2 * r), fill=(220, 30, 60))
        draw.ellipse((cx, y1 + h * 0.1, x2, y1 + h * 0.1 + 2 * r), fill=(220, 30, 60))
        draw.polygon(
            [(x1 + 1, y1 + h * 0.1 + r * 1.2), (x2 - 1, y1 + h * 0.1 + r * 1.2), (cx, y2)], fill=(220, 30, 60)
        )
    elif name == "flag":
        draw.rectangle((x1 + w * 0.1, y1, x1 + w * 0.18, y2), fill=(70, 70, 70))
        draw.rectangle((x1 + w * 0.18, y1, x2, y1 + h * 0.5), fill=(30, 90, 200))
        draw.rectangle((x1 + w * 0.18, y1 + h * 0.17, x2, y1 + h * 0.33), fill=(255, 255, 255))
    elif name == "umbrella":
        draw.pieslice((x1, y1, x2, y1 + h * 0.9), 180, 360, fill=(150, 40, 170))
        draw.line([(cx, y1 + h * 0.45), (cx, y2 - h * 0.1)], fill=(40, 40, 40), width=2)
        draw.arc((cx, y2 - h * 0.2, cx + w * 0.2, y2), 0, 180, fill=(40, 40, 40), width=2)
    elif name == "key":
        r = min(w, h) * 0.2
        draw.ellipse((x1, cy - r, x1 + 2 * r, cy + r), outline=(180, 140, 20), width=3)
        draw.line([(x1 + 2 * r, cy), (x2, cy)], fill=(180, 140, 20), width=3)
        draw.line([(x2 - w * 0.15, cy), (x2 - w * 0.15, cy + h * 0.18)], fill=(180, 140, 20), width=3)
        draw.line([(x2 - w * 0.3, cy), (x2 - w * 0.3, cy + h * 0.14)], fill=(180, 140, 20), width=3)
    else:
        raise ValueError(f"unknown object {name!r}")


def place_boxes(
    rng: random.Random,
    width: int,
    height: int,
    n: int,
    min_size: int,
    max_size: int,
    margin: int = 3,
    tries: int = 400,
) -> list[Box]:
    """`n` non-overlapping square boxes inside the canvas (raises if they do not fit)."""
    boxes: list[Box] = []
    for _ in range(tries):
        if len(boxes) == n:
            break
        s = rng.randint(min_size, max_size)
        x = rng.randint(margin, width - s - margin)
        y = rng.randint(margin, height - s - margin)
        cand = (x, y, x + s, y + s)
        if all(
            cand[2] + margin < b[0]
            or b[2] + margin < cand[0]
            or cand[3] + margin < b[1]
            or b[3] + margin < cand[1]
            for b in boxes
        ):
            boxes.append(cand)
    if len(boxes) < n:
        raise RuntimeError(f"could not place {n} boxes of {min_size}-{max_size}px on {width}x{height}")
    return boxes


def position_phrase(box: Box, width: int, height: int) -> str:
    cx, cy = (box[0] + box[2]) / 2 / width, (box[1] + box[3]) / 2 / height
    vert = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else "middle"
    horiz = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else "center"
    if vert == "middle" and horiz == "center":
        return "in the center"
    if vert == "middle":
        return f"on the {horiz}"
    if horiz == "center":
        return f"at the {vert}"
    return f"at the {vert} {horiz}"


def grid_boxes(rng: random.Random, n: int, *, side: int = 112, cells: int = 3, size: int = 30) -> list[Box]:
    """`n` square boxes of `size` px centred in distinct cells of a `cells` x `cells` grid.

    The easy difficulty's layout: large objects at a few well-separated places, so a tiny model
    can localise them at the resolution of its image patches.
    """
    if n > cells * cells:
        raise ValueError(f"cannot place {n} boxes in a {cells}x{cells} grid")
    if size > side // cells:
        raise ValueError(f"boxes of {size} px do not fit cells of {side // cells} px")
    step = side / cells
    out: list[Box] = []
    for cell in rng.sample(range(cells * cells), n):
        row, col = divmod(cell, cells)
        x1 = round(col * step + (step - size) / 2)
        y1 = round(row * step + (step - size) / 2)
        out.append((x1, y1, x1 + size, y1 + size))
    return out
