"""A running command's output, streamed as it arrives: :class:`ToolOutput` events for the
user interfaces (whole lines, at most a few per second, bounded per call) and the whole
output in a log file in the data directory (out of the sandbox's reach), which the web
links as the call's "full log". What the model sees is unchanged (the tool's result)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import IO

from openintern.config import data_dir
from openintern.events import ToolOutput
from openintern.secrets import Redactor
from openintern.tools.base import ToolContext

FLUSH_S = 0.25  # the longest a line waits before it is sent
LIVE_LIMIT_CHARS = 100_000  # per call, sent as events; the rest only in the full log
LOG_LIMIT_BYTES = 64 * 2**20
_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def full_log_path(session_id: str, call_id: str) -> Path:
    """Where the whole output of a call is kept. ValueError for ids that are no names."""
    if not session_id or not call_id or _SAFE.sub("", session_id) != session_id:
        raise ValueError("not a session or call id")
    return data_dir() / "call-output" / session_id / f"{_SAFE.sub('_', call_id)[:80]}.log"


class OutputStream:
    """Receives output text (from the sandbox's listener) and emits it for ``ctx``'s
    current call. Use as ``with OutputStream(ctx) as out: ... listening(out.feed)``."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.call_id = ctx.call_id
        store = ctx.services.get("store")
        redactor = getattr(store, "redactor", None)
        self.redactor: Redactor = redactor if isinstance(redactor, Redactor) else (
            Redactor.from_environment(ctx.settings.secret_values()))
        self._pending = ""
        self._sent = 0
        self._logged = 0
        self._timer: asyncio.TimerHandle | None = None
        self._log: IO[str] | None = None
        self.enabled = bool(self.call_id and ctx.session_id)

    def __enter__(self) -> OutputStream:
        if self.enabled:
            try:
                path = full_log_path(self.ctx.session_id, self.call_id)
                path.parent.mkdir(parents=True, exist_ok=True)
                self._log = path.open("w", encoding="utf-8", errors="replace")
            except (OSError, ValueError):
                self._log = None  # no full log; the live events still go out
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush(final=True)
        if self._log is not None:
            self._log.close()

    def feed(self, text: str) -> None:
        """Take a chunk of output; whole lines go out at most every ``FLUSH_S``."""
        if not self.enabled:
            return
        self._pending += text
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)

    def flush(self, final: bool = False) -> None:
        """Send what is pending: whole lines (everything when ``final``)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        cut = len(self._pending) if final else self._pending.rfind("\n") + 1
        if cut == 0 and len(self._pending) > 4096:  # one endless line (a progress bar)
            cut = len(self._pending)
        chunk, self._pending = self._pending[:cut], self._pending[cut:]
        if self._pending and not final:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)
        if not chunk:
            return
        text = self.redactor.text(chunk)
        if self._log is not None and self._logged < LOG_LIMIT_BYTES:
            self._log.write(text)
            self._logged += len(text)
            self._log.flush()
        room = LIVE_LIMIT_CHARS - self._sent
        if room <= 0:
            return
        truncated = len(text) > room
        self._sent += min(len(text), room)
        self.ctx.emit(ToolOutput(call_id=self.call_id, text=text[:room], truncated=truncated))
