"""Fixtures of the web app tests (helpers live in web_support.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
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
