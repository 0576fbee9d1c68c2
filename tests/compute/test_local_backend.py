"""The local backend with real detached processes (sandbox none, and bwrap when usable)."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openintern.compute.base import JobBackendError, JobSpec, JobStatus
from openintern.compute.local import LocalBackend
from openintern.compute.runfiles import proc_start_time, process_alive, record_process
from openintern.config import Settings
from openintern.sandbox import SandboxError, make_sandbox

TRAIN = Path(__file__).parents[1] / "ledger" / "train_digits.py"


def _bwrap_usable() -> bool:
    try:
        make_sandbox(Settings(sandbox="bwrap"), Path("/tmp"))
    except SandboxError:
        return False
    return True


SANDBOXES = ["none", pytest.param("bwrap", marks=pytest.mark.skipif(
    not _bwrap_usable(), reason="bubblewrap cannot create sandboxes here"))]


def make_backend(ws: Path, sandbox: str = "none", **kw: object) -> LocalBackend:
    return LocalBackend(ws, make_sandbox(Settings(sandbox=sandbox), ws), **kw)  # type: ignore[arg-type]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    shutil.copy(TRAIN, root / "train.py")
    return root


async def wait_done(backend: LocalBackend, job_id: str, limit_s: float = 60) -> JobStatus:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        status = await backend.status(job_id)
        if status.done:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {limit_s}s")


@pytest.mark.parametrize("sandbox", SANDBOXES)
async def test_real_training_reports_metrics_and_logs(ws: Path, sandbox: str) -> None:
    backend = make_backend(ws, sandbox)
    job = await backend.submit(JobSpec(command="python train.py --epochs 3", workdir=ws,
                                       name="digits"))
    first = await backend.status(job)
    assert first.state in ("queued", "running", "succeeded")
    status = await wait_done(backend, job)
    assert status.state == "succeeded", status.detail
    assert status.exit_code == 0 and status.started_at and status.ended_at
    logs = await backend.logs(job, tail=2)
    assert logs.splitlines() == [logs.splitlines()[0], "done"]
    assert "epoch 3" in logs
    assert (await backend.logs(job, tail=None, grep=r"^epoch 2 ")).startswith("epoch 2 loss")
    points = await backend.metrics(job)
    accs = [p for p in points if p.name == "val_acc"]
    assert [p.step for p in accs] == [1, 2, 3]
    assert all(0.5 < p.value <= 1.0 for p in accs)  # digits is easy
    run_dir = backend.run_dir(job)
    for name in ("command.sh", "output.log", "exit_code", "pid", "started_at", "spec.json",
                 "spec.sig"):
        assert (run_dir / name).exists(), name
    assert backend.metric_files(job)["metrics"].is_file()
    # No GPU here: the job saw an empty CUDA_VISIBLE_DEVICES.
    assert (run_dir / "gpus").read_text() == ""


def pgrep(pattern: str) -> list[str]:
    """Pids of processes whose command line matches ``pattern``."""
    done = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return done.stdout.split()


@pytest.mark.parametrize("sandbox", SANDBOXES)
async def test_cancel_kills_the_process_group(ws: Path, sandbox: str) -> None:
    backend = make_backend(ws, sandbox)
    marker = f"{60 + (time.time_ns() % 997) / 1000:.3f}"  # a unique sleep to look for
    job = await backend.submit(JobSpec(command=f"sleep {marker} & sleep {marker}; echo never",
                                       workdir=ws))
    while not (backend.run_dir(job) / "child").exists():  # noqa: ASYNC110 (polling a file)
        await asyncio.sleep(0.05)
    for _ in range(100):  # until the sleeps run
        found = await asyncio.to_thread(pgrep, f"^sleep {marker}")
        if len(found) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(found) == 2
    child_file = backend.run_dir(job) / "child"
    assert process_alive(child_file) is not None
    status = await backend.cancel(job)
    assert status.state == "cancelled"
    assert process_alive(child_file) is None
    # Nothing of the job survives (the background sleep included).
    await asyncio.sleep(0.2)
    assert await asyncio.to_thread(pgrep, f"^sleep {marker}") == []
    assert "never" not in await backend.logs(job)


async def test_timeout_records_timeout(ws: Path) -> None:
    backend = make_backend(ws)
    job = await backend.submit(JobSpec(command="echo start; sleep 30", workdir=ws,
                                       timeout_s=0.5))
    status = await wait_done(backend, job, limit_s=15)
    assert status.state == "timeout"
    assert "timeout" in status.detail and "start" in status.detail
    assert status.ended_at - status.started_at < 10  # type: ignore[operator]


async def test_crashing_job_fails_with_exit_code_and_log_tail(ws: Path) -> None:
    backend = make_backend(ws)
    job = await backend.submit(JobSpec(
        command="echo 'epoch 1 ok'; echo 'Traceback: boom' >&2; exit 7", workdir=ws))
    status = await wait_done(backend, job)
    assert status.state == "failed" and status.exit_code == 7
    assert "Traceback: boom" in status.detail and "epoch 1 ok" in status.detail


async def test_queue_beyond_concurrency_limit(ws: Path) -> None:
    backend = make_backend(ws, max_cpu_jobs=1)
    jobs = [await backend.submit(JobSpec(command="sleep 0.4", workdir=ws)) for _ in range(3)]
    states = [(await backend.status(j)).state for j in jobs]
    assert states.count("running") <= 1 and "queued" in states
    finals = [await wait_done(backend, j) for j in jobs]
    assert [s.state for s in finals] == ["succeeded"] * 3
    # One at a time: each started after the previous one ended.
    for before, after in itertools.pairwise(finals):
        assert after.started_at >= before.ended_at - 0.05  # type: ignore[operator]


async def test_queue_advances_without_the_agent(ws: Path) -> None:
    backend = make_backend(ws, max_cpu_jobs=1)
    first = await backend.submit(JobSpec(command="sleep 0.3", workdir=ws))
    second = await backend.submit(JobSpec(command="echo second", workdir=ws))
    state_file = backend.run_dir(second) / "state"
    deadline = time.monotonic() + 20
    # No backend call from here on: the first job's launcher starts the second.
    while not state_file.exists() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    assert state_file.read_text() == "succeeded"
    assert (await backend.status(first)).state == "succeeded"


async def test_unknown_job_and_impossible_gpu_request(ws: Path) -> None:
    backend = make_backend(ws, gpus=[])
    with pytest.raises(JobBackendError, match="jobs list"):
        await backend.status("nope")
    with pytest.raises(JobBackendError, match="GPU"):
        await backend.submit(JobSpec(command="true", workdir=ws, gpus=1))


async def test_gpu_jobs_get_their_own_devices(ws: Path) -> None:
    backend = make_backend(ws, gpus=["0", "1"], max_cpu_jobs=1)
    jobs = [await backend.submit(JobSpec(command='echo "cuda=$CUDA_VISIBLE_DEVICES"',
                                         workdir=ws, gpus=1)) for _ in range(2)]
    seen = set()
    for job in jobs:
        assert (await wait_done(backend, job)).state == "succeeded"
        seen.add((await backend.logs(job)).strip())
    assert seen == {"cuda=0", "cuda=1"} or seen == {"cuda=0"} or seen == {"cuda=1"}
    assert all(line.startswith("cuda=") and line != "cuda=" for line in seen)


def test_reused_pid_is_not_mistaken_for_the_job(tmp_path: Path) -> None:
    record = tmp_path / "pid"
    record_process(record, os.getpid())
    assert process_alive(record) == os.getpid()
    ticks = proc_start_time(os.getpid())
    record.write_text(f"{os.getpid()} {(ticks or 0) + 12345}")  # same pid, other process
    assert process_alive(record) is None


SUBMITTER = """
import asyncio, sys
from pathlib import Path
from openintern.compute.base import JobSpec
from openintern.compute.local import LocalBackend
from openintern.config import Settings
from openintern.sandbox import make_sandbox

async def main():
    ws = Path(sys.argv[1])
    backend = LocalBackend(ws, make_sandbox(Settings(sandbox="none"), ws))
    job = await backend.submit(JobSpec(command="python train.py --epochs 3 --sleep 0.3",
                                       workdir=ws))
    print(job, flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


async def test_job_survives_sigkill_of_the_agent_and_reattaches(ws: Path) -> None:
    agent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SUBMITTER, str(ws), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    assert agent.stdout is not None
    job = (await asyncio.wait_for(agent.stdout.readline(), 30)).decode().strip()
    agent.send_signal(signal.SIGKILL)
    await agent.wait()
    assert agent.returncode == -signal.SIGKILL
    backend = make_backend(ws)  # a fresh process-side view: re-attach by id
    status = await backend.status(job)
    assert status.state in ("queued", "running", "succeeded")
    status = await wait_done(backend, job)
    assert status.state == "succeeded", status.detail
    steps = sorted({p.step for p in await backend.metrics(job) if p.name == "loss"})
    assert steps == [1, 2, 3]
    assert [s.job_id for s in await backend.list_jobs()] == [job]
