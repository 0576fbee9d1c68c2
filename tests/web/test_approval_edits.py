"""Approving a pending action with edited arguments over the API: the tool runs with the
edit, and an edit the tool rejects is a 422 that leaves the action pending."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from web_support import LiveServer, call, read_events, start_until_approval

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer

# Every test here runs against SQLite and against PostgreSQL.
pytestmark = pytest.mark.usefixtures("store_url")


async def test_edited_arguments_run_and_are_recorded(
        live_server_factory: Callable[[str], LiveServer], workspace: Path) -> None:
    script = Script.from_steps([
        {"text": "Submitting.", "tool_calls": [call("submit_run", command="python train.py",
                                                    hours=2)]},
        {"text": "Submitted."},
    ])
    with ScriptedServer(script) as model:
        server = live_server_factory(model.base_url)
        async with server.client() as client:
            sid, request = await start_until_approval(client, "train")
            assert request["arguments"] == {"command": "python train.py", "hours": 2.0}
            assert request["cost_estimate_usd"] == 5.0  # 2 h at $2.50/h
            edited = {"command": "python train.py --epochs 1", "hours": 0.5}
            ok = await client.post(f"/api/sessions/{sid}/approvals/{request['request_id']}",
                                   json={"approved": True, "arguments": edited})
            assert ok.status_code == 200, ok.text
            after = await read_events(client, sid, params={"after": request["_id"]},
                                      until=lambda e: e["type"] == "turn_complete")
    resolved = next(e for e in after if e["type"] == "approval_resolved")
    assert resolved["approved"] is True and resolved["edited_arguments"] == edited
    finished = next(e for e in after if e["type"] == "tool_call_finished")
    assert finished["ok"]
    assert "submitted 'python train.py --epochs 1' for 0.5 h" in finished["preview"]
    assert "the user edited the arguments" in finished["preview"]
    assert (workspace / "submitted.txt").read_text() == "python train.py --epochs 1\n0.5"
    # The model is told what really ran.
    tool_messages = [m for m in server.hub.store.load_messages(sid) if m.role == "tool"]
    assert "--epochs 1" in tool_messages[0].content


async def test_invalid_edit_is_422_and_the_action_stays_pending(
        live_server_factory: Callable[[str], LiveServer], workspace: Path) -> None:
    script = Script.from_steps([
        {"text": "Submitting.", "tool_calls": [call("submit_run", command="python train.py")]},
        {"text": "Submitted."},
    ])
    with ScriptedServer(script) as model:
        server = live_server_factory(model.base_url)
        async with server.client() as client:
            sid, request = await start_until_approval(client, "train")
            rid = request["request_id"]
            url = f"/api/sessions/{sid}/approvals/{rid}"

            bad = await client.post(url, json={"approved": True,
                                               "arguments": {"command": "x", "hours": -1}})
            assert bad.status_code == 422
            assert "hours" in bad.json()["detail"] and "submit_run" in bad.json()["detail"]
            missing = await client.post(url, json={"approved": True, "arguments": {}})
            assert missing.status_code == 422 and "command" in missing.json()["detail"]
            not_object = await client.post(url, json={"approved": True, "arguments": ["x"]})
            assert not_object.status_code == 422
            with_reject = await client.post(url, json={"approved": False,
                                                       "arguments": {"command": "y"}})
            assert with_reject.status_code == 422

            pending = (await client.get(f"/api/sessions/{sid}")).json()["pending_approvals"]
            assert [p["request_id"] for p in pending] == [rid]
            assert not (workspace / "submitted.txt").exists()

            # The user fixes the edit; it runs.
            ok = await client.post(url, json={"approved": True,
                                              "arguments": {"command": "python t.py", "hours": 1}})
            assert ok.status_code == 200, ok.text
            after = await read_events(client, sid, until=lambda e: e["type"] == "turn_complete")
    assert [e["edited_arguments"] for e in after if e["type"] == "approval_resolved"] == [
        {"command": "python t.py", "hours": 1.0}]
    assert not [e for e in after if e["type"] == "error"]
    assert (workspace / "submitted.txt").read_text() == "python t.py\n1.0"
