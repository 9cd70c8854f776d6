"""Headless Chromium helpers for the report tests (Debian's chromium package)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render(html_path: Path, screenshot: Path, *, width: int = 1200, height: int = 2400) -> str:
    """Screenshot the page and return the DOM after scripts ran."""
    exe = chromium_path()
    assert exe, "chromium not installed"
    url = Path(html_path).resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        base = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"]
        subprocess.run(
            [*base, f"--screenshot={screenshot}", "--virtual-time-budget=5000", url],
            check=True,
            capture_output=True,
            timeout=120,
        )
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                exe,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    return dom


def non_blank_fraction(png: Path) -> float:
    """Share of pixels that are not (near) white: a blank page scores ~0."""
    from PIL import Image

    img = Image.open(png).convert("L")
    hist = img.histogram()
    total = sum(hist)
    return 1.0 - sum(hist[245:]) / total
