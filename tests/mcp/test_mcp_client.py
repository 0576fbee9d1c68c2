"""End-to-end: MCP servers built here with the official `mcp` SDK, configured in
`mcp_servers`, used by a real `intern` session whose model turns are scripted.

One server answers, one hangs at start (skipped with a message within its timeout), one
dies in the middle of the session (reported; the session goes on)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from e2e_helpers import intern_env, run_intern, store

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer

pytest.importorskip("mcp")

CONSTANTS_SERVER = textwrap.dedent('''
    import os
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("constants")
    VALUES = {"tau": "6.283185307", "e": "2.718281828"}

    @server.tool()
    def lookup_constant(name: str) -> str:
        """The decimal value of a mathematical constant (tau, e)."""
        if name not in VALUES:
            raise ValueError(f"unknown constant {name}")
        return f"{name} = {VALUES[name]}"

    @server.tool()
    def shutdown() -> str:
        """Stop the server at once (for the test: the server dies mid-session)."""
        os._exit(3)

    server.run()
''')

HTTP_SERVER = textwrap.dedent('''
    import sys
    import uvicorn
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("remote")

    @server.tool()
    def lookup_constant(name: str) -> str:
        """The decimal value of a mathematical constant."""
        return {"pi": "pi = 3.14159265"}.get(name, "unknown")

    app = server.streamable_http_app()
    expected = f"Bearer {sys.argv[2]}".encode()

    async def guarded(scope, receive, send):
        # Only callers with the configured header get in.
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"unauthorized"})
            return
        await app(scope, receive, send)

    uvicorn.run(guarded, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
''')

HANGING_SERVER = textwrap.dedent('''
    import sys, time
    print("pretending to start...", file=sys.stderr, flush=True)
    time.sleep(600)
''')


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _servers(tmp_path: Path, **extra: dict[str, Any]) -> dict[str, Any]:
    consts = _write(tmp_path, "constants_server.py", CONSTANTS_SERVER)
    # A generous start timeout: a loaded test machine may be slow to start Python.
    servers: dict[str, Any] = {"constants": {"command": sys.executable, "args": [str(consts)],
                                             "start_timeout_s": 60}}
    servers.update(extra)
    return servers


def _tool_names(request: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in request.get("tools") or []}


def test_scripted_session_uses_an_mcp_tool_and_skips_a_hanging_server(
        workspace: Path, tmp_path: Path) -> None:
    hang = _write(tmp_path, "hanging_server.py", HANGING_SERVER)
    servers = _servers(tmp_path, stuck={"command": sys.executable, "args": [str(hang)],
                                        "start_timeout_s": 2})
    script = Script.from_steps([
        {"text": "Looking it up.", "tool_calls": [
            {"name": "mcp__constants__lookup_constant", "arguments": {"name": "tau"}}]},
        {"text": "Checking a wrong argument.", "tool_calls": [
            {"name": "mcp__constants__lookup_constant", "arguments": {"nme": "tau"}}]},
        {"text": "tau is about 6.28."},
    ])
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url, OPENINTERN_MCP_SERVERS=json.dumps(servers))
        result = run_intern("what is tau?", env=env, cwd=workspace, timeout=180)
        requests = list(server.requests)
    assert result.code == 0, result.output
    # The hanging server was reported and skipped within its timeout (plus start-up).
    assert "stuck" in result.output and "did not start within 2 s" in result.output
    assert "pretending to start" in result.output  # its own words, to help the user
    sid = store().list_sessions()[0].id
    events = store().events_after(sid)
    started = next(e.ts for e in events if e.type == "session_started")
    skipped = next(e.ts for e in events if e.type == "error" and "stuck" in e.message)
    # Reported once its own 2 s were up (not after the slower server), before the model
    # was first asked anything.
    assert skipped - started < 2 + 8
    first_call = next(e.ts for e in events if e.type == "model_call")
    assert skipped < first_call
    offered = _tool_names(requests[0])
    assert {"mcp__constants__lookup_constant", "mcp__constants__shutdown"} <= offered
    assert not any(name.startswith("mcp__stuck") for name in offered)
    spec = next(t for t in requests[0]["tools"]
                if t["function"]["name"] == "mcp__constants__lookup_constant")
    assert "[MCP server constants]" in spec["function"]["description"]
    assert spec["function"]["parameters"]["required"] == ["name"]
    tools = [m.content for m in store().load_messages(sid) if m.role == "tool"]
    assert tools[0] == "tau = 6.283185307"
    assert "invalid arguments" in tools[1] and "'name' is a required property" in tools[1]


def test_mcp_calls_need_approval_unless_trusted(workspace: Path, tmp_path: Path) -> None:
    call = {"name": "mcp__constants__lookup_constant", "arguments": {"name": "e"}}
    script = Script.from_steps([{"tool_calls": [call]}, {"text": "done"}])
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url, OPENINTERN_AUTO_APPROVE="false",
                         OPENINTERN_MCP_SERVERS=json.dumps(_servers(tmp_path)))
        result = run_intern("value of e", env=env, cwd=workspace, timeout=120)
    assert result.code == 0, result.output
    sid = store().list_sessions()[0].id
    tools = [m.content for m in store().load_messages(sid) if m.role == "tool"]
    assert "needs approval" in tools[0] and "MCP server 'constants'" in tools[0]
    assert any(e.type == "approval_requested" for e in store().events_after(sid))

    trusted = _servers(tmp_path)
    trusted["constants"]["trusted_tools"] = ["lookup_constant"]
    script = Script.from_steps([{"tool_calls": [call]}, {"text": "done"}])
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url, OPENINTERN_AUTO_APPROVE="false",
                         OPENINTERN_MCP_SERVERS=json.dumps(trusted))
        result = run_intern("value of e", env=env, cwd=workspace, timeout=120)
    assert result.code == 0, result.output
    sid = store().list_sessions()[0].id
    tools = [m.content for m in store().load_messages(sid) if m.role == "tool"]
    assert tools[0] == "e = 2.718281828"


def test_a_server_that_dies_mid_session_is_reported_and_the_session_goes_on(
        workspace: Path, tmp_path: Path) -> None:
    script = Script.from_steps([
        {"tool_calls": [{"name": "mcp__constants__shutdown", "arguments": {}}]},
        {"tool_calls": [{"name": "mcp__constants__lookup_constant",
                         "arguments": {"name": "tau"}}]},
        {"tool_calls": [{"name": "write_file",
                         "arguments": {"path": "notes.txt", "content": "still here"}}]},
        {"text": "Carried on without the server."},
    ])
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url, OPENINTERN_MCP_SERVERS=json.dumps(_servers(tmp_path)))
        result = run_intern("use the constants server", env=env, cwd=workspace, timeout=120)
    assert result.code == 0, result.output
    assert (workspace / "notes.txt").read_text() == "still here"
    sid = store().list_sessions()[0].id
    tools = [m.content for m in store().load_messages(sid) if m.role == "tool"]
    assert tools[0].startswith("ERROR") and tools[1].startswith("ERROR")
    assert "stopped working" in tools[1] and "unavailable for the rest of this session" in tools[1]
    errors = [e.message for e in store().events_after(sid) if e.type == "error"]
    assert any("constants" in m and "skipped" in m for m in errors)
    assert "Carried on without the server." in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_streamable_http_server_with_a_bearer_header(workspace: Path, tmp_path: Path) -> None:
    port, token = _free_port(), "remote-mcp-token-0123456789"
    script = _write(tmp_path, "http_server.py", HTTP_SERVER)
    process = subprocess.Popen([sys.executable, str(script), str(port), token],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/mcp"
        servers = {"remote": {"url": url, "trusted": True,
                              "headers": {"Authorization": f"Bearer {token}"}},
                   "locked": {"url": url, "start_timeout_s": 5}}
        script_steps = Script.from_steps([
            {"tool_calls": [{"name": "mcp__remote__lookup_constant",
                             "arguments": {"name": "pi"}}]},
            {"text": "pi is about 3.14."},
        ])
        with ScriptedServer(script_steps) as server:
            env = intern_env(server.base_url, OPENINTERN_AUTO_APPROVE="false",
                             OPENINTERN_MCP_SERVERS=json.dumps(servers))
            result = run_intern("what is pi?", env=env, cwd=workspace, timeout=120)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert result.code == 0, result.output
    # Without the header the same server refuses: reported, skipped.
    assert "locked" in result.output and "did not start" in result.output
    sid = store().list_sessions()[0].id
    tools = [m.content for m in store().load_messages(sid) if m.role == "tool"]
    assert tools == ["pi = 3.14159265"]  # trusted: ran without asking, though headless
