"""The store: ordering under compaction and repair, undo, redaction, event replay."""

from __future__ import annotations

from pathlib import Path

from openintern.events import ToolCallFinished, UserMessage
from openintern.llm.types import Message, ToolCall
from openintern.secrets import Redactor
from openintern.store import Store


def _store(tmp_path: Path) -> tuple[Store, str]:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", Redactor(["my-very-secret-value"]))
    info = store.create_session(task="t", model="m", workspace=str(tmp_path), headless=True)
    return store, info.id


def test_summary_takes_the_place_of_what_it_replaces(tmp_path: Path) -> None:
    store, sid = _store(tmp_path)
    ids = [store.add_message(sid, Message(role="user", content=f"m{i}")) for i in range(5)]
    store.compact(sid, ids[1:3], Message(role="user", content="summary", kind="summary"))
    store.add_message(sid, Message(role="assistant", content="after"))
    assert [m.content for m in store.load_messages(sid)] == ["m0", "summary", "m3", "m4", "after"]


def test_insert_before_places_a_repair_in_order(tmp_path: Path) -> None:
    store, sid = _store(tmp_path)
    store.add_message(sid, Message(role="user", content="task"))
    call = ToolCall("c1", "shell", "{}")
    store.add_message(sid, Message(role="assistant", tool_calls=[call]))
    later = store.add_message(sid, Message(role="user", content="next"))
    store.insert_before(sid, Message(role="tool", content="err", tool_call_id="c1"), later)
    history = store.load_messages(sid)
    assert [m.role for m in history] == ["user", "assistant", "tool", "user"]
    assert history[1].tool_calls[0].id == "c1"


def test_undo_hides_the_last_user_turn_only(tmp_path: Path) -> None:
    store, sid = _store(tmp_path)
    for text in ("first", "answer", "second", "answer 2"):
        store.add_message(
            sid, Message(role="user" if "answer" not in text else "assistant", content=text)
        )
    assert store.undo_last_turn(sid) == 2
    assert [m.content for m in store.load_messages(sid)] == ["first", "answer"]


def test_secrets_are_redacted_in_messages_events_and_notes(tmp_path: Path) -> None:
    store, sid = _store(tmp_path)
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
    dump = "\n".join((tmp_path / "db.sqlite").read_bytes().decode("latin-1").split("\x00"))
    assert secret not in dump and "a" * 30 not in dump and "b" * 24 not in dump
    assert store.load_messages(sid)[0].content == "use [REDACTED] and [REDACTED]"


def test_events_replay_after_a_sequence_number(tmp_path: Path) -> None:
    store, sid = _store(tmp_path)
    seqs = [store.add_event(UserMessage(session_id=sid, text=str(i))) for i in range(5)]
    assert all(s is not None for s in seqs)
    replay = store.events_after(sid, after_seq=seqs[2] or 0)
    assert [e.text for e in replay] == ["3", "4"]  # type: ignore[attr-defined]
    assert [e.seq for e in replay] == seqs[3:]
