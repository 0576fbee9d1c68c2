"""Shared fixtures for tests of external-service clients (see fixture_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fixture_server import FixtureServer, Route, RouteKey, ServeFactory

from openintern.http import DiskCache


@pytest.fixture
def serve() -> Iterator[ServeFactory]:
    """``serve(routes)`` starts a FixtureServer on 127.0.0.1; all are stopped at teardown."""
    servers: list[FixtureServer] = []

    def start(routes: dict[RouteKey, Route | list[Route]]) -> FixtureServer:
        server = FixtureServer(routes).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def http_cache(tmp_path: Path) -> DiskCache:
    """An empty on-disk HTTP cache in the test's temporary directory."""
    return DiskCache(tmp_path / "http-cache")
