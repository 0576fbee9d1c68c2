"""Sessions started over the API run in the server; their events stream over SSE."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from web_support import LiveServer, call, read_events, start_until_approval

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer

# Every test here runs against SQLite and against PostgreSQL.
pytestmark = pytest.mark.usefixtures("store_url")


async def test_session_streams_until_turn_complete_and_resumes_without_gap(
        live_server_factory: Callable[[str], LiveServer]) -> None:
    script = Script.from_steps([
        {"text": "Planning first.", "tool_calls": [call(
            "plan", items=[{"text": "write the file", "status": "in_progress"}])]},
        {"text": "Writing.", "tool_calls": [call("write_file", path="a.txt", content="hi")]},
        {"text": "All done."},
    ])
    with ScriptedServer(script) as model:
        server = live_server_factory(model.base_url)
        async with server.client() as client:
            created = await client.post("/api/sessions", json={"goal": "write a file"})
            assert created.status_code == 201, created.text
            sid = created.json()["id"]
            full = await read_events(client, sid, until=lambda e: e["type"] == "turn_complete")
            stored = [e for e in full if e["_id"] is not None]
            types = [e["type"] for e in full]
            assert "assistant_message" in types and "tool_call_finished" in types
            assert full[-1]["reason"] == "finished"
            finished = [e for e in full if e["type"] == "tool_call_finished"]
            assert {e["name"] for e in finished} == {"plan", "write_file"}
            assert all(e["ok"] for e in finished)
            ids = [int(e["_id"]) for e in stored]
            assert ids == sorted(set(ids))

            # Reconnect as a browser would after seeing the third stored event.
            cut = stored[2]["_id"]
            rest = await read_events(client, sid, headers={"Last-Event-ID": cut},
                                     until=lambda e: e["type"] == "turn_complete")
            assert [e["_id"] for e in rest] == [e["_id"] for e in stored[3:]]
            again = await read_events(client, sid, params={"after": cut},
                                      until=lambda e: e["type"] == "turn_complete")
            assert [e["_id"] for e in again] == [e["_id"] for e in stored[3:]]

            detail = (await client.get(f"/api/sessions/{sid}")).json()
            assert detail["status"] == "idle"
            assert detail["plan"] == [{"text": "write the file", "status": "in_progress"}]
            assert [m["role"] for m in detail["messages"]][:2] == ["user", "assistant"]
            listing = (await client.get("/api/sessions")).json()
            assert [s["id"] for s in listing] == [sid] and listing[0]["goal"] == "write a file"


async def test_reconnect_mid_turn_misses_nothing(
        live_server_factory: Callable[[str], LiveServer]) -> None:
    script = Script.from_steps([
        {"text": f"step {i}", "tool_calls": [call("write_file", path=f"f{i}.txt", content="x")],
         "delay_s": 0.15}
        for i in range(4)
    ] + [{"text": "done"}])
    with ScriptedServer(script) as model:
        server = live_server_factory(model.base_url)
        async with server.client() as client:
            sid = (await client.post("/api/sessions", json={"goal": "many steps"})).json()["id"]
            first = await read_events(client, sid, until=lambda e: False, limit=4)
            last_id = [e for e in first if e["_id"]][-1]["_id"]
            # The session keeps running while no one listens.
            await asyncio.sleep(0.3)
            rest = await read_events(client, sid, headers={"Last-Event-ID": last_id},
                                     until=lambda e: e["type"] == "turn_complete")
            seen = [int(e["_id"]) for e in first + rest if e["_id"]]
            everything = server.hub.store.events_after(sid, 0)
            assert seen == [e.seq for e in everything]
            assert len(seen) == len(set(seen))


async def test_approval_flow_and_message_queued_during_turn(
        live_server_factory: Callable[[str], LiveServer]) -> None:
    script = Script.from_steps([
        {"text": "Need approval.", "tool_calls": [call("costly_action", what="train")]},
        {"text": "Approved and done."},
        {"text": "Got your follow-up."},
    ])
    with ScriptedServer(script) as model:
        server = live_server_factory(model.base_url)
        async with server.client() as client:
            sid, request = await start_until_approval(client, "do costly")
            assert request["name"] == "costly_action" and request["arguments"] == {"what": "train"}
            pending = (await client.get(f"/api/sessions/{sid}")).json()["pending_approvals"]
            assert [p["request_id"] for p in pending] == [request["request_id"]]
            queued = await client.post(f"/api/sessions/{sid}/messages", json={"text": "and then?"})
            assert queued.json() == {"status": "queued"}
            wrong = await client.post(f"/api/sessions/{sid}/approvals/nope",
                                      json={"approved": True})
            assert wrong.status_code == 404
            ok = await client.post(f"/api/sessions/{sid}/approvals/{request['request_id']}",
                                   json={"approved": True})
            assert ok.status_code == 200
            after = await read_events(
                client, sid, params={"after": request["_id"]},
                until=lambda e: e["type"] == "turn_complete" and e["text"] == "Got your follow-up.")
            types = [e["type"] for e in after]
            assert types.count("turn_complete") == 2
            resolved = next(e for e in after if e["type"] == "approval_resolved")
            assert resolved["approved"] is True
            finished = next(e for e in after if e["type"] == "tool_call_finished")
            assert finished["ok"] and "did train" in finished["preview"]
            users = [e["text"] for e in after if e["type"] == "user_message"]
            assert users == ["and then?"]


async def test_interrupt_stops_a_waiting_turn_and_undo_removes_it(
        live_server_factory: Callable[[str], LiveServer]) -> None:
    script = Script.from_steps([
        {"text": "Need approval.", "tool_calls": [call("costly_action", what="x")]},
        {"text": "never reached"},
    ])
    with ScriptedServer(script) as model:
        server = live_server_factory(model.base_url)
        async with server.client() as client:
            sid = (await client.post("/api/sessions", json={"goal": "wait"})).json()["id"]
            await read_events(client, sid, until=lambda e: e["type"] == "approval_requested")
            busy = await client.post(f"/api/sessions/{sid}/undo")
            assert busy.status_code == 409 and "interrupt" in busy.json()["detail"]
            r = await client.post(f"/api/sessions/{sid}/interrupt")
            assert r.json() == {"interrupted": True}
            done = await read_events(client, sid, until=lambda e: e["type"] == "turn_complete")
            assert done[-1]["reason"] == "interrupted"
            info = (await client.get(f"/api/sessions/{sid}")).json()
            assert info["live"] is False and info["status"] == "interrupted"
            assert (await client.post(f"/api/sessions/{sid}/interrupt")).json() == {
                "interrupted": False}
            budget = await client.post(f"/api/sessions/{sid}/budget", json={"budget_usd": 2.5})
            assert budget.status_code == 200
            assert (await client.get(f"/api/sessions/{sid}")).json()["budget_usd"] == 2.5
            removed = (await client.post(f"/api/sessions/{sid}/undo")).json()["removed"]
            assert removed >= 2
            assert (await client.get(f"/api/sessions/{sid}")).json()["messages"] == []
