"""The detached launcher of one local job: ``python -m openintern.compute.launcher RUN_DIR``.

Started in its own session by the queue pump, it outlives the agent process. It runs the
sandbox-wrapped command from ``spec.json`` in a new process group with output to
``output.log``, enforces the timeout (SIGTERM to the group, SIGKILL after a grace period),
records the exit code and the final state, then starts queued jobs whose slot it freed.
Standard library only, so it starts in tens of milliseconds.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from openintern.compute.runfiles import (
    finish,
    pump,
    record_process,
    stop_tree,
    write_atomic,
)

_KILL_GRACE_S = 5.0


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the job's process tree, then SIGKILL what lingers."""
    stop_tree(process.pid, _KILL_GRACE_S, lambda: process.poll() is None)
    process.wait()


def run(run_dir: Path) -> str:
    """Run the job in ``run_dir`` to its end; returns the final state."""
    spec = json.loads((run_dir / "spec.json").read_text())
    if (run_dir / "cancel").exists():
        finish(run_dir, "cancelled", None, "cancelled before it started")
        return "cancelled"
    timeout = spec.get("timeout_s")
    with open(run_dir / "output.log", "ab") as log:
        try:
            process = subprocess.Popen(
                spec["argv"], env=spec["env"], cwd=spec["cwd"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            log.write(f"openintern: could not start the job: {exc}\n".encode())
            finish(run_dir, "failed", 127, f"could not start: {exc}")
            return "failed"
    record_process(run_dir / "child", process.pid)

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        # Someone stopped the launcher itself: take the job down with it, as cancelled.
        write_atomic(run_dir / "cancel", repr(time.time()))
        _stop(process)

    signal.signal(signal.SIGTERM, on_term)
    timed_out = False
    try:
        process.wait(timeout=float(timeout) if timeout else None)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop(process)
    code = process.returncode
    if timed_out:
        state, detail = "timeout", f"killed after the {timeout:g} s timeout"
    elif (run_dir / "cancel").exists():
        state, detail = "cancelled", "cancelled"
    elif code == 0:
        state, detail = "succeeded", ""
    else:
        state, detail = "failed", f"exit code {code}"
    finish(run_dir, state, code, detail)
    return state


def main(argv: list[str]) -> int:
    """Entry point: run the job, then start queued jobs that can use the freed slot."""
    if len(argv) != 1:
        print("usage: python -m openintern.compute.launcher RUN_DIR", file=sys.stderr)
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
