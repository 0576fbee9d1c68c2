"""Notifications reach local receiving servers: a Slack-compatible webhook, an ntfy topic
and a real SMTP server, all on 127.0.0.1 and started here.

End to end: an interactive `intern` session waiting at an approval prompt notifies the
webhook before anyone answers; a headless run's "session stopped" notice gets out before
the process exits. The notifier is also driven through an event bus with every kind of
event it reacts to, and a failing target is reported, not fatal."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pexpect
import pytest
from receivers import HttpReceiver, SmtpReceiver, wait_for

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
sys.path.insert(0, str(Path(__file__).parents[1] / "compute"))
from e2e_helpers import intern_env, run_intern
from hf_fixture import HfJobsServer

from openintern.config import NotificationTarget
from openintern.events import (
    ApprovalRequested,
    ApprovalResolved,
    EventBus,
    JobUpdate,
    ModelCall,
    TurnComplete,
)
from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer
from openintern.notifications.notifier import Notifier
from openintern.secrets import Redactor

SECRET = "hf_plantedSecretValue0123456789abcd"


def test_interactive_approval_waiting_notifies_the_webhook(workspace: Path) -> None:
    submit = {"name": "jobs", "arguments": {
        "operation": "submit", "backend": "hf", "flavor": "cpu-basic",
        "command": "python -c 'print(1)'", "timeout_s": 600}}
    script = Script.from_steps([{"text": "Launching on HF.", "tool_calls": [submit]},
                                {"text": "Not launched, fine."}])
    hf = HfJobsServer().start()
    try:
        with ScriptedServer(script) as server, HttpReceiver() as hook:
            targets = [{"kind": "webhook", "url": f"{hook.url}/hooks/T000/B000"}]
            env = intern_env(server.base_url, OPENINTERN_AUTO_APPROVE="false",
                             OPENINTERN_HF_ENDPOINT=hf.url, HF_TOKEN=SECRET,
                             OPENINTERN_NOTIFICATIONS=json.dumps(targets),
                             OPENINTERN_NOTIFY_APPROVAL_AFTER_S="0.5",
                             PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm")
            child = pexpect.spawn(sys.executable, ["-m", "openintern.cli"], env=env,
                                  cwd=str(workspace), encoding="utf-8", timeout=90,
                                  dimensions=(40, 200))
            child.expect("type your research goal")
            child.expect("›")
            child.sendline("train on HF")
            child.expect(r"approve\? \[y/N\]")
            # Nobody has answered yet: the notice is already there.
            [post] = wait_for(lambda: [r for r in hook.received if b"Approval" in r.body])
            assert post.path == "/hooks/T000/B000"
            text = json.loads(post.body)["text"]
            assert text.startswith("*Approval needed: jobs (estimated $")
            assert "is waiting" in text and SECRET not in text
            child.sendline("n")
            child.expect("Not launched, fine.")
            child.expect("›")
            child.sendline("/quit")
            child.expect(pexpect.EOF)
            child.close()
            assert child.exitstatus == 0
            # The finished turn was announced too, once.
            texts = [json.loads(r.body)["text"] for r in hook.received]
            done = [t for t in texts if t.startswith("*Session")]
            assert len(done) == 1 and "is waiting for you" not in done[0]
            assert "finished" in done[0] and "Not launched, fine." in done[0]
    finally:
        hf.stop()


def test_headless_run_sends_session_stopped_before_exiting(workspace: Path) -> None:
    script = Script.from_steps([{"text": "All done: accuracy 0.97."}])
    with ScriptedServer(script) as server, HttpReceiver() as ntfy:
        targets = [{"kind": "ntfy", "url": f"{ntfy.url}/openintern-night",
                    "token": "tk_ntfyAccessToken123"}]
        env = intern_env(server.base_url, OPENINTERN_NOTIFICATIONS=json.dumps(targets))
        result = run_intern("quick task", env=env, cwd=workspace, timeout=120)
        assert result.code == 0, result.output
        # Sent before the process ended: nothing to wait for.
        [post] = ntfy.received
    assert post.path == "/openintern-night"
    assert post.headers["title"].startswith("Session ") and "finished" in post.headers["title"]
    assert post.headers["authorization"] == "Bearer tk_ntfyAccessToken123"
    assert post.body.decode().startswith("All done: accuracy 0.97.")
    assert "intern resume" in post.body.decode()


def test_bus_events_become_notices_on_every_target() -> None:
    with HttpReceiver() as hook, HttpReceiver() as ntfy, SmtpReceiver() as smtp:
        targets = [
            NotificationTarget(kind="webhook", url=f"{hook.url}/hook"),
            NotificationTarget(kind="ntfy", url=f"{ntfy.url}/topic",
                               events=["job", "budget"]),
            NotificationTarget(kind="email", smtp_host="127.0.0.1", smtp_port=smtp.port,
                               smtp_security="none", sender="intern@example.org",
                               recipients=["me@example.org"]),
        ]
        notifier = Notifier(targets, budget_usd=1.0, budget_fraction=0.8,
                            approval_after_s=0.3, redact=Redactor([SECRET]).text)
        bus = EventBus("s1")
        bus.subscribe(notifier)
        # Settled at once (compute budget, --yes): no news.
        bus.emit(ApprovalRequested(request_id="a1", name="jobs", arguments={}))
        bus.emit(ApprovalResolved(request_id="a1", approved=True, by="compute budget"))
        bus.emit(JobUpdate(job_id="j1", backend="local", status="running"))
        bus.emit(JobUpdate(job_id="j1", backend="local", status="failed",
                           detail=f"Traceback: token {SECRET} rejected"))
        bus.emit(JobUpdate(job_id="j1", backend="local", status="failed"))  # seen again
        bus.emit(ModelCall(model="m", prompt_tokens=1, completion_tokens=1,
                           total_cost_usd=0.5))
        bus.emit(ModelCall(model="m", prompt_tokens=1, completion_tokens=1,
                           total_cost_usd=0.85))
        bus.emit(ModelCall(model="m", prompt_tokens=1, completion_tokens=1,
                           total_cost_usd=0.9))
        bus.emit(ApprovalRequested(request_id="a2", name="experiment", arguments={},
                                   reason="runs on paid hardware", cost_estimate_usd=0.4))
        wait_for(lambda: any(b"Approval" in r.body for r in hook.received))
        bus.emit(ApprovalResolved(request_id="a2", approved=False))
        bus.emit(TurnComplete(reason="budget", iterations=12, total_cost_usd=1.0))
        notifier.close()
        hooks = [json.loads(r.body)["text"] for r in hook.received]
        mails = [m["Subject"] for m in smtp.messages]
        topics = [r.headers["title"] for r in ntfy.received]
    # The worker sends in its own order (an approval becomes news when its wait is over).
    assert sorted(h.split("*")[1] for h in hooks) == [
        "Approval needed: experiment (estimated $0.40)", "Budget 85% spent",
        "Job j1 on local failed", "Session s1 stopped at its budget"]
    assert SECRET not in " ".join(hooks)
    assert "[REDACTED] rejected" in next(h for h in hooks if "Job j1" in h)
    assert mails == [f"[OpenIntern] {h.split('*')[1]}" for h in hooks]
    assert sorted(topics) == ["Budget 85% spent", "Job j1 on local failed"]
    assert [r.headers["priority"] for r in ntfy.received] == ["high", "high"]
    assert notifier.failures == []


def test_a_failing_target_is_reported_and_the_others_still_get_it() -> None:
    with HttpReceiver(status=500) as broken, HttpReceiver() as hook:
        notifier = Notifier([NotificationTarget(kind="webhook", url=broken.url),
                             NotificationTarget(kind="webhook", url=hook.url)],
                            budget_usd=None)
        notifier(TurnComplete(session_id="s2", reason="finished", iterations=1))
        notifier.close()
        assert len(hook.received) == 1
    assert notifier.failures and "HTTP 500" in notifier.failures[0]


def test_incomplete_targets_are_rejected_with_what_is_missing() -> None:
    with pytest.raises(ValueError, match="needs `url`"):
        NotificationTarget(kind="webhook")
    with pytest.raises(ValueError, match="smtp_host, sender, recipients"):
        NotificationTarget(kind="email", smtp_host="127.0.0.1")
