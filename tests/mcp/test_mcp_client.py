"""End-to-end: MCP servers built here with the official `mcp` SDK, configured in
`mcp_servers`, used by a real `intern` session whose model turns are scripted.

One server answers, one hangs at start (skipped with a message within its timeout), one
dies in the middle of the session (reported; the session goes on)."""

from __future__ import annotations

import json
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
    servers: dict[str, Any] = {"constants": {"command": sys.executable, "args": [str(consts)]}}
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
        started = time.monotonic()
        result = run_intern("what is tau?", env=env, cwd=workspace, timeout=120)
        elapsed = time.monotonic() - started
        requests = list(server.requests)
    assert result.code == 0, result.output
    # The hanging server was reported and skipped within its timeout (plus start-up).
    assert "stuck" in result.output and "did not start within 2 s" in result.output
    assert "pretending to start" in result.output  # its own words, to help the user
    assert elapsed < 60
    offered = _tool_names(requests[0])
    assert {"mcp__constants__lookup_constant", "mcp__constants__shutdown"} <= offered
    assert not any(name.startswith("mcp__stuck") for name in offered)
    spec = next(t for t in requests[0]["tools"]
                if t["function"]["name"] == "mcp__constants__lookup_constant")
    assert "[MCP server constants]" in spec["function"]["description"]
    assert spec["function"]["parameters"]["required"] == ["name"]
    sid = store().list_sessions()[0].id
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
