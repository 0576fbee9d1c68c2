"""The detached launcher of one local job: ``python -P -m openintern.compute.launcher RUN_DIR``.

Started in its own session by the queue pump, it outlives the agent process. It runs only
a spec this host signed (:func:`openintern.compute.runfiles.read_verified_spec`): the
sandbox-wrapped command, in a new process group, under the job's resource limits, with
its output copied to ``output.log`` up to a cap (then only metric lines and, at the end,
the last lines). It enforces the timeout (SIGTERM to the group, SIGKILL after a grace
period), records the exit code, the final state and any limit that was hit, then starts
queued jobs whose slot it freed. Standard library only, so it starts in tens of
milliseconds.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import IO, Any

from openintern.compute.runfiles import (
    SpecRefused,
    finish,
    pump,
    read_verified_spec,
    record_process,
    stop_tree,
    write_atomic,
)
from openintern.compute.system_metrics import SystemSampler
from openintern.sandbox.limits import LimitScope, ResourceLimits, format_bytes

_KILL_GRACE_S = 5.0
_DRAIN_S = 2.0
_TAIL_LINES = 50
DEFAULT_MAX_OUTPUT_BYTES = 100 << 20


class OutputLog:
    """Copies a job's output into ``output.log``: everything up to ``cap`` bytes, then
    only lines that look like metric records (JSON objects, Trainer dicts), and at the
    end the last lines, so metrics and the final result survive a chatty job."""

    def __init__(self, handle: IO[bytes], cap: int) -> None:
        self.handle = handle
        self.cap = cap
        self.written = 0
        self.dropped = 0
        self._partial = b""
        self._tail: collections.deque[bytes] = collections.deque(maxlen=_TAIL_LINES)

    @property
    def capped(self) -> bool:
        """Whether output beyond the cap was dropped."""
        return self.written >= self.cap

    def feed(self, data: bytes) -> None:
        """Add a chunk of raw output."""
        if not self.capped:
            room = self.cap - self.written
            head, data = data[:room], data[room:]
            self.handle.write(head)
            self.written += len(head)
            if not data:
                self.handle.flush()
                return
            cut = head.rfind(b"\n")
            self._partial = head[cut + 1:] if cut >= 0 else head
            self.handle.write(f"\n[openintern: output limit {format_bytes(self.cap)} reached: "
                              "further output is dropped except metric lines and the last "
                              f"{_TAIL_LINES} lines]\n".encode())
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self._tail.append(line)
            if line.lstrip()[:1] == b"{":
                self.handle.write(line + b"\n")
            else:
                self.dropped += 1
        self.handle.flush()

    def close(self) -> None:
        """Write the last lines (after the cap) and flush."""
        if self.capped:
            if self._partial:
                self._tail.append(self._partial)
            if self._tail:
                self.handle.write(f"[openintern: {self.dropped} lines dropped; the last "
                                  f"{len(self._tail)} lines follow]\n".encode())
                self.handle.write(b"\n".join(self._tail) + b"\n")
        self.handle.flush()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the job's process tree, then SIGKILL what lingers."""
    stop_tree(process.pid, _KILL_GRACE_S, lambda: process.poll() is None)
    process.wait()


def _copy_output(process: subprocess.Popen[bytes], log: OutputLog,
                 deadline: float | None) -> bool:
    """Copy output until the job ends; returns True when the deadline passed first."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    exited_at: float | None = None
    while True:
        now = time.monotonic()
        if deadline is not None and now >= deadline and process.poll() is None:
            return True
        if exited_at is None and process.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > _DRAIN_S:
            return False  # something that escaped the job still holds the pipe
        wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - now))
        readable, _, _ = select.select([fd], [], [], wait)
        if readable:
            chunk = os.read(fd, 65536)
            if not chunk:
                return False
            log.feed(chunk)


def run(run_dir: Path) -> str:
    """Run the job in ``run_dir`` to its end; returns the final state."""
    try:
        spec = read_verified_spec(run_dir)
    except SpecRefused as exc:
        finish(run_dir, "failed", None, f"refused to run: {exc}")
        return "failed"
    if (run_dir / "cancel").exists():
        finish(run_dir, "cancelled", None, "cancelled before it started")
        return "cancelled"
    try:
        return _run_verified(run_dir, spec)
    finally:
        secrets_file = spec.get("secrets_file")
        if secrets_file:
            with contextlib.suppress(OSError):
                os.unlink(secrets_file)


def _run_verified(run_dir: Path, spec: dict[str, Any]) -> str:
    timeout = spec.get("timeout_s")
    scope = LimitScope(ResourceLimits.from_json(spec.get("limits")),
                       cgroup_root=spec.get("cgroup_root"), gpu=bool(spec.get("gpus")),
                       label="job")
    log_handle = open(run_dir / "output.log", "ab")  # noqa: SIM115 (closed below)
    log = OutputLog(log_handle, int(spec.get("max_output_bytes") or DEFAULT_MAX_OUTPUT_BYTES))
    try:
        try:
            process = subprocess.Popen(
                [*scope.wrapper(), *spec["argv"]], env=spec["env"], cwd=spec["cwd"],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            log_handle.write(f"openintern: could not start the job: {exc}\n".encode())
            finish(run_dir, "failed", 127, f"could not start: {exc}")
            return "failed"
        record_process(run_dir / "child", process.pid)
        sampler = SystemSampler(run_dir, process.pid).start()  # CPU, memory, GPU while it runs

        def on_term(_signum: int, _frame: FrameType | None) -> None:
            # Someone stopped the launcher itself: take the job down with it, as cancelled.
            write_atomic(run_dir / "cancel", repr(time.time()))
            _stop(process)

        signal.signal(signal.SIGTERM, on_term)
        deadline = time.monotonic() + float(timeout) if timeout else None
        timed_out = _copy_output(process, log, deadline)
        if timed_out:
            _stop(process)
        process.wait()
        sampler.stop()
        log.close()
        code = process.returncode
        reached = scope.reached(exit_code=code)
        if timed_out:
            state, detail = "timeout", f"killed after the {timeout:g} s timeout"
        elif (run_dir / "cancel").exists():
            state, detail = "cancelled", "cancelled"
        elif code == 0:
            state, detail = "succeeded", ""
        else:
            state, detail = "failed", f"exit code {code}"
        if reached:
            detail = "; ".join([detail, *reached]) if detail else "; ".join(reached)
        if log.capped:
            detail = "; ".join(filter(None, [detail, f"output limit {format_bytes(log.cap)} "
                                            "reached (later output kept only in part)"]))
        finish(run_dir, state, code, detail)
        return state
    finally:
        scope.close()
        log_handle.close()


def main(argv: list[str]) -> int:
    """Entry point: run the job, then start queued jobs that can use the freed slot."""
    if len(argv) != 1:
        print("usage: python -P -m openintern.compute.launcher RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    try:
        run(run_dir)
    except Exception as exc:  # record any launcher failure instead of vanishing
        finish(run_dir, "failed", None, f"launcher error: {exc!r}")
    pump(run_dir.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
