"""A run's output as it is written, for its page: Server-Sent Events carrying the tail of a
local job's ``output.log`` and then every new line as the job writes it, redacted, until
the job has finished; remote backends (Ray, HF) send their log tail every few seconds.
File reads run in worker threads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

from openintern.config import Settings
from openintern.research.ledger import ExperimentRecord, Ledger
from openintern.store import Store
from openintern.web.lab import run_logs
from openintern.web.run_files import local_run_dir

TAIL_BYTES = 64 * 1024  # what a page opening on a long log starts with
CHUNK_BYTES = 256 * 1024
POLL_S = 0.3
REMOTE_POLL_S = 3.0


def _message(text: str, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps({'text': text})}\n\n"


class _Tail:
    """Reads a growing file from its tail onwards, in whole lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset: int | None = None
        self.pending = b""

    def read(self, final: bool) -> str:
        try:
            with self.path.open("rb") as f:
                size = f.seek(0, 2)
                if self.offset is None:
                    self.offset = max(0, size - TAIL_BYTES)
                    if self.offset:  # started mid-file: drop the partial first line
                        f.seek(self.offset)
                        first = f.readline()
                        self.offset += len(first)
                f.seek(self.offset)
                data = f.read(CHUNK_BYTES)
        except FileNotFoundError:
            return ""
        self.offset = (self.offset or 0) + len(data)
        data = self.pending + data
        cut = len(data) if final else data.rfind(b"\n") + 1
        self.pending = data[cut:]
        return data[:cut].decode("utf-8", errors="replace")


async def log_events(settings: Settings, store: Store, record: ExperimentRecord
                     ) -> AsyncIterator[str]:
    """The SSE text of a run's output; ``event: done`` once nothing more will come."""
    yield "retry: 2000\n\n"
    run_dir = await asyncio.to_thread(local_run_dir, settings, store, record)
    if run_dir is None:
        previous = None
        while True:  # remote (or gone): the backend's tail, replaced as it changes
            text = await run_logs(settings, store, record)
            if text != previous:
                yield _message(text, "reset")
                previous = text
            if record.done or not record.job_id:
                yield _message("", "done")
                return
            await asyncio.sleep(REMOTE_POLL_S)
            record = await asyncio.to_thread(Ledger(store).get, record.id)
    tail = _Tail(run_dir / "output.log")
    state = run_dir / "state"  # written by the launcher when the job has ended
    while True:
        finished = await asyncio.to_thread(state.exists)
        text = await asyncio.to_thread(tail.read, finished)
        while text:
            yield _message(store.redactor.text(text))
            text = await asyncio.to_thread(tail.read, finished)
        if finished:
            yield _message("", "done")
            return
        await asyncio.sleep(POLL_S)
