"""Server-Sent Events of one session: stored events replayed, then followed in the store.

A session may be run by this server, by ``intern`` in a terminal, or by another server on
the same database: the stream follows the store's events table, so every one of them is
live. Sessions running in this process also wake the stream at once (no polling delay)
and contribute their ephemeral events (streamed text) straight from the bus.

Store reads and the JSON encoding of a page of events run in a worker thread, never on
the server's event loop (a locked database or a 10,000-event replay stalls no one else).
A read re-covers the last couple of seconds, so an event committed late (PostgreSQL
sequence numbers are handed out before commit) is still delivered, once.

The SSE framing is hand-written (a few lines) rather than sse-starlette's: a replay goes
out as pre-joined batch messages, which a one-event-per-item response would split.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Text, cast, select

from openintern.events import EventBase, parse_event
from openintern.store import Store
from openintern.store.engine import NON_FINITE_KEY, json_deserializer
from openintern.store.models import EventRow
from openintern.web.runner import SessionHub
from openintern.web.tool_cards import CARD_EVENT_TYPES, card_fields

KEEPALIVE_S = 15.0
POLL_S = 0.5  # how often a stream looks at the store when nothing woke it
LOOKBACK_S = 2.0  # how long a delivered seq is remembered to catch late commits
PAGE = 10_000


def event_json(event: EventBase) -> str:
    """An event as the JSON the page reads. Tool events carry the card fields the page
    shows (the terminal's one-line summary)."""
    data: dict[str, Any] = event.model_dump(mode="json")
    data.update(card_fields(data))
    return json.dumps(data, separators=(",", ":"))


def format_event(event: EventBase) -> str:
    """One SSE message: ``id`` is the store's seq (none for ephemeral deltas)."""
    head = f"id: {event.seq}\n" if event.seq is not None else ""
    return f"{head}data: {event_json(event)}\n\n"


def format_batch(items: list[tuple[int, str]]) -> str:
    """Many stored events as one SSE message (``event: batch``, a JSON array; ``id``: the
    last seq), so the browser parses a long replay once instead of event by event."""
    body = ",".join(text for _, text in items)
    return f"id: {items[-1][0]}\nevent: batch\ndata: [{body}]\n\n"


def _raw_rows(store: Store, session_id: str, after: int, limit: int
              ) -> list[tuple[int, str, str, float]]:
    """(seq, type, payload JSON text, ts) of stored events after ``after``: the payload
    as the database holds it (redacted when written), so a long replay is not parsed and
    re-encoded event by event (a 10,000-event page)."""
    query = (select(EventRow.id, EventRow.type, cast(EventRow.payload, Text), EventRow.ts)
             .where(EventRow.session_id == session_id, EventRow.id > after)
             .order_by(EventRow.id).limit(limit))
    with store.engine.connect() as conn:
        return [(int(r[0]), str(r[1]), str(r[2]), float(r[3] or 0)) for r in conn.execute(query)]


# Rows to re-encode instead of passing through: non-finite numbers are no JSON for a
# browser, and a stored seq would clash with the one added here.
_PASSTHROUGH_UNSAFE = ("NaN", "Infinity", '"seq"', NON_FINITE_KEY)


def _row_json(seq: int, kind: str, payload: str) -> str:
    """A stored row as :func:`event_json` of the parsed event would give it."""
    body = payload.strip()
    if any(t in body for t in _PASSTHROUGH_UNSAFE) or not body.startswith("{") or "\n" in body:
        event = parse_event(json_deserializer(payload))  # non-finite numbers untagged
        event.seq = seq
        return event_json(event)
    if kind in CARD_EVENT_TYPES:  # the stored payload is the event's JSON dump already
        data = json.loads(body)
        data["seq"] = seq
        data.update(card_fields(data))
        return json.dumps(data, separators=(",", ":"))
    inner = body[1:].lstrip()
    return f'{{"seq":{seq}' + ("," + inner if not inner.startswith("}") else "}")


class StoreFollower:
    """Reads a session's new events from the store, each exactly once, in seq order
    within a read. Blocking: call :meth:`read` from a worker thread."""

    def __init__(self, store: Store, session_id: str, after: int) -> None:
        self.store = store
        self.session_id = session_id
        self.floor = after  # every seq at or below it was delivered (or never will be)
        self.last = after  # the highest seq delivered
        self._recent: dict[int, float] = {}  # delivered seqs above the floor: when

    def read(self, limit: int = PAGE) -> tuple[list[tuple[float, int, str]], bool]:
        """((ts, seq, event JSON) of each event not delivered yet, whether more may
        wait)."""
        batch = _raw_rows(self.store, self.session_id, self.floor, limit)
        now = time.monotonic()
        out: list[tuple[float, int, str]] = []
        for seq, kind, payload, ts in batch:
            if seq in self._recent:
                continue
            self._recent[seq] = now
            self.last = max(self.last, seq)
            out.append((ts, seq, _row_json(seq, kind, payload)))
        # Seqs remembered long enough: nothing below them can still be uncommitted.
        settled = [s for s, seen in self._recent.items() if now - seen > LOOKBACK_S]
        if settled:
            self.floor = max(self.floor, max(settled))
            self._recent = {s: t for s, t in self._recent.items() if s > self.floor}
        full = len(batch) >= limit
        if full:  # a long replay: page on from the end of this page
            self.floor = max(self.floor, self.last)
            self._recent = {s: t for s, t in self._recent.items() if s > self.floor}
        return out, full


async def session_events(
    hub: SessionHub, store: Store, session_id: str, after: int,
    *, keepalive_s: float = KEEPALIVE_S, poll_s: float = POLL_S,
) -> AsyncIterator[str]:
    """The SSE text of a session's events after seq ``after``, forever (until the client
    goes away and the server cancels this generator). After the stored events at the
    time of the request, an ``event: replayed`` message tells the page it caught up."""
    wake = asyncio.Event()
    ephemeral: asyncio.Queue[EventBase] = asyncio.Queue()

    def on_event(event: EventBase) -> None:
        if event.seq is None:
            ephemeral.put_nowait(event)
        wake.set()

    remove = hub.listen(session_id, on_event)
    follower = StoreFollower(store, session_id, after)
    try:
        yield "retry: 1000\n\n"
        more = True
        while more:
            rows, more = await asyncio.to_thread(follower.read)
            if rows:
                yield format_batch([(seq, text) for _, seq, text in rows])
        yield f"event: replayed\ndata: {json.dumps({'seq': follower.last})}\n\n"
        quiet_since = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=poll_s)
            wake.clear()
            chunks: list[tuple[float, str]] = []
            more = True
            while more:
                rows, more = await asyncio.to_thread(follower.read)
                chunks += [(ts, f"id: {seq}\ndata: {text}\n\n") for ts, seq, text in rows]
            # Drained after the read: streamed text that preceded a stored event read
            # here is in the queue already, so sorting by time keeps the true order.
            while not ephemeral.empty():
                event = ephemeral.get_nowait()
                chunks.append((event.ts, format_event(event)))
            if chunks:
                # Streamed text and stored events of this process interleave by time.
                chunks.sort(key=lambda pair: pair[0])
                yield "".join(text for _, text in chunks)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= keepalive_s:
                yield ": keepalive\n\n"
                quiet_since = time.monotonic()
    finally:
        remove()


def parse_after(last_event_id: str | None, after: str | None) -> int:
    """The seq to resume after: the Last-Event-ID header wins over ``?after=``."""
    for raw in (last_event_id, after):
        if raw is not None and raw.strip():
            try:
                return max(0, int(raw.strip()))
            except ValueError:
                raise ValueError(f"not an event id: {raw!r}; expected an integer") from None
    return 0
