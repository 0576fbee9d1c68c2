"""Blocking work off the event loop.

The loop's store writes (SQLite or PostgreSQL, and the events they record) run in a worker
thread, so a slow or locked database never stalls the event loop's other work: the web
app's sessions, the tools' I/O, Ctrl+C.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread. A cancelled caller still waits for work already
    started: it is one short transaction, and what follows the cancellation (the repair
    after an interrupt) must see it finished, not race it."""
    work = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait([work])
        raise
