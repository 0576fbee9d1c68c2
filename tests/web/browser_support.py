"""Helpers of the browser tests (Debian ``chromium`` driven by Playwright): the launch
arguments, a skip when either is missing, and reading what a uPlot canvas drew."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 15_000


def require_chromium() -> Any:
    """Playwright's sync API, or skip the calling test module."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} missing (apt-get install chromium)", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api",
                               reason="playwright missing (pip install playwright)")


def drawn_pixels(page: Any, figure: str, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the chart in ``figure`` (a CSS selector) have the colour
    ``rgb`` (within a small tolerance): what the chart really drew on its canvas."""
    count: int = page.eval_on_selector(f"{figure} canvas", """(canvas, rgb) => {
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
            if (Math.abs(data[i] - rgb[0]) < 40 && Math.abs(data[i + 1] - rgb[1]) < 40
                && Math.abs(data[i + 2] - rgb[2]) < 40 && data[i + 3] > 200) n++;
        }
        return n;
    }""", list(rgb))
    return count
