"""Connections to the MCP servers a user configured, held on a private event-loop thread.

Why a thread of its own: the SDK's streams are bound to the event loop that opened them,
while a session runs each interactive turn in a fresh ``asyncio.run``; the connections
must outlive those loops. Calls from a turn hop over with ``run_coroutine_threadsafe``.

Every server starts at once and concurrently; :meth:`McpConnections.wait_ready` waits at
most each server's ``start_timeout_s`` and reports the ones that failed, hung or died, so a
broken server costs a few seconds and a message, never the session.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import json
import threading
import time
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, TextIO, TypeVar, cast

from openintern.config import McpServerConfig

T = TypeVar("T")

Status = Literal["starting", "ready", "failed", "dead", "closed"]


class McpUnavailableError(RuntimeError):
    """An MCP server cannot serve a call (it did not start, exited, or was closed)."""


@dataclass
class RemoteTool:
    """A tool as an MCP server lists it."""

    server: str
    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool = False


@dataclass
class CallOutcome:
    """What a tool call returned: text for the model, and whether the server flagged it
    as an error."""

    text: str
    is_error: bool
    structured: dict[str, Any] | None = None


@dataclass
class ServerReport:
    """Where one server stands after start-up, for the session to report."""

    name: str
    status: Status
    tools: list[RemoteTool]
    error: str | None


@dataclass
class _Server:
    name: str
    config: McpServerConfig
    log_path: Path
    status: Status = "starting"
    tools: list[RemoteTool] = field(default_factory=list)
    error: str | None = None
    client: Any = None
    started_at: float = 0.0
    ready: concurrent.futures.Future[None] = field(default_factory=concurrent.futures.Future)
    task: asyncio.Task[None] | None = None
    stop: asyncio.Event | None = None


class McpConnections:
    """The configured servers: started together, each on its own task, on one background
    event loop."""

    def __init__(self, servers: dict[str, McpServerConfig], log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self._servers = {
            name: _Server(name, config, log_dir / f"{_safe(name)}.log")
            for name, config in servers.items()
        }
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-client",
                                        daemon=True)
        self._closed = False

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> McpConnections:
        """Begin connecting every server (returns at once)."""
        self._thread.start()
        atexit.register(self.close)
        for server in self._servers.values():
            server.started_at = time.monotonic()
            self._submit(self._open(server))
        return self

    async def wait_ready(self, on_settled: Callable[[ServerReport], None] | None = None
                         ) -> list[ServerReport]:
        """Wait (concurrently) until each server is ready or its start timeout passed;
        servers still starting then are stopped and reported as failed. ``on_settled``
        hears about each server as soon as it is settled (a hung one after its own
        timeout, not after the slowest server)."""

        async def one(server: _Server) -> None:
            await settle(server)
            if on_settled is not None:
                on_settled(self._report(server))

        async def settle(server: _Server) -> None:
            left = server.config.start_timeout_s - (time.monotonic() - server.started_at)
            try:
                await asyncio.wait_for(asyncio.wrap_future(server.ready), max(left, 0.0))
            except TimeoutError:
                if server.status == "starting":
                    server.status = "failed"
                    server.error = (f"did not start within {server.config.start_timeout_s:g} s"
                                    f"{self._log_tail(server)}")
                    self._submit(self._cancel(server))
            except Exception:  # reported through status/error below
                pass

        await asyncio.gather(*(one(s) for s in self._servers.values()))
        return self.reports()

    def reports(self) -> list[ServerReport]:
        """The state of every server now."""
        return [self._report(s) for s in self._servers.values()]

    @staticmethod
    def _report(s: _Server) -> ServerReport:
        return ServerReport(s.name, s.status, list(s.tools) if s.status == "ready" else [],
                            s.error)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop every server (stdio programs are terminated) and the background loop."""
        if self._closed or not self._thread.is_alive():
            self._closed = True
            return
        self._closed = True
        # Shutting down: a server that does not stop in time is abandoned.
        with contextlib.suppress(Exception):
            self._submit(self._close_all()).result(timeout_s)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)

    # --- calls -----------------------------------------------------------------------
    async def call(self, server_name: str, tool: str, arguments: dict[str, Any]
                   ) -> CallOutcome:
        """Call ``tool`` on a ready server. Raises McpUnavailableError when the server is
        not there (any more) and TimeoutError when it does not answer in time."""
        server = self._servers.get(server_name)
        if server is None:
            raise McpUnavailableError(f"no MCP server named {server_name!r} is configured")
        if server.status != "ready":
            raise McpUnavailableError(self.describe(server_name))
        future = self._submit(self._call(server, tool, arguments))
        return await asyncio.wrap_future(future)

    def describe(self, server_name: str) -> str:
        """A sentence on why a server is not usable."""
        server = self._servers[server_name]
        what = {"starting": "is still starting", "failed": "did not start",
                "dead": "stopped working", "closed": "was closed",
                "ready": "is ready"}[server.status]
        detail = f" ({server.error})" if server.error else ""
        return f"the MCP server {server_name!r} {what}{detail}"

    # --- on the background loop ---------------------------------------------------------
    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _open(self, server: _Server) -> None:
        server.stop = asyncio.Event()
        server.task = asyncio.current_task()
        try:
            async with AsyncExitStack() as stack:
                log: IO[str] = stack.enter_context(server.log_path.open("a", encoding="utf-8"))
                client = await stack.enter_async_context(_client(server.config, log, stack))
                server.tools = await _list_tools(client, server.name)
                server.client = client
                server.status = "ready"
                server.ready.set_result(None)
                await server.stop.wait()
        except asyncio.CancelledError:
            if server.status == "starting":
                server.status = "failed"
        except BaseException as exc:
            message = _describe_exception(exc)
            if server.status == "ready":
                server.status, server.error = "dead", f"{message}{self._log_tail(server)}"
            elif server.status == "starting":
                server.status = "failed"
                server.error = f"{message}{self._log_tail(server)}"
            if not server.ready.done():
                server.ready.set_exception(McpUnavailableError(server.error or message))
        finally:
            server.client = None
            if server.status == "ready":
                server.status = "closed"

    async def _cancel(self, server: _Server) -> None:
        if server.task is not None and not server.task.done():
            server.task.cancel()
            await asyncio.gather(server.task, return_exceptions=True)

    async def _close_all(self) -> None:
        for server in self._servers.values():
            if server.stop is not None:
                server.stop.set()
            if server.status == "starting" and server.task is not None:
                server.task.cancel()
        tasks = [s.task for s in self._servers.values() if s.task is not None]
        await asyncio.wait(tasks, timeout=4.0) if tasks else None
        for server in self._servers.values():
            server.status = "closed" if server.status in ("ready", "starting") else server.status

    async def _call(self, server: _Server, tool: str, arguments: dict[str, Any]) -> CallOutcome:
        timeout = server.config.call_timeout_s
        try:
            result = await asyncio.wait_for(
                server.client.call_tool(tool, arguments, read_timeout_seconds=timeout),
                timeout)
        except TimeoutError:
            raise TimeoutError(f"the MCP server {server.name!r} did not answer {tool} within "
                               f"{timeout:g} s") from None
        except Exception as exc:
            if _connection_lost(exc):
                server.status = "dead"
                server.error = f"{_describe_exception(exc)}{self._log_tail(server)}"
                if server.stop is not None:
                    server.stop.set()
                raise McpUnavailableError(self.describe(server.name)) from None
            raise
        return _outcome(result)

    def _log_tail(self, server: _Server, lines: int = 5) -> str:
        try:
            text = server.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        tail = [line for line in text.splitlines() if line.strip()][-lines:]
        if not tail:
            return f"; log: {server.log_path}"
        return "; its last output: " + " | ".join(t[:200] for t in tail)


# ----- SDK glue ------------------------------------------------------------------------------


def _client(config: McpServerConfig, log: IO[str], stack: AsyncExitStack) -> Any:
    """An unentered ``mcp.Client`` for the configured transport."""
    from mcp.client.stdio import stdio_client

    from mcp import Client, StdioServerParameters

    if config.command is not None:
        params = StdioServerParameters(
            command=config.command,
            args=config.args,
            # The SDK adds only a safe base (PATH, HOME, ...): no secret of ours leaks in.
            env={k: v.get_secret_value() for k, v in config.env.items()},
            cwd=config.cwd,
        )
        return Client(stdio_client(params, errlog=cast(TextIO, log)),
                      client_info=_client_info())
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    assert config.url is not None
    http = httpx2.AsyncClient(
        headers={k: v.get_secret_value() for k, v in config.headers.items()},
        timeout=httpx2.Timeout(config.call_timeout_s, connect=config.start_timeout_s),
    )
    stack.push_async_callback(http.aclose)
    return Client(streamable_http_client(config.url, http_client=http),
                  client_info=_client_info())


def _client_info() -> Any:
    from mcp import Implementation
    from openintern import __version__

    return Implementation(name="openintern", version=__version__)


async def _list_tools(client: Any, server: str) -> list[RemoteTool]:
    tools: list[RemoteTool] = []
    cursor: str | None = None
    for _ in range(100):  # a paginator that never ends cannot hang start-up
        listing = await client.list_tools(cursor=cursor)
        for tool in listing.tools:
            annotations = getattr(tool, "annotations", None)
            tools.append(RemoteTool(
                server=server,
                name=tool.name,
                description=tool.description or "",
                input_schema=dict(tool.input_schema or {}),
                read_only=bool(annotations and getattr(annotations, "read_only_hint", False)),
            ))
        cursor = listing.next_cursor
        if not cursor:
            break
    return tools


def _outcome(result: Any) -> CallOutcome:
    parts: list[str] = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} {block.mime_type}, {len(block.data) * 3 // 4} bytes]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            parts.append(text if text is not None else f"[resource {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.uri}]")
        else:
            parts.append(f"[{kind or 'unknown'} content]")
    structured = result.structured_content
    if not parts and structured is not None:
        parts.append(json.dumps(structured, indent=1, default=str))
    return CallOutcome(text="\n".join(parts) or "(no output)", is_error=bool(result.is_error),
                       structured=structured)


def _connection_lost(exc: BaseException) -> bool:
    import anyio

    if isinstance(exc, anyio.ClosedResourceError | anyio.BrokenResourceError | anyio.EndOfStream
                  | ConnectionError | EOFError):
        return True
    text = str(exc).lower()
    return "connection closed" in text or ("closed" in text and "stream" in text)


def _describe_exception(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        leaves = list(_leaves(exc))
        if leaves:
            exc = leaves[0]
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def _leaves(group: BaseExceptionGroup[BaseException]) -> Any:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:80] or "server"
