"""Fixtures of the web app tests (helpers live in web_support.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import ARGS, CHROMIUM, WAIT_MS
from web_support import LiveServer, web_settings


@pytest.fixture
def live_server_factory(workspace: Path) -> Iterator[Callable[[str], LiveServer]]:
    servers: list[LiveServer] = []

    def make(base_url: str) -> LiveServer:
        server = LiveServer(web_settings(base_url, workspace)).__enter__()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.__exit__()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium (browser test modules skip themselves without it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that fails the test on any JavaScript error."""
    # Playwright's wait_for_function polls with eval, which the app's CSP forbids;
    # test_pages_obey_the_content_security_policy checks the pages without this bypass.
    context = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors in the page: {errors}"


@pytest.fixture
def shots(test_output_dir: Path) -> Path:
    """Where browser tests leave screenshots."""
    out = test_output_dir / "web"
    out.mkdir(parents=True, exist_ok=True)
    return out
