"""Helpers for the web app tests: settings against the scripted model server, a real uvicorn
on 127.0.0.1, and an SSE reader."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import BaseModel, Field

from openintern.agent.session import open_store
from openintern.config import Settings
from openintern.llm.types import LLMClient
from openintern.tools.base import Tool, ToolContext, ToolRegistry, ToolResult
from openintern.tools.catalog import default_registry
from openintern.web.app import create_app
from openintern.web.runner import SessionHub

TOKEN = "test-token-123"


def web_settings(base_url: str, workspace: Path) -> Settings:
    """Settings of a session against the scripted model server, without a sandbox."""
    return Settings(model="openai/scripted", api_base=base_url, api_key="x",  # type: ignore[arg-type]
                    workspace=workspace, sandbox="none", retry_base_delay_s=0.05)


class CostlyParams(BaseModel):
    what: str


class CostlyAction(Tool[CostlyParams]):
    """Do something that costs money (test tool that needs approval)."""

    name = "costly_action"
    needs_approval = True

    async def run(self, params: CostlyParams, ctx: ToolContext) -> ToolResult:
        (ctx.workspace / "costly.txt").write_text(params.what)
        return ToolResult(text=f"did {params.what}")


class SubmitRunParams(BaseModel):
    command: str
    hours: float = Field(1.0, gt=0)


class SubmitRun(Tool[SubmitRunParams]):
    """Submit a paid run of a command (test tool: needs approval and has a cost estimate;
    records what it was asked to run)."""

    name = "submit_run"
    needs_approval = True
    dollars_per_hour = 2.5

    async def cost_estimate_usd(self, params: SubmitRunParams, ctx: ToolContext) -> float:
        return params.hours * self.dollars_per_hour

    async def run(self, params: SubmitRunParams, ctx: ToolContext) -> ToolResult:
        (ctx.workspace / "submitted.txt").write_text(f"{params.command}\n{params.hours}")
        return ToolResult(text=f"submitted {params.command!r} for {params.hours} h")


def registry_with_costly_action() -> ToolRegistry:
    """The default tools plus two that need approval."""
    registry = default_registry()
    registry.add(CostlyAction())
    registry.add(SubmitRun())
    return registry


class LiveServer:
    """The app served by uvicorn in a thread on a free 127.0.0.1 port."""

    def __init__(self, settings: Settings,
                 llm_factory: Callable[[Settings], LLMClient] | None = None) -> None:
        store = open_store(settings)
        self.hub = SessionHub(settings, store, tools_factory=registry_with_costly_action,
                              llm_factory=llm_factory)
        self.app = create_app(settings, TOKEN, hub=self.hub)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def client(self) -> httpx.AsyncClient:
        """An API client carrying the token."""
        # The first session of a process may wait for LiteLLM's import (tens of seconds
        # on a busy machine), so requests get time.
        return httpx.AsyncClient(base_url=self.url, timeout=120,
                                 headers={"Authorization": f"Bearer {TOKEN}"})


async def read_events(
    client: httpx.AsyncClient, session_id: str, *, until: Callable[[dict[str, Any]], bool],
    headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
    limit: int | None = None, deadline_s: float = 30,
) -> list[dict[str, Any]]:
    """SSE events (each with its ``_id``) until ``until`` matches or ``limit`` stored
    events arrived."""
    out: list[dict[str, Any]] = []

    async def consume() -> None:
        event_id: str | None = None
        name: str | None = None  # a named SSE event ("replayed") is no session event
        async with client.stream("GET", f"/api/sessions/{session_id}/events",
                                 headers=headers or {}, params=params or {}) as response:
            assert response.status_code == 200, await response.aread()
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name == "batch":  # stored events
                    name = event_id = None
                    for event in json.loads(line[6:]):
                        event["_id"] = str(event["seq"])
                        out.append(event)
                        stored = [e for e in out if e["_id"] is not None]
                        if until(event) or (limit is not None and len(stored) >= limit):
                            return
                elif line.startswith("data: ") and name is not None:
                    name = event_id = None
                elif line.startswith("data: "):
                    event = json.loads(line[6:])
                    event["_id"] = event_id
                    event_id = None
                    out.append(event)
                    stored = [e for e in out if e["_id"] is not None]
                    if until(event) or (limit is not None and len(stored) >= limit):
                        return

    await asyncio.wait_for(consume(), deadline_s)
    return out


async def start_until_approval(
    client: httpx.AsyncClient, goal: str
) -> tuple[str, dict[str, Any]]:
    """Start a session for ``goal`` and read its events up to the first approval
    request; returns the session id and that request."""
    created = await client.post("/api/sessions", json={"goal": goal})
    sid = str(created.json()["id"])
    seen = await read_events(client, sid, until=lambda e: e["type"] == "approval_requested")
    return sid, seen[-1]


def call(name: str, **arguments: object) -> dict[str, object]:
    """A scripted tool call."""
    return {"name": name, "arguments": arguments}
