"""The store, on SQLite and on PostgreSQL: ordering under compaction and repair, undo,
redaction, event replay."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import text as sql

from openintern.events import ExperimentUpdate, ModelCall, ToolCallFinished, UserMessage
from openintern.llm.types import Message, ToolCall
from openintern.secrets import Redactor
from openintern.store import Store, StoreUnavailable
from openintern.store.engine import create_tables


def _raw_rows(store: Store) -> list[str]:
    """Every stored text and JSON value as the database holds it."""
    with store.engine.connect() as conn:
        rows = [*conn.execute(sql("SELECT content, CAST(tool_calls AS TEXT) FROM messages")),
                *conn.execute(sql("SELECT CAST(payload AS TEXT) FROM events")),
                *conn.execute(sql("SELECT text FROM notes"))]
    return [str(value) for row in rows for value in row]


def _store(store_url: str, tmp_path: Path) -> tuple[Store, str]:
    store = Store(store_url, Redactor(["my-very-secret-value"]))
    info = store.create_session(task="t", model="m", workspace=str(tmp_path), headless=True)
    return store, info.id


def test_summary_takes_the_place_of_what_it_replaces(store_url: str, tmp_path: Path) -> None:
    store, sid = _store(store_url, tmp_path)
    ids = [store.add_message(sid, Message(role="user", content=f"m{i}")) for i in range(5)]
    store.compact(sid, ids[1:3], Message(role="user", content="summary", kind="summary"))
    store.add_message(sid, Message(role="assistant", content="after"))
    assert [m.content for m in store.load_messages(sid)] == ["m0", "summary", "m3", "m4", "after"]


def test_insert_before_places_a_repair_in_order(store_url: str, tmp_path: Path) -> None:
    store, sid = _store(store_url, tmp_path)
    store.add_message(sid, Message(role="user", content="task"))
    call = ToolCall("c1", "shell", "{}")
    store.add_message(sid, Message(role="assistant", tool_calls=[call]))
    later = store.add_message(sid, Message(role="user", content="next"))
    store.insert_before(sid, Message(role="tool", content="err", tool_call_id="c1"), later)
    history = store.load_messages(sid)
    assert [m.role for m in history] == ["user", "assistant", "tool", "user"]
    assert history[1].tool_calls[0].id == "c1"


def test_undo_hides_the_last_user_turn_only(store_url: str, tmp_path: Path) -> None:
    store, sid = _store(store_url, tmp_path)
    for text in ("first", "answer", "second", "answer 2"):
        store.add_message(
            sid, Message(role="user" if "answer" not in text else "assistant", content=text)
        )
    assert store.undo_last_turn(sid) == 2
    assert [m.content for m in store.load_messages(sid)] == ["first", "answer"]


def test_secrets_are_redacted_in_messages_events_and_notes(store_url: str, tmp_path: Path) -> None:
    store, sid = _store(store_url, tmp_path)
    secret = "my-very-secret-value"
    store.add_message(sid, Message(role="user", content=f"use {secret} and sk-{'a' * 30}"))
    store.add_event(
        ToolCallFinished(
            session_id=sid,
            call_id="x",
            name="shell",
            ok=True,
            preview=f"token={secret}",
            duration_s=0.1,
            data={"nested": [f"Bearer {'b' * 24}"]},
        )
    )
    store.add_note(sid, f"remember {secret}", [])
    dump = "\n".join(_raw_rows(store))
    if store_url.startswith("sqlite"):  # the file itself, free pages included
        dump += "\n".join((tmp_path / "store.db").read_bytes().decode("latin-1").split("\x00"))
    assert "[REDACTED]" in dump
    assert secret not in dump and "a" * 30 not in dump and "b" * 24 not in dump
    assert store.load_messages(sid)[0].content == "use [REDACTED] and [REDACTED]"


def test_events_replay_after_a_sequence_number(store_url: str, tmp_path: Path) -> None:
    store, sid = _store(store_url, tmp_path)
    seqs = [store.add_event(UserMessage(session_id=sid, text=str(i))) for i in range(5)]
    assert all(s is not None for s in seqs)
    replay = store.events_after(sid, after_seq=seqs[2] or 0)
    assert [e.text for e in replay] == ["3", "4"]  # type: ignore[attr-defined]
    assert [e.seq for e in replay] == seqs[3:]


def test_non_finite_metrics_round_trip_on_every_backend(store_url: str, tmp_path: Path) -> None:
    store, sid = _store(store_url, tmp_path)
    metrics = {"loss": math.nan, "best": math.inf, "worst": -math.inf, "acc": 0.5}
    seq = store.add_event(ExperimentUpdate(session_id=sid, experiment_id="e1",
                                           status="running", metrics=metrics))
    [event] = store.events_after(sid)
    assert event.seq == seq
    got = event.metrics  # type: ignore[attr-defined]
    assert math.isnan(got["loss"]) and got["best"] == math.inf and got["worst"] == -math.inf
    assert got["acc"] == 0.5
    # Stored as JSON every backend accepts (PostgreSQL refuses a bare NaN token).
    [payload] = [row for row in _raw_rows(store) if "e1" in row]
    assert "NaN" in payload and "nan" not in payload.replace("NaN", "")


def test_nul_and_lone_surrogates_are_stored_encodable(store_url: str, tmp_path: Path) -> None:
    store, sid = _store(store_url, tmp_path)
    odd = "a\x00b\ud800c"
    store.add_message(sid, Message(role="tool", content=odd, tool_call_id="c", name="shell"))
    store.add_event(ToolCallFinished(session_id=sid, call_id="c", name="shell", ok=True,
                                     preview=odd, duration_s=0.0, data={odd: [odd]}))
    store.add_note(sid, odd, [odd])
    info = store.create_session(task=odd, model="m", workspace=str(tmp_path), headless=True)
    clean = "a\ufffdb\ufffdc"
    assert store.load_messages(sid)[0].content == clean
    [event] = store.events_after(sid)
    assert event.preview == clean and event.data == {clean: [clean]}  # type: ignore[attr-defined]
    assert store.list_notes(sid)[0][1] == clean
    assert store.get_session(info.id).task == clean


def test_model_calls_in_turn_count_events_not_live_messages(store_url: str,
                                                             tmp_path: Path) -> None:
    store, sid = _store(store_url, tmp_path)
    assert store.model_calls_in_turn(sid) == 0
    store.add_event(UserMessage(session_id=sid, text="first task"))
    for i in range(1, 4):
        store.add_event(ModelCall(session_id=sid, model="m", prompt_tokens=1,
                                  completion_tokens=1, iteration=i))
    assert store.model_calls_in_turn(sid) == 3
    store.add_event(UserMessage(session_id=sid, text="next"))
    assert store.model_calls_in_turn(sid) == 0
    store.add_event(ModelCall(session_id=sid, model="m", prompt_tokens=1,
                              completion_tokens=1, iteration=1))
    assert store.model_calls_in_turn(sid) == 1


def test_a_locked_database_is_a_typed_error_naming_the_cause(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    store = Store(f"sqlite:///{db}?timeout=0.2")
    sid = store.create_session(task="t", model="m", workspace=".", headless=True).id
    store.add_message(sid, Message(role="user", content="kept"))
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable) as info, store.batch():
            store.add_message(sid, Message(role="assistant", content="lost?"))
    finally:
        other.rollback()
        other.close()
    message = str(info.value)
    assert "database is locked" in message and "another process" in message
    assert "intern resume" in message
    assert [m.content for m in store.load_messages(sid)] == ["kept"]


def test_a_full_disk_is_a_typed_error_and_keeps_what_was_committed(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'small.db'}")
    sid = store.create_session(task="t", model="m", workspace=".", headless=True).id
    store.add_message(sid, Message(role="user", content="kept"))

    # SQLite's own size cap gives the very error a full disk gives (SQLITE_FULL).
    @sqlalchemy.event.listens_for(store.engine, "connect")
    def _cap(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA max_page_count = 1")

    store.engine.dispose()
    with pytest.raises(StoreUnavailable, match="full"):
        for i in range(200):
            store.add_message(sid, Message(role="tool", content="x" * 4000 + str(i),
                                           tool_call_id=str(i), name="shell"))
    sqlalchemy.event.remove(store.engine, "connect", _cap)
    store.engine.dispose()
    assert store.load_messages(sid)[0].content == "kept"


def test_two_processes_creating_the_schema_at_once_both_succeed(tmp_path: Path) -> None:
    # Another process creates a table between our "is it there?" check and our CREATE:
    # the race `intern serve` and a CLI run (or a test reading a new store) can hit.
    url = f"sqlite:///{tmp_path / 'race.db'}"
    engine = sqlalchemy.create_engine(url)
    other = sqlalchemy.create_engine(url)
    metadata = sqlalchemy.MetaData()
    table = sqlalchemy.Table("things", metadata, sqlalchemy.Column("id", sqlalchemy.Integer,
                                                                   primary_key=True))
    raced: list[bool] = []

    @sqlalchemy.event.listens_for(table, "before_create")
    def _the_other_process_wins(*_: Any, **__: Any) -> None:
        if not raced:
            raced.append(True)
            with other.begin() as conn:
                conn.execute(sql("CREATE TABLE things (id INTEGER PRIMARY KEY)"))

    create_tables(metadata, engine)
    assert raced and sqlalchemy.inspect(engine).has_table("things")
