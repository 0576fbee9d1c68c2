"""The store: every step of every session, committed before the next model call.

SQLite (WAL) by default, any SQLAlchemy URL (PostgreSQL) for a team server. Everything is
redacted before it is written, so secrets never reach the database.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    func,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from openintern.encodable import encodable, encodable_text
from openintern.events import EPHEMERAL_EVENT_TYPES, EventBase, PlanItem, parse_event
from openintern.llm.types import Message
from openintern.secrets import Redactor
from openintern.store.engine import (
    ADD_USAGE,
    INSERT_EVENT,
    INSERT_MESSAGE,
    create_tables,
    make_engine,
)
from openintern.store.errors import (
    UNAVAILABLE_ERRORS,
    StoreError,
    store_unavailable,
)
from openintern.store.models import (
    Base,
    EventRow,
    MessageRow,
    NoteRow,
    PlanItemRow,
    SessionRow,
)
from openintern.store.records import SessionInfo, message_from_row, session_info


class EncodableRedactor(Redactor):
    """The store's redactor: secrets removed, then text made encodable (no NUL, no lone
    surrogates), so every backend accepts what is written."""

    def __init__(self, inner: Redactor) -> None:
        self.inner = inner

    def text(self, value: str) -> str:
        """Redacted, encodable text."""
        return encodable_text(self.inner.text(value))

    def deep(self, value: Any) -> Any:
        """A redacted, encodable copy of a JSON-like value."""
        return encodable(self.inner.deep(value))


class Store:
    """Sessions, messages, events, notes and plans; every write is its own commit."""

    def __init__(self, url: str, redactor: Redactor | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        with self._translating():
            create_tables(Base.metadata, self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.redactor = EncodableRedactor(redactor or Redactor.from_environment())
        # The open batch transaction of each thread (see ``batch``).
        self._local = threading.local()

    def display_url(self) -> str:
        """The store URL without its password."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # an unparsable URL never got this far, but never fail here
            return "the configured store"

    @contextmanager
    def _translating(self) -> Iterator[None]:
        try:
            yield
        except UNAVAILABLE_ERRORS as exc:
            raise store_unavailable(exc, self.display_url()) from exc

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make the hot-path writes inside (messages, events, usage) one transaction: one
        commit per step instead of one per row. Must not span an ``await``."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._translating(), self.engine.begin() as conn:
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """The open batch's connection, or a transaction of its own."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self._translating(), self.engine.begin() as own:
            yield own

    @contextmanager
    def db(self) -> Iterator[DBSession]:
        """A unit of work, committed on success (used by later layers too). A database
        failure raises :class:`StoreUnavailable`."""
        with self._translating(), self._sessions() as db, db.begin():
            yield db

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    # --- sessions ------------------------------------------------------------------
    def create_session(
        self,
        *,
        task: str,
        model: str,
        workspace: str,
        headless: bool,
        config: dict[str, Any] | None = None,
        owner: str = "",
    ) -> SessionInfo:
        """Create a session and return it."""
        row = SessionRow(
            id=uuid.uuid4().hex[:12],
            task=self.redactor.text(task),
            model=model,
            workspace=workspace,
            headless=headless,
            status="idle",
            config=self.redactor.deep(config or {}),
            owner=owner,
        )
        with self.db() as db:
            db.add(row)
        return session_info(row)

    def resolve_session_id(self, prefix: str) -> str:
        """The full id of the session whose id starts with ``prefix`` ("last": newest)."""
        with self.db() as db:
            if prefix in ("last", "latest"):
                found = db.scalars(
                    select(SessionRow.id).order_by(SessionRow.updated_at.desc()).limit(1)
                ).all()
            else:
                found = db.scalars(
                    select(SessionRow.id).where(SessionRow.id.startswith(prefix)).limit(2)
                ).all()
        if not found:
            raise StoreError(f"no session matches {prefix!r}; `intern sessions` lists them")
        if len(found) > 1:
            raise StoreError(f"{prefix!r} matches several sessions; give more characters")
        return found[0]

    def get_session(self, session_id: str) -> SessionInfo:
        """One session by full id or unique prefix."""
        full = self.resolve_session_id(session_id)
        with self.db() as db:
            row = db.get(SessionRow, full)
            assert row is not None
            return session_info(row)

    def list_sessions(self, limit: int = 50) -> list[SessionInfo]:
        """Newest sessions first."""
        with self.db() as db:
            rows = db.scalars(
                select(SessionRow).order_by(SessionRow.updated_at.desc()).limit(limit)
            ).all()
            return [session_info(r) for r in rows]

    def update_session(self, session_id: str, **fields: Any) -> None:
        """Set fields of a session (status, model, totals, …)."""
        fields["updated_at"] = time.time()
        with self.db() as db:
            db.execute(update(SessionRow).where(SessionRow.id == session_id).values(**fields))

    def add_usage(
        self, session_id: str, *, cost_usd: float, prompt_tokens: int, completion_tokens: int
    ) -> float:
        """Add one model call's usage to the session's totals; returns the new total cost."""
        params = {"sid": session_id, "cost": cost_usd, "prompt": prompt_tokens,
                  "completion": completion_tokens, "now": time.time()}
        with self._write() as conn:
            total = conn.execute(ADD_USAGE, params).scalar()
        if total is None:
            raise StoreError(f"unknown session {session_id}")
        return float(total)

    # --- messages ------------------------------------------------------------------
    def add_message(self, session_id: str, message: Message) -> int:
        """Append a message (redacted) to the live history; returns its id."""
        r = self.redactor
        # Appended rows keep position NULL and sort by id (one Core INSERT, no UPDATE);
        # fractional positions from insert_before/compact always lie below new ids.
        values = {
            "session_id": session_id, "position": None, "role": message.role,
            "content": r.text(message.content or ""),
            "tool_calls": [r.deep(tc.to_openai()) for tc in message.tool_calls],
            "tool_call_id": message.tool_call_id, "name": message.name, "kind": message.kind,
            "compacted": False, "deleted": False, "created_at": time.time(),
        }
        with self._write() as conn:
            key = conn.execute(INSERT_MESSAGE, values).inserted_primary_key
        message.id = int(key[0]) if key else None
        assert message.id is not None
        return message.id

    def insert_before(self, session_id: str, message: Message, before_id: int | None) -> int:
        """Insert a message just before the live message ``before_id`` (used to give a
        dangling tool call its result in place); appends when ``before_id`` is None."""
        if before_id is None:
            return self.add_message(session_id, message)
        with self.db() as db:
            anchor = db.get(MessageRow, before_id)
            if anchor is None:
                raise StoreError(f"message {before_id} not found")
            order = func.coalesce(MessageRow.position, MessageRow.id)
            here_key = anchor.position if anchor.position is not None else float(anchor.id)
            previous = db.scalar(
                select(func.max(order)).where(MessageRow.session_id == session_id, order < here_key)
            )
            here = anchor.position if anchor.position is not None else float(anchor.id)
            low = float(previous) if previous is not None else here - 1.0
            row = self._message_row(session_id, message)
            row.position = (low + here) / 2
            db.add(row)
            db.flush()
            message.id = row.id
            return row.id

    def delete_messages(self, session_id: str, ids: list[int]) -> None:
        """Hide messages from the live history (kept in the database, marked deleted)."""
        if not ids:
            return
        with self.db() as db:
            db.execute(
                update(MessageRow)
                .where(MessageRow.session_id == session_id, MessageRow.id.in_(ids))
                .values(deleted=True)
            )

    def _message_row(self, session_id: str, message: Message) -> MessageRow:
        r = self.redactor
        return MessageRow(
            session_id=session_id,
            role=message.role,
            content=r.text(message.content or ""),
            tool_calls=[r.deep(tc.to_openai()) for tc in message.tool_calls],
            tool_call_id=message.tool_call_id,
            name=message.name,
            kind=message.kind,
        )

    def load_messages(self, session_id: str) -> list[Message]:
        """The live history: neither undone nor folded into a summary, in order."""
        with self.db() as db:
            rows = db.scalars(
                select(MessageRow)
                .where(
                    MessageRow.session_id == session_id,
                    MessageRow.deleted.is_(False),
                    MessageRow.compacted.is_(False),
                )
                .order_by(func.coalesce(MessageRow.position, MessageRow.id), MessageRow.id)
            ).all()
            return [message_from_row(r) for r in rows]

    def count_messages(self, session_id: str) -> int:
        """How many message rows a session has (live or not)."""
        with self.db() as db:
            return int(
                db.scalar(
                    select(func.count())
                    .select_from(MessageRow)
                    .where(MessageRow.session_id == session_id)
                )
                or 0
            )

    def compact(self, session_id: str, replaced_ids: list[int], summary: Message) -> int:
        """Fold ``replaced_ids`` into ``summary``, which takes the first one's position.
        The replaced rows stay in the database (marked compacted) for the record."""
        with self.db() as db:
            first = db.scalar(
                select(func.min(func.coalesce(MessageRow.position, MessageRow.id))).where(
                    MessageRow.id.in_(replaced_ids)
                )
            )
            db.execute(
                update(MessageRow)
                .where(MessageRow.session_id == session_id, MessageRow.id.in_(replaced_ids))
                .values(compacted=True)
            )
            row = self._message_row(session_id, summary)
            db.add(row)
            db.flush()
            row.position = float(first) if first is not None else float(row.id)
            summary.id = row.id
            return row.id

    def undo_last_turn(self, session_id: str) -> int:
        """Hide the last user turn (the user's message and everything after it);
        returns how many messages were hidden (0 if there is nothing to undo)."""
        history = self.load_messages(session_id)
        users = [i for i, m in enumerate(history) if m.role == "user" and not m.kind]
        if len(users) <= 1 and (not users or users[0] == 0) and len(history) <= 1:
            return 0
        start = users[-1] if users else len(history)
        ids = [m.id for m in history[start:] if m.id is not None]
        if not ids:
            return 0
        with self.db() as db:
            db.execute(update(MessageRow).where(MessageRow.id.in_(ids)).values(deleted=True))
        return len(ids)

    # --- events ------------------------------------------------------------------------
    def add_event(self, event: EventBase) -> int | None:
        """Record an event (redacted) and stamp its ``seq``; ephemeral ones are skipped."""
        kind = getattr(event, "type", "")
        if kind in EPHEMERAL_EVENT_TYPES:
            return None
        # Encodable before dumping: pydantic's JSON mode mangles lone surrogates itself.
        payload = self.redactor.deep(encodable(event).model_dump(mode="json", exclude={"seq"}))
        # Core INSERT: events are the most frequent write of a session.
        with self._write() as conn:
            key = conn.execute(
                INSERT_EVENT,
                {"session_id": event.session_id, "type": kind, "payload": payload, "ts": event.ts},
            ).inserted_primary_key
        event.seq = int(key[0]) if key else None
        return event.seq

    def model_calls_in_turn(self, session_id: str) -> int:
        """Model calls of the session's current turn (since the user's last message),
        counted from the recorded ``model_call`` events: messages folded into summaries
        still count, so a resumed turn's iteration cap means the same as a fresh one."""
        with self.db() as db:
            last_user = db.scalar(
                select(func.max(EventRow.id)).where(
                    EventRow.session_id == session_id, EventRow.type == "user_message"
                )
            )
            row = db.scalars(
                select(EventRow)
                .where(
                    EventRow.session_id == session_id,
                    EventRow.type == "model_call",
                    EventRow.id > (last_user or 0),
                )
                .order_by(EventRow.id.desc())
                .limit(1)
            ).first()
            if row is None:
                return 0
            iteration = (row.payload or {}).get("iteration")
            return int(iteration) if isinstance(iteration, int) else 0

    def events_after(
        self, session_id: str, after_seq: int = 0, limit: int = 10_000
    ) -> list[EventBase]:
        """Recorded events of a session with seq > ``after_seq`` (SSE replay)."""
        with self.db() as db:
            rows = db.scalars(
                select(EventRow)
                .where(EventRow.session_id == session_id, EventRow.id > after_seq)
                .order_by(EventRow.id)
                .limit(limit)
            ).all()
            out: list[EventBase] = []
            for row in rows:
                ev = parse_event(row.payload)
                ev.seq = row.id
                out.append(ev)
            return out

    # --- plan and notes -------------------------------------------------------------
    def set_plan(self, session_id: str, items: list[PlanItem]) -> None:
        """Replace a session's plan."""
        with self.db() as db:
            for old in db.scalars(select(PlanItemRow).where(PlanItemRow.session_id == session_id)):
                db.delete(old)
            for i, item in enumerate(items):
                db.add(
                    PlanItemRow(
                        session_id=session_id,
                        idx=i,
                        text=self.redactor.text(item.text),
                        status=item.status,
                    )
                )

    def get_plan(self, session_id: str) -> list[PlanItem]:
        """A session's plan in order."""
        with self.db() as db:
            rows = db.scalars(
                select(PlanItemRow)
                .where(PlanItemRow.session_id == session_id)
                .order_by(PlanItemRow.idx)
            ).all()
            return [PlanItem(text=r.text, status=r.status) for r in rows]

    def add_note(self, session_id: str, text: str, tags: list[str]) -> int:
        """Save a note; returns its id."""
        with self.db() as db:
            row = NoteRow(session_id=session_id, text=self.redactor.text(text), tags=tags)
            db.add(row)
            db.flush()
            return row.id

    def list_notes(self, session_id: str) -> list[tuple[int, str, list[str]]]:
        """A session's notes, oldest first."""
        with self.db() as db:
            rows = db.scalars(
                select(NoteRow).where(NoteRow.session_id == session_id).order_by(NoteRow.id)
            ).all()
            return [(r.id, r.text, list(r.tags or [])) for r in rows]


class SessionState:
    """The :class:`~openintern.tools.base.ResearchState` of one session, backed by the store."""

    def __init__(self, store: Store, session_id: str) -> None:
        self.store = store
        self.session_id = session_id

    def set_plan(self, items: list[PlanItem]) -> None:
        """Replace the plan."""
        self.store.set_plan(self.session_id, items)

    def get_plan(self) -> list[PlanItem]:
        """The current plan."""
        return self.store.get_plan(self.session_id)

    def add_note(self, text: str, tags: list[str]) -> int:
        """Save a note; returns its id."""
        return self.store.add_note(self.session_id, text, tags)

    def list_notes(self) -> list[tuple[int, str, list[str]]]:
        """All notes as (id, text, tags)."""
        return self.store.list_notes(self.session_id)
