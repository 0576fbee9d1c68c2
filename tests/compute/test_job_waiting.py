"""Waiting for local jobs is woken by the jobs' run directories, not by a polling timer."""

from __future__ import annotations

import time
from pathlib import Path

from openintern.compute.base import JobSpec
from openintern.compute.local import LocalBackend
from openintern.compute.waiting import JobWatch
from openintern.config import Settings
from openintern.sandbox import make_sandbox

# Far longer than any of these jobs take: a wait that returns sooner was woken by a change.
_NEVER_S = 120.0


def _backend(ws: Path) -> LocalBackend:
    return LocalBackend(ws, make_sandbox(Settings(sandbox="none"), ws))


async def test_a_finishing_job_wakes_the_waiter(workspace: Path) -> None:
    backend = _backend(workspace)
    job = await backend.submit(JobSpec(command="sleep 0.5; echo done", workdir=workspace))
    start = time.monotonic()
    async with JobWatch(backend, [job], poll_s=_NEVER_S, recheck_s=_NEVER_S) as watch:
        assert watch.watching
        while not (await backend.status(job)).done:
            await watch.changed(_NEVER_S)
            assert time.monotonic() - start < _NEVER_S / 2, "woken by the timer, not the job"
    assert (await backend.status(job)).state == "succeeded"
    assert "done" in await backend.logs(job)


async def test_metrics_written_by_a_running_job_wake_the_waiter(workspace: Path) -> None:
    backend = _backend(workspace)
    job = await backend.submit(JobSpec(
        command="sleep 0.3; echo '{\"step\": 1, \"loss\": 0.5}'; sleep 30", workdir=workspace))
    async with JobWatch(backend, [job], poll_s=_NEVER_S, recheck_s=_NEVER_S) as watch:
        start = time.monotonic()
        while not await backend.metrics(job):
            await watch.changed(_NEVER_S)
            assert time.monotonic() - start < _NEVER_S / 2, "woken by the timer, not the job"
    assert not (await backend.status(job)).done
    await backend.cancel(job)


async def test_backends_without_run_directories_are_polled() -> None:
    class Remote:
        name = "remote"

    async with JobWatch(Remote(), ["j1"], poll_s=0.05) as watch:
        assert not watch.watching
        start = time.monotonic()
        await watch.changed(_NEVER_S)
        assert time.monotonic() - start < _NEVER_S / 2
