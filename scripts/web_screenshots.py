"""Screenshots of the web app on a real demo session (for docs/images and the README).

Plays ``intern demo`` into a private data directory, serves the web app on 127.0.0.1 and
photographs the session, experiments and compare pages in headless Chromium (Debian
``chromium`` through Playwright). PNGs are quantised to a small palette to stay small.

Run: .venv/bin/python scripts/web_screenshots.py --out docs/images --suffix after
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
TOKEN = "screenshot-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the web server did not start")


def _shrink(path: Path, colors: int = 96) -> None:
    """Quantise a screenshot to a palette PNG (a fraction of the size, still legible)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
        small.save(path, optimize=True)


def _shoot(page: Any, path: Path, max_height: int) -> None:
    height = min(int(page.evaluate("document.documentElement.scrollHeight")), max_height)
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1280, "height": height})
    _shrink(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--suffix", default="after", help="file name suffix (before/after)")
    parser.add_argument("--max-height", type=int, default=1700)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OPENINTERN_DATA_DIR": f"{tmp}/data",
               "OPENINTERN_CONFIG": f"{tmp}/none.toml", "OPENINTERN_WEB_TOKEN": TOKEN,
               "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        demo = subprocess.run([sys.executable, "-m", "openintern.cli", "demo", "--workspace",
                               f"{tmp}/ws"], env=env, capture_output=True, text=True,
                              check=False)
        if demo.returncode != 0:
            print(demo.stdout[-3000:], demo.stderr[-3000:], file=sys.stderr)
            return 1
        sid = re.findall(r"session (\w+) is recorded", demo.stdout)[-1]
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "openintern.cli", "serve", "--port",
                                   str(port)], env=env, cwd=tmp)
        try:
            _wait_port(port)
            base = f"http://127.0.0.1:{port}"
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM,
                                            args=["--headless=new", "--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"{base}/sessions/{sid}?token={TOKEN}")
                page.locator(".turn-end").first.wait_for(timeout=30_000)
                shell = page.locator("details.tool", has_text="shell").first
                if shell.count():  # show one card opened: the command and its output
                    shell.locator("summary").click()
                page.wait_for_timeout(500)
                _shoot(page, args.out / f"session-{args.suffix}.png", args.max_height)
                page.goto(f"{base}/experiments?session={sid}")
                page.wait_for_load_state("networkidle")
                buttons = page.locator("button.show-chart")
                for i in sorted({0, buttons.count() // 2}) if buttons.count() else []:
                    buttons.nth(i).click()  # a run of each configuration, overlaid
                page.wait_for_timeout(800)
                # The lab page is long: its statistics and sweep view are the point.
                _shoot(page, args.out / f"experiments-{args.suffix}.png",
                       args.max_height + 900)
                ids = page.locator("input.pick").evaluate_all("ns => ns.map(n => n.value)")
                # A baseline run against a run of the other configuration (the demo's
                # sweep declares all seeds of the first configuration first).
                a, b = ids[0], ids[len(ids) // 2]
                page.goto(f"{base}/experiments/compare?a={a}&b={b}")
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(800)
                _shoot(page, args.out / f"compare-{args.suffix}.png", args.max_height)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    for name in ("session", "experiments", "compare"):
        path = args.out / f"{name}-{args.suffix}.png"
        print(f"{path}: {path.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
