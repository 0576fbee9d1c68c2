"""Nothing blocks the server's event loop: a request waiting on a locked database, or a
session whose start waits for a slow import, leaves every other request answering at
once; the model client is warmed when the server starts."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from pathlib import Path

import httpx
from web_support import LiveServer, web_settings

from openintern.config import Settings, data_dir
from openintern.llm.types import LLMClient


async def timed(request: object) -> tuple[float, httpx.Response]:
    start = time.monotonic()
    response = await request  # type: ignore[misc]
    return time.monotonic() - start, response


async def model_client_ready(client: httpx.AsyncClient, within_s: float = 120) -> bool:
    """Wait until the server has warmed the model client; whether it did in time."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if (await client.get("/api/status")).json()["model_client_ready"]:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_a_locked_database_stalls_only_the_request_that_writes(workspace: Path) -> None:
    server = LiveServer(web_settings("http://127.0.0.1:9", workspace)).__enter__()
    try:
        info = server.hub.store.create_session(task="locked", model="openai/scripted",
                                               workspace=str(workspace), headless=False)
        async with server.client() as client:
            await model_client_ready(client)  # so the write below waits on the lock only
            # Another process holds the write lock (SQLite would wait 30 s for it).
            lock = sqlite3.connect(data_dir() / "openintern.db", isolation_level=None)
            lock.execute("BEGIN IMMEDIATE")
            try:
                writing = asyncio.create_task(client.post(
                    f"/api/sessions/{info.id}/budget", json={"budget_usd": 2.0}, timeout=120))
                await asyncio.sleep(1.0)  # the write is waiting on the lock by now
                assert not writing.done()
                for path in (f"/api/sessions/{info.id}", "/api/sessions", "/",
                             f"/sessions/{info.id}", "/experiments"):
                    took, answer = await timed(client.get(path))
                    assert answer.status_code == 200, path
                    assert took < 2.0, f"{path} took {took:.1f} s while the database was locked"
                async with client.stream("GET", f"/api/sessions/{info.id}/events") as stream:
                    async for line in stream.aiter_lines():
                        if line.startswith("event: replayed"):
                            break
                assert not writing.done()
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            answer = await asyncio.wait_for(writing, 60)
            assert answer.status_code == 200 and answer.json() == {"budget_usd": 2.0}
            assert server.hub.store.get_session(info.id).config["budget_usd"] == 2.0
    finally:
        server.__exit__()


class SlowStart:
    """A model client factory as slow as LiteLLM's first import on a busy machine."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, settings: Settings) -> LLMClient:
        time.sleep(self.seconds)
        from openintern.agent.session import make_llm

        return make_llm(settings)


async def test_a_slow_session_start_does_not_stall_other_requests(workspace: Path) -> None:
    settings = web_settings("http://127.0.0.1:9", workspace)
    server = LiveServer(settings, llm_factory=SlowStart(3.0)).__enter__()
    try:
        async with server.client() as client:
            starting = asyncio.create_task(client.post("/api/sessions", json={"goal": "slow"}))
            await asyncio.sleep(0.5)
            took, listing = await timed(client.get("/api/sessions"))
            assert listing.status_code == 200 and took < 1.5, f"stalled {took:.1f} s"
            took, status = await timed(client.get("/api/status"))
            assert status.status_code == 200 and took < 1.5
            assert not starting.done()  # still building the session, in a worker thread
            created = await asyncio.wait_for(starting, 60)
            assert created.status_code == 201
    finally:
        server.__exit__()


async def test_the_model_client_is_warmed_when_the_server_starts(workspace: Path) -> None:
    server = LiveServer(web_settings("http://127.0.0.1:9", workspace)).__enter__()
    try:
        async with server.client() as client:
            assert await model_client_ready(client)
            assert server.hub.runners == {}  # no session needed it
        assert "litellm" in sys.modules
    finally:
        server.__exit__()
