"""Waiting for jobs without polling sleeps.

A backend whose jobs keep their state in local run directories (``run_dir(job_id)``, the
local backend) is watched with inotify through ``watchfiles``: the waiter wakes a few
milliseconds after the launcher writes a job's state, output or metrics, and sleeps while
nothing happens. A slow re-check (``recheck_s``) still runs, for what no file records (a
launcher that vanished). Backends without local run directories (Ray, HF Jobs) are polled
every ``poll_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

# watchfiles returns a batch once changes pause for _STEP_MS, or after _DEBOUNCE_MS of
# continuous changes (a chatty job), so a waiter wakes at most every half second.
_STEP_MS = 25
_DEBOUNCE_MS = 500


def local_run_dirs(backend: Any, job_ids: Sequence[str]) -> list[Path]:
    """The run directories of ``job_ids`` if ``backend`` keeps them locally, else []."""
    run_dir = getattr(backend, "run_dir", None)
    if not callable(run_dir):
        return []
    dirs: list[Path] = []
    for job_id in job_ids:
        try:
            path = Path(run_dir(job_id))
        except Exception:  # an unknown id: the status check reports it
            continue
        if path.is_dir():
            dirs.append(path)
    return dirs


class JobWatch:
    """Wakes a waiter when something changes in the watched jobs (see module doc)::

        async with JobWatch(backend, job_ids, poll_s=0.5) as watch:
            while not done():
                await watch.changed(timeout_s)
    """

    def __init__(self, backend: Any, job_ids: Sequence[str], *, poll_s: float,
                 recheck_s: float = 5.0) -> None:
        """``poll_s``: interval for backends that cannot be watched; ``recheck_s``: the
        longest a watched waiter sleeps without a change."""
        self.dirs = local_run_dirs(backend, job_ids)
        self.poll_s = poll_s
        self.recheck_s = recheck_s
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def watching(self) -> bool:
        """Whether changes are delivered by inotify (else the waiter polls)."""
        return self._task is not None and not self._task.done()

    async def __aenter__(self) -> JobWatch:
        if self.dirs:
            try:
                from watchfiles import awatch
            except ImportError:  # a partial install: fall back to polling
                return self
            changes = awatch(*self.dirs, watch_filter=None, debounce=_DEBOUNCE_MS,
                             step=_STEP_MS, stop_event=self._stop, recursive=False,
                             rust_timeout=int(self.recheck_s * 1000), yield_on_timeout=True)
            self._task = asyncio.create_task(self._follow(changes))
            # The task's first step installs the inotify watches (before its first await),
            # so changes made after this line are seen.
            await asyncio.sleep(0)
        return self

    async def _follow(self, changes: Any) -> None:
        try:
            async for batch in changes:
                if batch:
                    self._changed.set()
        except Exception:  # a watch that fails (a vanished directory) leaves the re-check
            return

    async def changed(self, timeout_s: float) -> None:
        """Return when a watched job changed, or after ``timeout_s`` at most (sooner when
        polling or re-checking)."""
        if not self.watching:
            await asyncio.sleep(max(0.0, min(timeout_s, self.poll_s)))
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), max(0.0, min(timeout_s, self.recheck_s)))
        self._changed.clear()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
