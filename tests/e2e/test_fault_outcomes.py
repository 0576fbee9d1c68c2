"""End-to-end: every fault ends in a named outcome (retried, corrected, or a named stop
with a non-zero exit), and nothing already committed is lost. The real `intern` command
against the scripted model server injecting each fault; the real store."""

from __future__ import annotations

import math
import re
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import intern_env, run_intern, store

from openintern.agent.guards import EMPTY_REPLY_NUDGE
from openintern.agent.longrun import write_fixture_files
from openintern.llm.script import Script, Step
from openintern.llm.scripted import ScriptedServer
from openintern.research.ledger import Ledger
from openintern.store import Store


def _call(name: str, **arguments: object) -> dict[str, object]:
    return {"name": name, "arguments": arguments}


def _echo(i: int) -> dict[str, object]:
    return {"text": f"step {i}", "tool_calls": [_call("shell", command=f"echo step-{i}")]}


def _tool_messages(session_id: str) -> list[str]:
    return [m.content for m in store().load_messages(session_id) if m.role == "tool"]


def test_broken_200s_are_retried_and_the_turn_runs_all_its_steps(workspace: Path) -> None:
    steps = [
        _echo(0),
        {**_echo(1), "fault": {"kind": "non_json"}},
        {**_echo(2), "fault": {"kind": "no_choices"}},
        {**_echo(3), "fault": {"kind": "truncated_stream"}},
        {"text": "All five steps done."},
    ]
    with ScriptedServer(Script.from_steps(steps)) as server:
        result = run_intern("run five steps", env=intern_env(server.base_url), cwd=workspace)
        used = server.steps_used
    assert result.code == 0, result.output
    assert used == 5 and "All five steps done." in result.output
    assert result.output.count("↻") == 3  # each fault announced as a retry
    [session] = store().list_sessions()
    assert session.iterations == 5
    retries = [e for e in store().events_after(session.id) if e.type == "retrying"]
    assert len(retries) == 3
    assert [t for t in _tool_messages(session.id) if "step-" in t] and len(
        _tool_messages(session.id)) == 4


def test_empty_reply_gets_a_correction_and_the_turn_goes_on(workspace: Path) -> None:
    steps = [_echo(0), {"text": ""}, _echo(1), {"text": "Finished after a correction."}]
    with ScriptedServer(Script.from_steps(steps)) as server:
        result = run_intern("work", env=intern_env(server.base_url), cwd=workspace)
        requests = list(server.requests)
    assert result.code == 0, result.output
    assert "Finished after a correction." in result.output
    # The request after the empty reply carried the correction, and no empty message.
    after = requests[2]["messages"]
    assert after[-1]["role"] == "user" and after[-1]["content"] == EMPTY_REPLY_NUDGE
    assert not [m for m in after if m["role"] == "assistant" and not m.get("content")
                and not m.get("tool_calls")]
    [session] = store().list_sessions()
    # (The scripted model has no price: the accountant's "cost" warning comes first.)
    guards = [e for e in store().events_after(session.id)
              if e.type == "guard_triggered" and e.guard != "cost"]  # type: ignore[attr-defined]
    assert [g.guard for g in guards] == ["empty_reply"]  # type: ignore[attr-defined]
    assert session.status == "idle" and session.iterations == 4


def test_empty_replies_that_persist_end_in_a_named_stop(workspace: Path) -> None:
    steps = [_echo(0), {"text": ""}, {"text": " "}, {"text": ""},
             {"text": "Back on track."}]
    with ScriptedServer(Script.from_steps(steps)) as server:
        env = intern_env(server.base_url)
        result = run_intern("work", env=env, cwd=workspace)
        assert result.code == 1, result.output
        assert "stopped: the model kept sending empty replies" in result.output
        assert "3 replies were empty" in result.output
        [session] = store().list_sessions()
        assert session.status == "malformed_reply"
        # The stop is resumable: the next call answers properly.
        again = run_intern("resume", session.id, env=env, cwd=workspace)
    assert again.code == 0, again.output
    assert "Back on track." in again.output


def test_nul_and_lone_surrogates_in_tool_arguments_crash_nothing(workspace: Path) -> None:
    # JSON escapes as a model writes them: a NUL and a lone surrogate inside the strings.
    shell = '{"command": "echo caf\\u00e9 \\ud800 done\\u0000"}'
    note = '{"text": "loss was NaN\\u0000 at step \\udcff 12"}'
    steps = [
        {"tool_calls": [{"name": "shell", "arguments": shell}]},
        {"tool_calls": [{"name": "note", "arguments": note}]},
        {"text": "Reported everything \ud83d\ude00 fine."},
    ]
    with ScriptedServer(Script.from_steps(steps)) as server:
        result = run_intern("odd text", env=intern_env(server.base_url), cwd=workspace)
    assert result.code == 0, result.output
    assert "Traceback" not in result.output  # (the shell may refuse the command: its call)
    assert "shell" in result.output and "Reported everything" in result.output
    assert "── done" in result.output  # the last terminal event was not lost
    [session] = store().list_sessions()
    events = store().events_after(session.id)
    started = [e for e in events if e.type == "tool_call_started"]
    assert len(started) == 2
    command = started[0].arguments["command"]  # type: ignore[attr-defined,index]
    assert "\ufffd" in command and "\x00" not in command
    [(_, text, _)] = store().list_notes(session.id)
    assert text == "loss was NaN\ufffd at step \ufffd 12"
    assert events[-1].type == "turn_complete"


def test_refused_model_endpoint_is_named_quickly(workspace: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    # The default backoff (1 s doubling), not the suite's fast one.
    env = intern_env(url, OPENINTERN_RETRY_BASE_DELAY_S="1")
    result = run_intern("hello", env=env, cwd=workspace)
    assert result.code == 1, result.output
    assert f"cannot connect to {url} (connection refused)" in result.output
    assert "HTTP 500" not in result.output and "InternalServerError" not in result.output
    [session] = store().list_sessions()
    events = store().events_after(session.id)
    retries = [e for e in events if e.type == "retrying"]
    assert len(retries) <= 1  # was 6 retries over 80 s
    # From the first failed attempt to the named stop: seconds, not a minute and a half.
    first_failure = retries[0].ts if retries else events[0].ts
    assert events[-1].type == "turn_complete" and events[-1].ts - first_failure < 10


def test_after_a_401_resume_continues_the_interrupted_turn(workspace: Path) -> None:
    steps = [
        _echo(0),
        {**_echo(1), "error": {"status": 401, "message": "Incorrect API key provided"}},
        {"text": "Done once the key worked."},
    ]
    with ScriptedServer(Script.from_steps(steps)) as server:
        env = intern_env(server.base_url)
        first = run_intern("two steps", env=env, cwd=workspace)
        assert first.code == 1, first.output
        assert "OPENINTERN_API_KEY" in first.output
        [session] = store().list_sessions()
        assert session.status == "error"
        # The key is fixed (the server accepts it now): resume picks the turn up.
        second = run_intern("resume", session.id, env=env, cwd=workspace)
    assert second.code == 0, second.output
    assert "nothing to continue" not in second.output
    assert "Done once the key worked." in second.output
    roles = [m.role for m in store().load_messages(session.id)]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    turns = [e for e in store().events_after(session.id) if e.type == "turn_complete"]
    assert turns[-1].iterations == 3  # type: ignore[attr-defined]


def test_after_a_budget_stop_resume_says_what_to_type_then_continues(workspace: Path) -> None:
    (workspace / "big.txt").write_text("0123456789 abcdefghij\n" * 800)
    steps: list[dict[str, Any]] = [
        {"tool_calls": [_call("read_file", path="big.txt", offset=1 + i)]} for i in range(4)
    ]
    steps.append({"text": "Read it all."})
    with ScriptedServer(Script.from_steps(steps)) as server:
        # gpt-4o's price from LiteLLM's table applies even though the scripted server answers.
        env = intern_env(server.base_url, OPENINTERN_MODEL="openai/gpt-4o")
        # (The first call alone costs about $0.03: the budget allows a few, not all.)
        first = run_intern("read it all", "--budget", "0.08", env=env, cwd=workspace)
        assert first.code == 3, first.output
        [session] = store().list_sessions()
        calls = len(server.requests)
        blocked = run_intern("resume", session.id, env=env, cwd=workspace)
        assert blocked.code == 3, blocked.output
        assert f"intern resume {session.id} --budget" in " ".join(blocked.output.split())
        assert len(server.requests) == calls  # no paid call beyond the budget
        raised = run_intern("resume", session.id, "--budget", "5", env=env, cwd=workspace)
    assert raised.code == 0, raised.output
    assert "Read it all." in raised.output
    assert store().get_session(session.id).status == "idle"


class Deliberating:
    """Reads a log at every step after a long paragraph of reasoning: assistant text is
    never masked, so the history must be summarised, folding old messages away."""

    def __init__(self, total: int) -> None:
        self.total = total

    def __call__(self, body: dict[str, Any], index: int) -> Step:
        if index >= self.total - 1:
            return Step(text=f"Read {index} logs; done.")
        return Step.model_validate({
            "text": f"step {index}: " + "I compare the loss curves of both runs. " * 40,
            "tool_calls": [_call("read_file", path=f"logs/run_{index % 40:02d}.log")],
        })


@pytest.mark.timeout(600)
def test_resumed_turn_counts_calls_folded_into_summaries(workspace: Path) -> None:
    write_fixture_files(workspace)
    total = 14
    with ScriptedServer(Deliberating(total), context_window=16_000) as server:
        # A small conversation budget, and summaries whenever it is exceeded (by default
        # at most one per 20 steps): the count must include what summaries fold away.
        env = intern_env(server.base_url, OPENINTERN_CONTEXT_WINDOW="16000",
                         OPENINTERN_CONTEXT_BUDGET_TOKENS="2000",
                         OPENINTERN_SUMMARY_MIN_STEPS="1")
        first = run_intern("read every log", "--max-iterations", "6", env=env, cwd=workspace)
        assert first.code == 3, first.output
        assert "6 model calls" in first.output
        [session] = store().list_sessions()
        events = store().events_after(session.id)
        assert any(e.type == "compaction" and e.method in ("summary", "fallback")  # type: ignore[attr-defined]
                   for e in events), "the test needs messages folded into summaries"
        live = [m for m in store().load_messages(session.id) if m.role == "assistant"]
        assert len(live) < 6  # what the old count saw
        # The cap is measured the same way on resume: 10 means 4 more calls, not 10.
        capped = run_intern("resume", session.id, "--max-iterations", "10", env=env,
                            cwd=workspace)
        assert capped.code == 3, capped.output
        assert "10 model calls" in capped.output
        main_calls = [r for r in server.requests if r.get("tools")]
        assert len(main_calls) == 10
        done = run_intern("resume", session.id, "--max-iterations", "300", env=env,
                          cwd=workspace)
    assert done.code == 0, done.output
    assert f"done · {total} model calls" in done.output


def test_a_locked_store_stops_the_turn_and_loses_nothing(workspace: Path,
                                                         tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    holder: dict[str, sqlite3.Connection] = {}
    committed: list[int] = []

    def respond(body: dict[str, Any], index: int) -> Step | None:
        if index == 2 and "lock" not in holder:
            # Everything of steps 0-1 is committed (the model is only called after it);
            # now another writer takes the database, as a second process might.
            committed.append(len(store_of(db).load_messages(session_id())))
            conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            holder["lock"] = conn
        if index < 4:
            return Step.model_validate(_echo(index))
        return Step(text="Finished after the lock was gone.") if index == 4 else None

    def session_id() -> str:
        [info] = store_of(db).list_sessions()
        return info.id

    with ScriptedServer(respond) as server:
        env = intern_env(server.base_url, OPENINTERN_STORE_URL=f"sqlite:///{db}?timeout=0.5")
        result = run_intern("four steps", env=env, cwd=workspace)
        holder["lock"].rollback()
        holder["lock"].close()
        assert result.code == 4, result.output
        assert "database is locked" in result.output
        assert "stopped: the store could not record the turn" in result.output
        s = store_of(db)
        [info] = s.list_sessions()
        kept = s.load_messages(info.id)
        assert len(kept) == committed[0] == 5  # user + two steps, all still there
        assert info.status == "running"  # so resume continues the turn
        again = run_intern("resume", info.id, env=env, cwd=workspace)
    assert again.code == 0, again.output
    assert "Finished after the lock was gone." in again.output
    history = s.load_messages(info.id)
    assert [m.content for m in history[:5]] == [m.content for m in kept]
    assert history[-1].content == "Finished after the lock was gone."


def store_of(db: Path) -> Store:
    return Store(f"sqlite:///{db}")


NAN_JOB = """\
import json, math
print(json.dumps({"step": 1, "loss": 0.5}), flush=True)
print(json.dumps({"step": 2, "loss": math.nan, "best": math.inf}), flush=True)
"""


def test_a_nan_metric_is_stored_on_every_backend(workspace: Path, store_url: str) -> None:
    # Was: PostgreSQL refused the NaN token, the experiment stayed `queued` forever and
    # the model read "experiment failed unexpectedly".
    (workspace / "nan.py").write_text(NAN_JOB)

    def respond(body: dict[str, Any], index: int) -> Step | None:
        tools = [str(m.get("content") or "") for m in body["messages"] if m["role"] == "tool"]
        joined = "\n".join(tools)
        if index == 0:
            run = {"operation": "run", "name": "nan-run", "command": "python nan.py",
                   "primary_metric": "loss"}
            return Step.model_validate({"tool_calls": [{"name": "experiment",
                                                        "arguments": run}]})
        job = re.search(r"running as local job (\S+) \(", joined)
        exp = re.search(r"Experiment (\w+) running as local", joined)
        if index == 1 and job:
            return Step.model_validate({"tool_calls": [_call(
                "jobs", operation="wait", job_ids=[job.group(1)], wait_timeout_s=60)]})
        if index == 2 and exp:
            return Step.model_validate({"tool_calls": [_call(
                "experiment", operation="status", experiment_id=exp.group(1))]})
        return Step(text="The loss became NaN.") if index <= 3 else None

    with ScriptedServer(respond) as server:
        result = run_intern("run it", env=intern_env(server.base_url), cwd=workspace)
    assert result.code == 0, result.output
    s = Store(store_url)
    [session] = s.list_sessions()
    tools = [m.content for m in s.load_messages(session.id) if m.role == "tool"]
    assert len(tools) == 3, tools
    assert not [t for t in tools if t.startswith("ERROR")], tools
    [exp] = Ledger(s).experiments(session.id)
    assert exp.status in ("succeeded", "failed", "cancelled"), exp  # never stuck queued
    assert math.isnan(exp.final_metrics["loss"]), exp.final_metrics
    assert [p.step for p in Ledger(s).series(exp.id, "loss")] == [1, 2]
    assert "nan" in tools[2].lower()  # the model is told what happened
    s.close()
