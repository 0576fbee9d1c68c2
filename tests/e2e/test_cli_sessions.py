"""End-to-end: the `intern` command against the scripted model server, real sandbox,
real store. Only the model's turns are scripted."""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import time
from pathlib import Path

from e2e_helpers import intern_argv, intern_env, run_intern, store

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer


def _call(name: str, **arguments: object) -> dict[str, object]:
    return {"name": name, "arguments": arguments}


def test_headless_task_writes_and_runs_a_script(workspace: Path) -> None:
    script = Script.from_steps(
        [
            {
                "text": "Writing the script.",
                "tool_calls": [
                    _call(
                        "write_file",
                        path="hello.py",
                        content="import json\nprint(json.dumps({'step': 1, 'answer': 6 * 7}))\n",
                    )
                ],
            },
            {"tool_calls": [_call("shell", command="python hello.py")]},
            {"text": "The script printed 42. Done."},
        ]
    )
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url)
        result = run_intern("compute the answer", env=env, cwd=workspace)
        requests = server.requests
    assert result.code == 0, result.output
    assert (workspace / "hello.py").exists()
    # The shell output reached the model in the third request, verbatim from the real run.
    last_tool = [m for m in requests[2]["messages"] if m["role"] == "tool"][-1]
    assert '"answer": 42' in last_tool["content"]
    assert "exit code 0" in last_tool["content"]
    assert "The script printed 42" in result.output

    s = store()
    [session] = s.list_sessions()
    assert session.status == "idle" and session.iterations == 3
    roles = [m.role for m in s.load_messages(session.id)]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    listing = run_intern("sessions", env=env, cwd=workspace)
    assert session.id in listing.output and "compute the answer" in listing.output


def test_malformed_model_output_becomes_tool_errors(workspace: Path) -> None:
    script = Script.from_steps(
        [
            {"tool_calls": [{"name": "write_file", "arguments": '{"path": "a.txt", "content": '}]},
            {"tool_calls": [_call("no_such_tool", x=1)]},
            {"tool_calls": [_call("write_file", path="a.txt")]},  # content missing
            {"tool_calls": [{"name": "read_file", "arguments": "[1, 2]"}]},
            {"tool_calls": [_call("read_file", path="../../etc/passwd")]},
            {"text": "I could not do it."},
        ]
    )
    with ScriptedServer(script) as server:
        result = run_intern("try things", env=intern_env(server.base_url), cwd=workspace)
    assert result.code == 0, result.output
    [session] = store().list_sessions()
    tools = [m.content for m in store().load_messages(session.id) if m.role == "tool"]
    assert len(tools) == 5
    assert "not valid JSON" in tools[0]
    assert "unknown tool 'no_such_tool'" in tools[1] and "read_file" in tools[1]
    assert "content" in tools[2] and "required" in tools[2].lower()
    assert "must be a JSON object" in tools[3]
    assert "outside the workspace" in tools[4]
    assert all(t.startswith("ERROR:") for t in tools)


def test_retries_on_429_500_and_a_cut_stream(workspace: Path) -> None:
    script = Script.from_steps(
        [
            {"text": "first", "error": {"status": 429, "message": "slow down", "retry_after": 0.1}},
            {"text": "second", "error": {"status": 500, "message": "boom", "times": 2}},
            {"text": "a long answer that the network cuts in the middle", "cut_after_chars": 12},
        ]
    )
    # Each step without tool calls ends a turn, so drive three turns through resume -M.
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url)
        first = run_intern("one", env=env, cwd=workspace)
        sid = store().list_sessions()[0].id
        second = run_intern("resume", sid, "-M", "two", env=env, cwd=workspace)
        third = run_intern("resume", sid, "-M", "three", env=env, cwd=workspace)
        n_requests = len(server.requests)
    assert first.code == second.code == third.code == 0, third.output
    assert "retry" in first.output and "retry" in second.output and "retry" in third.output
    # 1 + 1 retry, 1 + 2 retries, 1 + 1 retry after the cut.
    assert n_requests == 7
    texts = [m.content for m in store().load_messages(sid) if m.role == "assistant"]
    assert texts == ["first", "second", "a long answer that the network cuts in the middle"]


def test_kill_9_mid_turn_then_resume_loses_and_duplicates_nothing(workspace: Path) -> None:
    script = Script.from_steps(
        [
            {"tool_calls": [_call("write_file", path="notes.txt", content="step one\n")]},
            {"tool_calls": [_call("shell", command="sleep 60")]},
            {"tool_calls": [_call("read_file", path="notes.txt")]},
            {"text": "All done after the restart."},
        ]
    )
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url)
        proc = subprocess.Popen(
            intern_argv("a task that gets killed"),
            env=env,
            cwd=workspace,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.time() + 180
        sid = None
        while time.time() < deadline:
            sessions = store().list_sessions() if _db_exists() else []
            if sessions:
                sid = sessions[0].id
                events = store().events_after(sid)
                if any(
                    getattr(e, "name", "") == "shell" and e.type == "tool_call_started"
                    for e in events
                ):
                    break
            time.sleep(0.2)
        else:
            proc.kill()
            raise AssertionError("the session never reached the shell call")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert sid is not None
        assert store().get_session(sid).status == "running"

        result = run_intern("resume", sid, env=env, cwd=workspace)
        resumed_request = server.requests[-1]
    assert result.code == 0, result.output
    assert "All done after the restart." in result.output

    history = store().load_messages(sid)
    assert [m.role for m in history] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    call_ids = [c.id for m in history for c in m.tool_calls]
    result_ids = [m.tool_call_id for m in history if m.role == "tool"]
    assert call_ids == result_ids and len(set(call_ids)) == 3  # one result per call, in order
    interrupted = history[4].content
    assert "did not complete" in interrupted
    assert "step one" in history[6].content
    # What the model saw after the restart is that same history, nothing doubled.
    sent = [m for m in resumed_request["messages"] if m["role"] in ("assistant", "tool")]
    assert len(sent) == 6
    assert store().get_session(sid).status == "idle"


def test_secrets_never_reach_the_sandbox_or_the_store(workspace: Path) -> None:
    openai_key = "sk-test-" + "q" * 40
    hf_token = "hf_" + "Z" * 34
    custom = "s3cr3t-value-that-must-not-leak"
    script = Script.from_steps(
        [
            {"tool_calls": [_call("shell", command="env | sort")]},
            {"tool_calls": [_call("note", text=f"the key is {openai_key} and {custom}")]},
            {"text": f"Here it is: {hf_token}"},
        ]
    )
    with ScriptedServer(script) as server:
        env = intern_env(
            server.base_url, OPENAI_API_KEY=openai_key, HF_TOKEN=hf_token, MY_SERVICE_TOKEN=custom
        )
        result = run_intern(f"use token {custom}", env=env, cwd=workspace)
        env_output = next(
            m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"
        )
    assert result.code == 0, result.output
    assert "PATH=" in env_output
    for secret in (openai_key, hf_token, custom, "scripted-test-key"):
        assert secret not in env_output
    db = Path(os.environ["OPENINTERN_DATA_DIR"]) / "openintern.db"
    dump = subprocess.run(
        [
            "python",
            "-c",
            f"import sqlite3;c=sqlite3.connect({str(db)!r});print('\\n'.join(c.iterdump()))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "[REDACTED]" in dump
    for secret in (openai_key, hf_token, custom):
        assert secret not in dump


def test_demo_runs_offline_with_real_numbers(tmp_path: Path) -> None:
    ws = tmp_path / "demo"
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    result = run_intern("demo", "--fast", "--workspace", str(ws), env=env, cwd=tmp_path,
                        timeout=300)
    assert result.code == 0, result.output
    assert "scripted" in result.output
    [session] = store().list_sessions()
    from openintern.research.ledger import Ledger

    runs = Ledger(store()).experiments(session.id)
    assert len(runs) == 6 and all(r.status == "succeeded" for r in runs)
    assert {r.config["model"] for r in runs} == {"logreg", "svm"}
    # The numbers the scripted model quotes are the ledger's, from the real runs.
    for model in ("logreg", "svm"):
        accs = [r.final_metrics["test_accuracy"] for r in runs if r.config["model"] == model]
        assert f"{statistics.mean(accs):.4g} ±" in result.output
    assert sum(r.is_best for r in runs) == 1
    [note] = store().list_notes(session.id)
    assert "p vs baseline" in note[1]
    assert "Conclusion:" in result.output

    # The best run reproduces: its primary metric matches within the stated tolerance;
    # fit_seconds (a timing) differs from run to run and is listed, not judged.
    [best] = [r for r in runs if r.is_best]
    repro = run_intern("reproduce", best.id, env=env, cwd=tmp_path, timeout=300)
    assert repro.code == 0, repro.output
    out = " ".join(repro.output.split())
    assert f"matches {best.id} on test_accuracy" in out
    assert "rtol=1e-06" in out and "atol=1e-09" in out
    assert "Timing metrics (informational" in out and "fit_seconds" in out
    assert "train_accuracy" in out  # listed among the other metrics


def _db_exists() -> bool:
    return (Path(os.environ["OPENINTERN_DATA_DIR"]) / "openintern.db").exists()


def test_headless_budget_cap_stops_before_it_would_be_passed(workspace: Path) -> None:
    from openintern.accounting.prices import litellm_price
    from openintern.llm.tokens import estimate_request_tokens

    (workspace / "big.txt").write_text("0123456789 abcdefghij\n" * 800)
    steps = [{"tool_calls": [_call("read_file", path="big.txt", offset=1 + i)]}
             for i in range(30)]
    with ScriptedServer(Script.from_steps(steps)) as server:
        # gpt-4o's price from LiteLLM's table applies even though the scripted server answers.
        env = intern_env(server.base_url, OPENINTERN_MODEL="openai/gpt-4o")
        result = run_intern("read it all", "--budget", "0.12", env=env, cwd=workspace)
        requests = list(server.requests)
    assert result.code == 3, result.output
    assert "budget reached" in result.output
    [session] = store().list_sessions()
    assert session.status == "budget"
    events = store().events_after(session.id)
    totals = [e.total_cost_usd for e in events if e.type == "model_call"]
    # Never past the cap: each call was checked against its estimate before it was made.
    assert 0 < totals[-1] <= 0.12
    # It stopped because the next call would not fit: its prompt (no smaller than the
    # last one sent) plus a short reply would have passed the cap.
    [stop] = [e for e in events if e.type == "guard_triggered" and e.guard == "budget"]
    prompt_usd, reply_usd = (float(x) for x in re.findall(r"\$([0-9.]+) for", stop.detail))
    price = litellm_price("gpt-4o")
    assert price is not None
    last = requests[-1]
    assert prompt_usd >= price.cost_usd(estimate_request_tokens(last["messages"],
                                                                last["tools"]), 0) - 1e-4
    assert totals[-1] + prompt_usd + reply_usd > 0.12
    assert len(requests) == session.iterations == len(totals) < 30
    history = store().load_messages(session.id)
    assert history[-1].role == "tool"  # every call it made got its result recorded
