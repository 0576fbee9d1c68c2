"""Who hears a running command's output as it arrives (the shell tool streams it to the
terminal and the web). A caller sets a listener around one command with
:func:`listening`; the process runner feeds it every chunk it reads, decoded. Nobody
listening costs nothing."""

from __future__ import annotations

import codecs
import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar

log = logging.getLogger(__name__)

_LISTENER: ContextVar[Callable[[str], None] | None] = ContextVar(
    "openintern_output_listener", default=None)


@contextlib.contextmanager
def listening(callback: Callable[[str], None]) -> Iterator[None]:
    """Call ``callback`` with the text of every command started inside this block (in
    this task and the tasks it starts)."""
    token = _LISTENER.set(callback)
    try:
        yield
    finally:
        _LISTENER.reset(token)


def byte_listener() -> Callable[[bytes], None] | None:
    """A function taking raw output bytes for the current listener (UTF-8 decoded
    incrementally; a failing listener is logged and never breaks the command), or None
    when nobody listens."""
    callback = _LISTENER.get()
    if callback is None:
        return None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(data: bytes) -> None:
        text = decoder.decode(data, final=not data)
        if text:
            try:
                callback(text)
            except Exception:  # a display problem must not cost the command
                log.warning("output listener failed", exc_info=True)

    return feed
