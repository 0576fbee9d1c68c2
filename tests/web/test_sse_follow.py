"""Following a session in the store: every event once, including one committed late with
a lower sequence number (PostgreSQL hands sequence numbers out before commit), and the
fast replay path sends exactly what the parsed event would."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from sqlalchemy import insert
from web_support import web_settings

from openintern.agent.session import open_store
from openintern.events import (
    AssistantMessage,
    ExperimentUpdate,
    ToolCallStarted,
    ToolOutput,
    UserMessage,
    parse_event,
)
from openintern.store.models import EventRow
from openintern.web import sse
from openintern.web.sse import StoreFollower, event_json


def _messages(rows: list[tuple[float, int, str]]) -> list[dict[str, object]]:
    return [json.loads(text) for _, _, text in rows]


def test_a_late_commit_is_delivered_once(workspace: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    store = open_store(web_settings("http://127.0.0.1:9", workspace))
    info = store.create_session(task="t", model="m", workspace=str(workspace), headless=False)

    def put(seq: int, text: str) -> None:
        event = UserMessage(session_id=info.id, text=text)
        with store.engine.begin() as conn:
            conn.execute(insert(EventRow), {"id": seq, "session_id": info.id,
                                            "type": event.type, "ts": event.ts,
                                            "payload": event.model_dump(mode="json",
                                                                        exclude={"seq"})})

    put(10, "first")
    put(12, "third")
    follower = StoreFollower(store, info.id, 0)
    assert [m["text"] for m in _messages(follower.read()[0])] == ["first", "third"]
    put(11, "second, committed late")
    assert [m["seq"] for m in _messages(follower.read()[0])] == [11]
    assert follower.read()[0] == []  # nothing twice
    monkeypatch.setattr(sse, "LOOKBACK_S", 0.0)
    time.sleep(0.01)
    follower.read()
    assert follower.floor == 12  # settled: old seqs are no longer re-read
    put(13, "fourth")
    assert [m["text"] for m in _messages(follower.read()[0])] == ["fourth"]


def test_the_fast_replay_sends_what_the_parsed_event_would(workspace: Path) -> None:
    store = open_store(web_settings("http://127.0.0.1:9", workspace))
    info = store.create_session(task="t", model="m", workspace=str(workspace), headless=False)
    events = [
        UserMessage(text="ünïcode \"quotes\" and \\ backslash\nnew line"),
        AssistantMessage(text="", tool_calls=[{"id": "c1", "name": "shell"}], iteration=1),
        ToolCallStarted(call_id="c1", name="jobs",
                        arguments={"operation": "wait", "job_ids": ["a1", "b2"]}),
        ToolOutput(call_id="c1", text="line\n"),
        ExperimentUpdate(experiment_id="e1", status="running", metrics={"loss": math.nan}),
    ]
    for event in events:
        event.session_id = info.id
        store.add_event(event)
    sent = _messages(StoreFollower(store, info.id, 0).read()[0])
    expected = []
    for event in store.events_after(info.id, 0):
        expected.append(json.loads(event_json(event)))
    assert sent == expected
    assert sent[2]["summary"] == "wait a1, b2"  # the terminal's line for `jobs wait`
    assert all(parse_event({k: v for k, v in m.items() if k != "summary"}) for m in sent)
