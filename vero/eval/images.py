"""Benchmark images: every form a dataset publishes them in, fetched files, composed images.

`image_bytes` reads a PIL image, raw bytes, a datasets Image struct ({"bytes", "path"}), a file
path or base64 text (MME-RealWorld, MMIFEval). `fetch_image` reads an image a row names by file
(AerialVG `images/<filename>`, VisualProbe paths): beside the local copy when there is one, else
from the dataset repo on the hub. `labelled_strip` joins a row's images into one, as the release
does for MM-Vet v2.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any


class ImageDrop(Exception):
    """A row's image is unusable; the row is dropped with `reason`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def image_bytes(value: Any, base_dir: Path | None = None) -> bytes | None:
    """Encoded image bytes from the forms benchmarks publish images in: a PIL image, raw bytes,
    a datasets Image dict ({"bytes", "path"}), a file path, or base64 text. None when absent."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value) if value else None
    if isinstance(value, Mapping):
        if value.get("bytes"):
            return bytes(value["bytes"])
        return image_bytes(value.get("path"), base_dir) if value.get("path") else None
    if isinstance(value, str):
        if not value:
            return None
        p = Path(value)
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        if len(value) < 1024 and p.exists():
            return p.read_bytes()
        try:
            data = base64.b64decode(
                value.split(",", 1)[-1] if value.startswith("data:") else value, validate=True
            )
        except (binascii.Error, ValueError) as e:
            raise ImageDrop("bad_image") from e
        return data or None
    if hasattr(value, "save"):  # PIL image (datasets decodes Image features)
        buf = io.BytesIO()
        value.convert("RGB").save(buf, format="PNG")
        return buf.getvalue()
    raise ImageDrop("bad_image")


def decode_size(data: bytes) -> tuple[int, int]:
    """(width, height) of encoded image bytes; ImageDrop("bad_image") when they do not decode."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(im.size[0]), int(im.size[1])
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ImageDrop("bad_image") from e


def fetch_path(value: str, fetch: Mapping) -> str:
    """The repo-relative path of a fetched image: prefixes stripped, then fetch.path's "{}" filled."""
    path = str(value).replace("\\", "/").lstrip("./")
    for prefix in fetch.get("strip_prefixes") or ():
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    return str(fetch["path"]).replace("{}", path)


def fetch_image(value: Any, fetch: Mapping, *, base_dir: Path | None, hub_id: str | None) -> bytes:
    """An image a row names by file: read beside the local copy (at the repo-relative path, or as
    written), else downloaded from the dataset repo `hub_id`. ImageDrop("image_not_found")."""
    if not isinstance(value, str) or not value:
        data = image_bytes(value, base_dir)
        if data is None:
            raise ImageDrop("no_image")
        return data
    rel = fetch_path(value, fetch)
    if base_dir is not None:
        for candidate in (base_dir / rel, base_dir / value, Path(value)):
            if candidate.is_file():
                return candidate.read_bytes()
    if hub_id and Path(hub_id).is_dir():  # a dataset repo checked out locally, used as the hub id
        local = Path(hub_id) / rel
        if local.is_file():
            return local.read_bytes()
        raise ImageDrop("image_not_found")
    if hub_id:
        try:
            from huggingface_hub import hf_hub_download

            return Path(hf_hub_download(repo_id=hub_id, filename=rel, repo_type="dataset")).read_bytes()
        except Exception as e:
            raise ImageDrop("image_not_found") from e
    raise ImageDrop("image_not_found")


@lru_cache(maxsize=1)
def _label_font(size: int = 40):
    """DejaVu Sans (Pillow's bundled copy or the system's), else Pillow's default font. The
    release tries a task-local arial.ttf first, which it does not ship: DejaVu is what it uses."""
    from PIL import ImageFont

    candidates = [
        Path(ImageFont.__file__).resolve().parent / "fonts" / "DejaVuSans.ttf",
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    ]
    for path in candidates:
        if path.is_file():
            try:
                return ImageFont.truetype(str(path), size)
            except OSError:
                continue
    return ImageFont.load_default()


def labelled_strip(images: Sequence[bytes], size: int = 1008, font_size: int = 40) -> bytes:
    """One image of several, as mmvetv2 `process_images` makes it: each image resized to `size`
    px high (side by side) or wide (stacked), labelled "[i]" in black on a white square at its
    top-left corner; the arrangement closer to square wins (stacked when the side-by-side strip's
    width/height exceeds the stack's height/width). PNG bytes."""
    from PIL import Image, ImageDraw

    font = _label_font(font_size)
    square = font_size + 2 * 10  # label background: the font size plus a 10 px margin each side

    def labelled(im, i):
        draw = ImageDraw.Draw(im)
        draw.rectangle([(0, 0), (square, square)], fill="white")
        draw.text((10, 10), f"[{i + 1}]", font=font, fill="black")
        return im

    opened = []
    for data in images:
        with Image.open(io.BytesIO(data)) as im:
            opened.append(im.convert("RGB"))
    rows = [
        labelled(im.resize((int(im.width * size / im.height), size), Image.Resampling.LANCZOS), i)
        for i, im in enumerate(opened)
    ]
    cols = [
        labelled(im.resize((size, int(im.height * size / im.width)), Image.Resampling.LANCZOS), i)
        for i, im in enumerate(opened)
    ]
    side = Image.new("RGB", (sum(im.width for im in rows), size))
    x = 0
    for im in rows:
        side.paste(im, (x, 0))
        x += im.width
    stack = Image.new("RGB", (size, sum(im.height for im in cols)))
    y = 0
    for im in cols:
        stack.paste(im, (0, y))
        y += im.height
    chosen = stack if side.width / side.height > stack.height / stack.width else side
    buf = io.BytesIO()
    chosen.save(buf, format="PNG")
    return buf.getvalue()
