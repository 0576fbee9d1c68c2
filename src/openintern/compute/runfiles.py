"""The on-disk layout of local jobs, and the queue that starts them.

Standard library only: the detached launcher imports this too. A job's control files are
host-only: they live in the data directory, which the sandbox never shows, at
``<data dir>/jobs/<workspace key>/<job_id>/``::

    spec.json      what to run (sandbox-wrapped argv and environment, timeout, GPUs, limits)
    spec.sig       HMAC-SHA256 of spec.json under this host's key (``jobs/.signing-key``)
    command.sh     the user's command with its prologue (a record; the argv carries it)
    output.log     stdout and stderr (capped by the launcher)
    pid            "<launcher pid> <start time>" written when the job starts
    child          "<command pid> <start time>" (its process group is the job's)
    gpus           the GPU indices given to the job ("" for none)
    started_at, ended_at, exit_code, detail
    state          the final state; written last, so its presence means "finished"
    cancel         marker: cancellation was requested

What the job itself writes (``OPENINTERN_RUN_DIR``: metrics.jsonl, checkpoints, plots) goes
to ``<workspace>/.openintern/runs/<job_id>/``, the one folder of ``.openintern`` the job may
write. The launcher runs a spec only if its signature verifies, so nothing agent code
writes can become a host command.

Queue and running sets are marker files in ``.queue/`` and ``.running/`` so a pump looks
only at active jobs. The pump runs under an ``flock``; both the backend and every launcher
(when its job ends) pump, so queued jobs start even while the agent is down.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

FINAL_STATES = ("succeeded", "failed", "cancelled", "timeout")
SIGNING_KEY = ".signing-key"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class SpecRefused(Exception):
    """A job spec that this host did not write (or that was changed since)."""


def runs_root(workspace: Path) -> Path:
    """Where a workspace's job control directories live (in the data directory)."""
    from openintern.config import data_dir  # lazy: the launcher never needs settings

    resolved = workspace.resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:16]
    name = _UNSAFE_NAME.sub("-", resolved.name)[:40] or "workspace"
    return data_dir() / "jobs" / f"{name}-{digest}"


def job_output_dir(workspace: Path, job_id: str) -> Path:
    """The folder a job writes (``OPENINTERN_RUN_DIR``), inside the workspace."""
    return workspace.resolve() / ".openintern" / "runs" / job_id


def _key_path(root: Path) -> Path:
    return root.parent / SIGNING_KEY


def signing_key(root: Path, *, create: bool) -> bytes:
    """This host's key for signing job specs (made on first use, readable by its owner
    only, in the data directory)."""
    path = _key_path(root)
    with contextlib.suppress(FileNotFoundError):
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    if not create:
        raise SpecRefused(f"no signing key at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f"{SIGNING_KEY}.{os.getpid()}.tmp"),
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_hex(32).encode())
    with contextlib.suppress(FileExistsError):
        os.link(path.with_name(f"{SIGNING_KEY}.{os.getpid()}.tmp"), path)  # first one wins
    os.unlink(path.with_name(f"{SIGNING_KEY}.{os.getpid()}.tmp"))
    return path.read_bytes()


def _signature(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def write_signed_spec(run_dir: Path, spec: dict[str, Any]) -> None:
    """Write ``spec.json`` and its signature (the signature first: a spec without a valid
    signature is never run)."""
    data = json.dumps(spec, indent=1, sort_keys=True).encode()
    key = signing_key(run_dir.parent, create=True)
    write_atomic(run_dir / "spec.sig", _signature(key, data))
    tmp = run_dir / f".spec.json.{os.getpid()}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, run_dir / "spec.json")


def read_verified_spec(run_dir: Path) -> dict[str, Any]:
    """The job's spec if this host signed it; ``SpecRefused`` otherwise."""
    try:
        data = (run_dir / "spec.json").read_bytes()
        given = (run_dir / "spec.sig").read_text().strip()
    except OSError as exc:
        raise SpecRefused(f"the spec or its signature is missing ({exc})") from None
    key = signing_key(run_dir.parent, create=False)
    if not hmac.compare_digest(_signature(key, data), given):
        raise SpecRefused("the spec's signature does not match this host's key")
    spec = json.loads(data)
    if not isinstance(spec, dict) or spec.get("job_id") != run_dir.name:
        raise SpecRefused("the spec belongs to another job")
    return spec


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so readers see the old content or the new, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_text(path: Path) -> str | None:
    """The file's stripped text, or None if it does not exist."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None


def proc_start_time(pid: int) -> int | None:
    """The process's start time (psutil's ``create_time``, in milliseconds since the
    epoch), or None if there is no such process or it has finished (a zombie). Comparing
    it with the recorded value tells a live job from an unrelated process that reused
    its pid."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return round(float(process.create_time()) * 1000)
    except (psutil.Error, ValueError):
        return None


def record_process(path: Path, pid: int) -> None:
    """Write ``"<pid> <start time>"`` for :func:`process_alive`."""
    write_atomic(path, f"{pid} {proc_start_time(pid) or 0}")


# Any start time in epoch milliseconds is above this (2001); clock ticks since boot are not.
_EPOCH_MS_FLOOR = 10**12


def process_alive(path: Path) -> int | None:
    """The pid recorded in ``path`` if that very process still runs, else None."""
    text = read_text(path)
    if not text:
        return None
    try:
        pid_text, ticks_text = text.split()
        pid, ticks = int(pid_text), int(ticks_text)
    except ValueError:
        return None
    current = proc_start_time(pid)
    if current is not None and 0 < ticks < _EPOCH_MS_FLOOR:
        # Written before start times were epoch milliseconds (clock ticks since boot):
        # a job started by an older version still counts as running while its pid does.
        return pid
    return pid if current is not None and current == ticks else None


def kill_group(pid: int, sig: int) -> None:
    """Signal a job's process group (ignoring one that already ended)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def process_tree(pid: int) -> dict[int, int]:
    """``pid`` and all its descendants, each with its start time (to avoid signalling a
    process that reused a pid later)."""
    try:
        members = [psutil.Process(pid)]
        members += members[0].children(recursive=True)
    except psutil.Error:
        return {}
    found: dict[int, int] = {}
    for member in members:
        ticks = proc_start_time(member.pid)
        if ticks is not None:
            found[member.pid] = ticks
    return found


def signal_tree(tree: dict[int, int], sig: int) -> None:
    """Signal every still-identical process of ``tree`` and its process group. Needed
    because a sandbox (bwrap) starts the command in a session of its own, out of reach
    of a signal to the launcher-side process group."""
    for pid, ticks in tree.items():
        if proc_start_time(pid) == ticks:
            kill_group(pid, sig)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def stop_tree(pid: int, grace_s: float, still_running: Callable[[], bool]) -> None:
    """SIGTERM a job's whole process tree, then SIGKILL what is left after ``grace_s``
    (or as soon as ``still_running()`` says the job ended)."""
    tree = process_tree(pid)
    signal_tree(tree, signal.SIGTERM)
    deadline = time.time() + grace_s
    while time.time() < deadline and still_running():
        time.sleep(0.05)
    for member in list(tree):
        for extra, ticks in process_tree(member).items():
            tree.setdefault(extra, ticks)
    signal_tree(tree, signal.SIGKILL)


def finish(run_dir: Path, state: str, exit_code: int | None, detail: str = "") -> None:
    """Record a job's end (state file last: it marks the job finished)."""
    if (run_dir / "state").exists():
        return
    if exit_code is not None:
        write_atomic(run_dir / "exit_code", str(exit_code))
    write_atomic(run_dir / "ended_at", repr(time.time()))
    if detail:
        write_atomic(run_dir / "detail", detail)
    write_atomic(run_dir / "state", state)
    with contextlib.suppress(FileNotFoundError):
        (run_dir.parent / ".running" / run_dir.name).unlink()


@contextlib.contextmanager
def queue_lock(root: Path) -> Iterator[None]:
    """Exclusive lock over the queue (across processes)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_resources(root: Path) -> dict[str, Any]:
    """Slots and GPUs the backend recorded (defaults: one CPU slot, no GPU)."""
    try:
        data = json.loads((root / ".resources.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        data = {}
    return {"cpu_slots": int(data.get("cpu_slots", 1)), "gpus": list(data.get("gpus", []))}


def reap_running(root: Path) -> dict[str, list[str]]:
    """Running jobs by id with their GPUs; jobs whose launcher and command both vanished
    without a result (a reboot, a kill -9 of both) are recorded as failed."""
    running: dict[str, list[str]] = {}
    marker_dir = root / ".running"
    marker_dir.mkdir(parents=True, exist_ok=True)
    for marker in marker_dir.iterdir():
        run_dir = root / marker.name
        if (run_dir / "state").exists():
            marker.unlink(missing_ok=True)
            continue
        if process_alive(run_dir / "pid") is None and process_alive(run_dir / "child") is None:
            # The launcher may have just been started and not yet be visible: give a
            # freshly started job a moment before declaring it lost.
            started = float(read_text(run_dir / "started_at") or 0)
            if time.time() - started > 5:
                finish(run_dir, "failed", None,
                       "the job's launcher ended without recording a result (machine "
                       "restart or the launcher was killed); resubmit the job")
                continue
        gpus = read_text(run_dir / "gpus") or ""
        running[marker.name] = [g for g in gpus.split(",") if g]
    return running


def start_job(root: Path, job_id: str, gpus: list[str]) -> None:
    """Start the detached launcher of a queued job (caller holds the queue lock)."""
    run_dir = root / job_id
    write_atomic(run_dir / "gpus", ",".join(gpus))
    if (run_dir / "job").is_dir():  # the copy the job reads (its folder is bound read-only)
        write_atomic(run_dir / "job" / "gpus", ",".join(gpus))
    write_atomic(run_dir / "started_at", repr(time.time()))
    (root / ".running").mkdir(exist_ok=True)
    (root / ".running" / job_id).touch()
    # The launcher gets a new session so it survives the agent (even a kill -9 of it).
    process = subprocess.Popen(
        [sys.executable, "-P", "-m", "openintern.compute.launcher", str(run_dir)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True, cwd=str(run_dir),
    )
    record_process(run_dir / "pid", process.pid)


def pump(root: Path) -> list[str]:
    """Start queued jobs, oldest first, while slots are free; returns the started ids."""
    started: list[str] = []
    queue_dir = root / ".queue"
    with queue_lock(root):
        queue_dir.mkdir(parents=True, exist_ok=True)
        resources = read_resources(root)
        running = reap_running(root)
        cpu_busy = sum(1 for gpus in running.values() if not gpus)
        gpus_busy = {g for gpus in running.values() for g in gpus}
        for marker in sorted(queue_dir.iterdir(), key=lambda p: p.name):
            job_id = marker.name.split("-", 1)[1]
            run_dir = root / job_id
            if (run_dir / "state").exists():  # cancelled while queued
                marker.unlink(missing_ok=True)
                continue
            try:
                wanted = int(read_verified_spec(run_dir).get("gpus", 0))
            except (SpecRefused, OSError, ValueError) as exc:
                marker.unlink(missing_ok=True)
                if run_dir.is_dir() and not (run_dir / "state").exists():
                    finish(run_dir, "failed", None, f"refused to run: {exc}")
                continue
            if wanted:
                free = [g for g in resources["gpus"] if g not in gpus_busy]
                if len(free) < wanted:
                    continue
                assigned = free[:wanted]
                gpus_busy.update(assigned)
            else:
                if cpu_busy >= resources["cpu_slots"]:
                    continue
                cpu_busy += 1
                assigned = []
            start_job(root, job_id, assigned)
            marker.unlink(missing_ok=True)
            started.append(job_id)
    return started


def cancel_queued_or_running(root: Path, job_id: str, grace_s: float = 3.0) -> None:
    """Cancel a job: a queued one is marked cancelled; a running one gets SIGTERM to its
    process group, then SIGKILL after ``grace_s``. Blocking; run it in a worker thread."""
    run_dir = root / job_id
    write_atomic(run_dir / "cancel", repr(time.time()))
    with queue_lock(root):
        for marker in (root / ".queue").glob(f"*-{job_id}"):
            marker.unlink(missing_ok=True)
            finish(run_dir, "cancelled", None, "cancelled before it started")
            return
    child = process_alive(run_dir / "child")
    if child is not None:
        stop_tree(child, grace_s, lambda: process_alive(run_dir / "child") is not None)
    # The launcher records "cancelled"; if it is gone, record it here.
    deadline = time.time() + 5
    while time.time() < deadline and not (run_dir / "state").exists():
        if process_alive(run_dir / "pid") is None:
            break
        time.sleep(0.05)
    finish(run_dir, "cancelled", None, "cancelled")
