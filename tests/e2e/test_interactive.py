"""End-to-end: the interactive prompt in a real pseudo-terminal (slash commands, Ctrl+C
interrupting a turn without ending the program, resume)."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect
from e2e_helpers import intern_env, store

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer


def _spawn(env: dict[str, str], cwd: Path, *args: str) -> pexpect.spawn:
    env = dict(env, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm")
    child = pexpect.spawn(sys.executable, ["-m", "openintern.cli", *args], env=env,
                          cwd=str(cwd), encoding="utf-8", timeout=90, dimensions=(40, 200))
    return child


def test_interactive_session_slash_commands_and_ctrl_c(workspace: Path) -> None:
    script = Script.from_steps([
        {"text": "Planning.", "tool_calls": [{"name": "plan", "arguments": {"items": [
            {"text": "look at the data", "status": "in_progress"},
            {"text": "train a model"}]}}]},
        {"text": "Plan written; what next?"},
        {"text": "Noted, after the compaction."},
        {"text": "Running a long command.",
         "tool_calls": [{"name": "shell", "arguments": {"command": "sleep 120"}}]},
        {"text": "Understood, I stopped."},
    ])
    with ScriptedServer(script) as server:
        env = intern_env(server.base_url)
        child = _spawn(env, workspace)
        child.expect("type your research goal")
        child.expect("›")
        child.sendline("study the digits dataset")
        child.expect("Plan written; what next")
        child.expect("›")
        child.sendline("/plan")
        child.expect(r"look at the data")
        child.expect("›")
        child.sendline("/cost")
        child.expect(r"2 model calls")
        child.expect("›")
        child.sendline("/compact")
        child.expect("compacted before the next model call")
        child.expect("›")
        child.sendline("remember the plan")
        child.expect(r"context compacted \(summary\)")
        child.expect("Noted, after the compaction")
        child.expect("›")
        child.sendline("run something long")
        child.expect("sleep 120|Running a long command")
        # Wait until the shell call is really running, then Ctrl+C.
        sid = store().list_sessions()[0].id
        for _ in range(200):
            if any(e.type == "tool_call_started" and getattr(e, "name", "") == "shell"
                   for e in store().events_after(sid)):
                break
            child.expect([pexpect.TIMEOUT], timeout=0.1)
        child.sendintr()
        child.expect("interrupted")
        child.expect("›")  # the program is still here
        child.sendline("/undo")
        child.expect(r"undid the last turn \((\d+) messages\)")
        child.expect("›")
        child.sendline("/model openai/other-model")
        child.expect("model: openai/other-model")
        child.expect("›")
        child.sendline("/quit")
        child.expect("resume later with: intern resume")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
    history = store().load_messages(sid)
    # The interrupted turn was undone; the forced compaction folded the first turn's tool
    # step into a summary (its last reply kept verbatim); the turn after it is intact.
    assert [m.kind or m.role for m in history] == [
        "user", "summary", "assistant", "user", "assistant"], [m.content[:60] for m in history]
    assert store().get_session(sid).model == "openai/other-model"
    assert [p.status for p in store().get_plan(sid)] == ["in_progress", "pending"]


def test_interactive_approval_prompt_for_a_paid_job(workspace: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "compute"))
    from hf_fixture import HfJobsServer

    submit = {"name": "jobs", "arguments": {
        "operation": "submit", "backend": "hf", "flavor": "cpu-basic",
        "command": "python -c 'print(1)'", "timeout_s": 600}}
    script = Script.from_steps([
        {"text": "Launching on HF.", "tool_calls": [submit]},
        {"text": "Rejected; trying again.", "tool_calls": [submit]},
        {"text": "Launched."},
    ])
    hf = HfJobsServer().start()
    try:
        with ScriptedServer(script) as server:
            env = intern_env(server.base_url, OPENINTERN_AUTO_APPROVE="false",
                             OPENINTERN_HF_ENDPOINT=hf.url,
                             HF_TOKEN="hf_fixtureTokenAbcdefghijklmnop0123")
            child = _spawn(env, workspace)
            child.expect("type your research goal")
            child.expect("›")
            child.sendline("train on HF")
            child.expect("approval needed")
            child.expect(r"estimated \$")  # the flavor's price from the hardware list
            child.expect(r"approve\? \[y/N\]")
            child.sendline("n")
            child.expect("approval needed")
            child.expect(r"approve\? \[y/N\]")
            child.sendline("y")
            child.expect("Launched.")
            child.expect("›")
            child.sendline("/quit")
            child.expect(pexpect.EOF)
            child.close()
    finally:
        hf.stop()
    creations = [r for r in hf.fixture.requests if r.method == "POST" and "/api/jobs/" in r.path]
    assert len(creations) == 1  # only the approved launch reached the service
    sid = store().list_sessions()[0].id
    tools = [m.content for m in store().load_messages(sid) if m.role == "tool"]
    assert "did not approve" in tools[0] and not tools[1].startswith("ERROR")
