"""Fixtures for the model layer: scripted servers started on 127.0.0.1 and stopped after."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedServer]]:
    """Factory: ``scripted([step, ...], **options)`` returns a started server."""
    servers: list[ScriptedServer] = []

    def start(script: list[dict[str, Any]] | Script | Any, **options: Any) -> ScriptedServer:
        if isinstance(script, list):
            script = Script.from_steps(script)
        server = ScriptedServer(script, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
