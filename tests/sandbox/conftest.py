"""Fixtures for the sandbox tests: real workspaces, a real bwrap, a loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from openintern.sandbox import BwrapSandbox


@pytest.fixture(scope="session")
def shared_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One workspace (and so one venv, created once) shared by the tests that only read."""
    return tmp_path_factory.mktemp("shared-ws")


@pytest.fixture
def offline_sandbox(shared_workspace: Path) -> BwrapSandbox:
    """The bwrap sandbox on the shared workspace, network off."""
    return BwrapSandbox(shared_workspace, network=False)


@pytest.fixture
async def loopback_port() -> AsyncIterator[int]:
    """The port of a TCP server on the host's 127.0.0.1 that answers b"pong"."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"pong")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port
