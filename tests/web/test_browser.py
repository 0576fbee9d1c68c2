"""The web app in a real headless Chromium (Debian ``chromium`` driven by Playwright):
start a session from the form, watch it stream, approve, interrupt, reload without a gap,
edit a pending action's arguments before approving it, and keep approvals and edits
across reloads (the lab pages: test_browser_lab.py). Screenshots go to
``<test output>/web/``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from browser_support import require_chromium
from web_support import TOKEN, LiveServer, call

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer

require_chromium()


def drawn_seqs(page: Any, selector: str) -> list[int]:
    """The store seqs of the nodes the page drew for ``selector``."""
    raw: list[str] = page.eval_on_selector_all(selector, "ns => ns.map(n => n.dataset.seq)")
    return [int(s) for s in raw]


def stored_seqs(server: LiveServer, sid: str, types: set[str]) -> list[int]:
    """The seqs of a session's stored events of ``types``."""
    return [e.seq for e in server.hub.store.events_after(sid, 0)
            if e.type in types and e.seq is not None]


def test_session_from_form_streams_approves_reloads_and_interrupts(
        live_server_factory: Callable[[str], LiveServer], page: Any, shots: Path) -> None:
    script = Script.from_steps([
        {"text": "Let me plan this carefully before touching anything.",
         "tool_calls": [call("plan", items=[{"text": "write notes", "status": "in_progress"},
                                            {"text": "train", "status": "pending"}])]},
        {"text": "Writing a file.", "tool_calls": [call("write_file", path="a.txt",
                                                        content="hello")]},
        {"text": "This one costs money.", "tool_calls": [call("costly_action", what="train")]},
        {"text": "Trained. The answer is 42.", "delay_s": 0.3},
        # The second turn (a message from the form) waits on an approval; we interrupt it.
        {"text": "Another costly step.", "tool_calls": [call("costly_action", what="again")]},
    ])
    with ScriptedServer(script) as model:
        server = live_server_factory(model.base_url)
        page.goto(f"{server.url}/?token={TOKEN}")
        assert "token" not in page.url  # the token moved into a cookie
        page.fill("#goal", "Find the answer to everything")
        page.fill("#budget", "3")
        page.click("#new-session button[type=submit]")
        # The first session may wait for the model client's import (warmed at server
        # start, in a worker thread); the form shows that it is starting meanwhile.
        page.locator("#start-progress", has_text="Starting the session").wait_for()
        page.wait_for_url("**/sessions/*", timeout=120_000)
        sid = page.url.rsplit("/", 1)[1]

        # Streamed text and tool cards appear; the turn stops at the approval.
        approval = page.locator("#approvals .approval")
        approval.wait_for()
        assert "costly_action" in approval.inner_text()
        assert approval.get_by_label("what").input_value() == "train"
        # Controls that make sense now: interrupt the waiting turn, not undo it.
        page.wait_for_function("!document.getElementById('interrupt').disabled")
        assert page.locator("#undo").is_disabled()
        page.wait_for_selector("details.tool.ok[data-call]")
        texts = page.locator("#log .msg.assistant").all_inner_texts()
        assert "Let me plan this carefully before touching anything." in texts
        assert [c.split()[0] for c in page.locator("#log details.tool summary")
                .all_inner_texts()] == ["plan", "write_file", "costly_action"]
        assert page.locator("#plan li").count() == 2
        page.screenshot(path=str(shots / "session-approval.png"), full_page=True)

        # Reload while the turn waits: everything stored is drawn once, nothing missing.
        page.reload()
        approval.wait_for()
        page.wait_for_function(
            "n => Number(document.querySelector('[data-session]').dataset.lastSeq) >= n",
            arg=max(stored_seqs(server, sid, {"approval_requested"})))
        assert drawn_seqs(page, "#log details.tool") == stored_seqs(
            server, sid, {"tool_call_started"})
        assert drawn_seqs(page, "#log .msg") == stored_seqs(
            server, sid, {"user_message", "assistant_message"})

        # Approve: the card finishes and the turn ends with the final text.
        approval.get_by_role("button", name="Approve").click()
        page.locator("#log .msg.assistant", has_text="The answer is 42.").wait_for()
        page.wait_for_function("document.getElementById('status').textContent === 'idle'")
        assert approval.count() == 0
        assert page.locator("details.tool.ok").count() == 3
        assert page.locator("#interrupt").is_disabled() and page.locator("#undo").is_enabled()
        # The approval is part of the record: a reload still shows who approved the call.
        page.reload()
        page.wait_for_selector("[data-replayed=true]")
        costly = page.locator("#log details.tool", has_text="costly_action")
        assert "approved by you" in costly.locator(".badges").inner_text()
        assert (server.hub.store.get_session(sid).config["budget_usd"]) == 3

        # A message from the form starts a turn that waits again; interrupt it.
        page.fill("#message", "one more time")
        page.click("#message-form button[type=submit]")
        approval.wait_for()
        page.click("#interrupt")
        page.locator(".turn-end", has_text="interrupted").wait_for()
        assert page.inner_text("#status") == "interrupted"
        assert approval.count() == 0  # the unanswered request went with the turn
        assert "interrupted" in page.locator("details.tool").last.inner_text()
        assert server.hub.store.get_session(sid).status == "interrupted"
        page.screenshot(path=str(shots / "session.png"), full_page=True)

        # Reload after the fact: the page is the store, drawn once.
        page.reload()
        page.locator(".turn-end", has_text="interrupted").wait_for()
        assert drawn_seqs(page, "#log details.tool") == stored_seqs(
            server, sid, {"tool_call_started"})
        assert drawn_seqs(page, "#log .msg, #log .turn-end") == stored_seqs(
            server, sid, {"user_message", "assistant_message", "turn_complete", "error"})

        page.goto(f"{server.url}/")
        page.locator(f"a[href='/sessions/{sid}']").wait_for()
        page.screenshot(path=str(shots / "sessions.png"), full_page=True)


def test_approval_card_edits_the_command_before_approving(
        live_server_factory: Callable[[str], LiveServer], page: Any, shots: Path,
        workspace: Path) -> None:
    script = Script.from_steps([
        {"text": "Launching the full run.",
         "tool_calls": [call("submit_run", command="python train.py --epochs 100", hours=4)]},
        {"text": "Submitted the run."},
    ])
    with ScriptedServer(script) as model:
        server = live_server_factory(model.base_url)
        created = httpx.post(f"{server.url}/api/sessions", json={"goal": "train once"},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
        sid = created.json()["id"]
        page.goto(f"{server.url}/sessions/{sid}?token={TOKEN}")

        approval = page.locator("#approvals .approval")
        approval.wait_for()
        assert "Estimated cost: $10.00" in approval.inner_text()  # 4 h at $2.50/h
        command = approval.get_by_label("command")
        other = approval.get_by_label("Other arguments (JSON)")
        assert command.input_value() == "python train.py --epochs 100"
        assert json.loads(other.input_value()) == {"hours": 4.0}
        approve = approval.get_by_role("button", name="Approve")
        assert approve.inner_text() == "Approve"

        # Edit with the keyboard; broken JSON is caught in the page, a value the tool
        # rejects by the server (422), and the action stays pending through both.
        command.fill("python train.py --epochs 1")
        assert approve.inner_text() == "Approve with edits"
        # An edit not sent yet survives a reload of the page.
        page.reload()
        approval.wait_for()
        command = approval.get_by_label("command")
        other = approval.get_by_label("Other arguments (JSON)")
        approve = approval.get_by_role("button", name="Approve")
        assert command.input_value() == "python train.py --epochs 1"
        assert approve.inner_text() == "Approve with edits"
        other.fill("{")
        other.press("Control+Enter")
        approval.locator(".error", has_text="not valid JSON").wait_for()
        other.fill('{"hours": -1}')
        other.press("Control+Enter")
        approval.locator(".error", has_text="hours").wait_for()
        assert server.hub.runners[sid].approver is not None
        assert len(server.hub.runners[sid].approver.pending()) == 1
        other.fill('{"hours": 0.5}')
        page.screenshot(path=str(shots / "session-approval-edit.png"), full_page=True)
        other.press("Control+Enter")

        page.wait_for_function("document.getElementById('status').textContent === 'idle'")
        assert approval.count() == 0
        tool = page.locator("#log details.tool.ok", has_text="submit_run")
        tool.locator("summary").click()
        result = tool.locator(".result").inner_text()
        assert "submitted 'python train.py --epochs 1' for 0.5 h" in result
        assert json.loads(tool.locator("pre.args.edited").inner_text()) == {
            "command": "python train.py --epochs 1", "hours": 0.5}
        assert (workspace / "submitted.txt").read_text() == "python train.py --epochs 1\n0.5"
        page.screenshot(path=str(shots / "session-approval-edited.png"), full_page=True)

        # After a reload the card still says it was approved with the user's edit.
        page.reload()
        page.wait_for_selector("[data-replayed=true]")
        tool = page.locator("#log details.tool.edited", has_text="submit_run")
        assert tool.locator(".badges").inner_text().split() == [
            "approved", "by", "you", "edited"]
        tool.locator("summary").click()
        assert json.loads(tool.locator("pre.args.edited").inner_text())["hours"] == 0.5
