"""Fault replay: every fault ends in a named outcome, and nothing committed is lost.

Each row runs the real `intern` command (a subprocess, its own data directory) against
the scripted model server, which injects one fault into an otherwise ordinary four-step
session (three shell steps, then a final answer). Faults that stop the turn are then
fixed and the session resumed with `intern resume`. For each fault the table shows the
outcome (retried / corrected / named stop), the exit code, and the lost messages: how many
messages the model was shown (in any request it received) that the store does not hold at
the end. That must be 0.

Run: ``python benchmarks/fault_bench.py`` (a few minutes on 2 cores; ``--only NAME`` runs
one row).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from openintern.agent.pinned import PINNED_HEADER
from openintern.llm.script import Step
from openintern.llm.scripted import ScriptedServer
from openintern.store import Store

StepDict = dict[str, Any]


def _echo(i: int) -> StepDict:
    return {"text": f"step {i}",
            "tool_calls": [{"name": "shell", "arguments": {"command": f"echo step-{i}"}}]}


FINAL: StepDict = {"text": "All steps done."}


def _session(fault_step: StepDict | None = None, *, at: int = 1) -> list[StepDict]:
    steps = [_echo(0), _echo(1), _echo(2), FINAL]
    if fault_step is not None:
        steps[at] = {**steps[at], **fault_step}
    return steps


@dataclass
class Fault:
    """One row: the scripted steps (or a responder), extra settings, and what fixes it."""

    name: str
    steps: list[StepDict] | None = None
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    resume_args: list[str] = field(default_factory=list)
    dead_endpoint: bool = False
    lock_store_at: int | None = None  # lock the SQLite store when this call arrives


FAULTS = [
    Fault("HTTP 500 twice", _session({"error": {"status": 500, "times": 2}})),
    Fault("HTTP 429 with Retry-After", _session(
        {"error": {"status": 429, "retry_after": 0.2, "times": 2}})),
    Fault("200 with a non-JSON body", _session({"fault": {"kind": "non_json"}})),
    Fault("200 without choices", _session({"fault": {"kind": "no_choices"}})),
    Fault("stream ends after its first chunk", _session({"fault": {"kind": "truncated_stream"}})),
    Fault("connection dropped mid-stream", _session({"cut_after_chars": 3})),
    Fault("empty reply", [_echo(0), {"text": ""}, _echo(1), _echo(2), FINAL]),
    Fault("reply cut at the token limit", [_echo(0), {"text": "The results show",
                                                      "finish_reason": "length"},
                                           _echo(1), _echo(2), FINAL]),
    Fault("malformed tool arguments", _session(
        {"tool_calls": [{"name": "shell", "arguments": '{"command": "echo'}]})),
    Fault("NUL and lone surrogates in arguments", _session(
        {"tool_calls": [{"name": "note",
                         "arguments": '{"text": "loss NaN\\u0000 \\ud800 at 12"}'}]})),
    Fault("empty replies that persist", [_echo(0), {"text": ""}, {"text": ""}, {"text": ""},
                                         _echo(1), _echo(2), FINAL]),
    Fault("HTTP 401 (key fixed, then resume)", _session(
        {"error": {"status": 401, "message": "Incorrect API key provided"}})),
    Fault("budget reached (raised, then resume)", _session(),
          env={"OPENINTERN_MODEL": "openai/gpt-4o"}, args=["--budget", "0.01"],
          resume_args=["--budget", "5"]),
    Fault("iteration cap (raised, then resume)", _session(), args=["--max-iterations", "2"],
          resume_args=["--max-iterations", "10"]),
    Fault("store locked by another writer", _session(), lock_store_at=2),
    Fault("model endpoint refused", _session(), dead_endpoint=True),
]


@dataclass
class Row:
    fault: str
    outcome: str
    exit_code: int
    resumed: str
    lost: list[str]
    seconds: float


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openintern.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600, check=False)


def _outcome(store: Store, session_id: str, exit_code: int) -> str:
    events = store.events_after(session_id)
    turns = [e for e in events if e.type == "turn_complete"]
    info = store.get_session(session_id)
    reason = turns[-1].reason if turns else None  # type: ignore[attr-defined]
    if info.status == "running" and exit_code == 4:
        # The store could not record this stop (that is the fault); the terminal said it.
        return "named stop: store_error"
    if info.status == "running" or reason not in (None, "finished"):
        return f"named stop: {reason or info.status}"
    guards = {e.guard for e in events if e.type == "guard_triggered"}  # type: ignore[attr-defined]
    if guards & {"empty_reply", "cut_reply", "tool_call"}:
        return "corrected (" + ", ".join(sorted(guards)) + ")"
    if any(e.type == "retrying" for e in events):
        return "retried"
    if any("\ufffd" in str(e.model_dump()) for e in events if e.type == "tool_call_started"):
        return "made encodable"
    return "finished"


def _lost(requests: list[dict[str, Any]], store: Store, session_id: str) -> list[str]:
    """Messages the model was shown that the store does not hold (every row counts,
    including those folded into summaries or hidden)."""
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT role, content, tool_calls, tool_call_id FROM messages "
                                 "WHERE session_id = :sid"), {"sid": session_id}).all()
    contents = {(r[0], r[1]) for r in rows}
    tool_ids = {r[3] for r in rows if r[3]}
    call_ids = {str(c.get("id")) for r in rows
                for c in (r[2] if isinstance(r[2], list) else json.loads(r[2] or "[]"))}
    lost: list[str] = []
    seen: set[str] = set()
    for request in requests:
        for m in request.get("messages", []):
            role, content = m.get("role"), m.get("content") or ""
            if role == "system" or content.startswith(PINNED_HEADER):
                continue  # written by the harness for each request, from the store
            key = f"{role}|{m.get('tool_call_id')}|{content[:200]}|{m.get('tool_calls')}"
            if key in seen:
                continue
            seen.add(key)
            if role == "tool":
                missing = m.get("tool_call_id") not in tool_ids
            elif m.get("tool_calls"):
                missing = any(str(c.get("id")) not in call_ids for c in m["tool_calls"])
            else:
                missing = (role, content) not in contents
            if missing:
                lost.append(f"{role}: {content[:80]!r}")
    return lost


def run_fault(fault: Fault, base: Path) -> Row:
    data = base / "data"
    ws = base / "ws"
    ws.mkdir(parents=True)
    data.mkdir(parents=True)
    db = data / "openintern.db"
    holder: list[sqlite3.Connection] = []
    steps = [Step.model_validate(s) for s in (fault.steps or _session())]

    def respond(body: dict[str, Any], index: int) -> Step | None:
        if fault.lock_store_at is not None and index == fault.lock_store_at and not holder:
            conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            holder.append(conn)
        return steps[index] if index < len(steps) else None

    env = {**os.environ, "OPENINTERN_DATA_DIR": str(data),
           "OPENINTERN_CONFIG": str(base / "none.toml"), "OPENINTERN_MODEL": "openai/scripted",
           "OPENINTERN_API_KEY": "bench-key", "OPENINTERN_RETRY_BASE_DELAY_S": "0.05",
           "OPENINTERN_AUTO_APPROVE": "true", "OPENINTERN_SANDBOX": "none",
           "OPENINTERN_STORE_URL": f"sqlite:///{db}?timeout=0.5",
           "COLUMNS": "200", "NO_COLOR": "1", **fault.env}
    started = time.perf_counter()
    with ScriptedServer(respond) as server:
        env["OPENINTERN_API_BASE"] = (f"http://127.0.0.1:{_closed_port()}/v1"
                                      if fault.dead_endpoint else server.base_url)
        first = _run([*fault.args, "run four steps"], env, ws)
        for conn in holder:
            conn.rollback()
            conn.close()
        store = Store(f"sqlite:///{db}")
        [info] = store.list_sessions()
        outcome = _outcome(store, info.id, first.returncode)
        resumed = "-"
        if outcome.startswith("named stop"):
            if fault.dead_endpoint:
                env["OPENINTERN_API_BASE"] = server.base_url  # the server is up again
            again = _run(["resume", info.id, *fault.resume_args], env, ws)
            resumed = f"exit {again.returncode}: {_outcome(store, info.id, again.returncode)}"
        requests = list(server.requests)
    lost = _lost(requests, store, info.id)
    store.close()
    return Row(fault.name, outcome, first.returncode, resumed, lost,
               time.perf_counter() - started)


def main() -> None:
    """Replay every fault and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run the fault whose name contains this text")
    args = parser.parse_args()
    faults = [f for f in FAULTS if not args.only or args.only.lower() in f.name.lower()]
    rows: list[Row] = []
    console = Console(width=max(Console().width, 120))  # the table readable in a log too
    for fault in faults:
        with tempfile.TemporaryDirectory() as tmp:
            row = run_fault(fault, Path(tmp))
        console.print(f"[dim]{row.fault}: {row.outcome} (exit {row.exit_code}) "
                      f"in {row.seconds:.1f}s[/dim]", markup=True, highlight=False)
        rows.append(row)
    table = Table(title="Fault replay against the real CLI (scripted model server)")
    for col in ("fault", "outcome", "exit", "after fix + intern resume", "lost messages"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.fault, r.outcome, str(r.exit_code), r.resumed, str(len(r.lost)))
    console.print(table)
    for r in rows:
        for message in r.lost:
            console.print(f"lost in {r.fault!r}: {message}", markup=False)
    lost = sum(len(r.lost) for r in rows)
    console.print(f"lost messages in total: {lost}")
    raise SystemExit(1 if lost else 0)


if __name__ == "__main__":
    main()
