"""Server-Sent Events of one session: stored events replayed, then live ones.

The listener is attached before the replay is read, so an event recorded during the
replay is in the queue too; queued events already replayed (seq at or below the last
replayed one) are skipped. Nothing is lost or doubled across the switch.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from openintern.events import EventBase
from openintern.store import Store
from openintern.web.runner import SessionHub

KEEPALIVE_S = 15.0


def format_event(event: EventBase) -> str:
    """One SSE message: ``id`` is the store's seq (none for ephemeral deltas)."""
    data = json.dumps(event.model_dump(mode="json"), separators=(",", ":"))
    head = f"id: {event.seq}\n" if event.seq is not None else ""
    return f"{head}data: {data}\n\n"


async def session_events(
    hub: SessionHub, store: Store, session_id: str, after: int,
    *, keepalive_s: float = KEEPALIVE_S,
) -> AsyncIterator[str]:
    """The SSE text of a session's events after seq ``after``, forever (until the client
    goes away and the server cancels this generator)."""
    queue: asyncio.Queue[EventBase] = asyncio.Queue()
    remove = hub.listen(session_id, queue.put_nowait)
    try:
        last = after
        yield "retry: 1000\n\n"
        while True:  # page through the store (events_after has a row limit)
            batch = store.events_after(session_id, last)
            if not batch:
                break
            for event in batch:
                yield format_event(event)
                last = event.seq if event.seq is not None else last
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=keepalive_s)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if event.seq is not None:
                if event.seq <= last:
                    continue
                last = event.seq
            yield format_event(event)
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
