"""Wall time versus CPU time of ``intern demo`` (median of 3 runs).

Each run starts ``python -m openintern.cli demo`` in a fresh workspace and data directory
and waits for it. CPU time counts the whole process tree: the demo's jobs run under
detached launchers that leave the demo's process tree, so this script makes itself a
child subreaper (``PR_SET_CHILD_SUBREAPER``): orphaned launchers, sandboxes and training
processes are re-parented to it, it reaps them, and their user+system time lands in its
``RUSAGE_CHILDREN``. The ratio wall/CPU says how much of the demo is waiting; on an idle
2-core machine the target is at most 1.3. On a busy machine the wall time grows with the
load (the CPU time does not), so the script prints the load average beside the numbers,
and "asleep s": the time during which no process of the demo was runnable (sampled every
20 ms), which is waiting that no CPU would remove. On an idle machine every moment is
either one of the demo's processes running or all of them asleep, so there
wall <= CPU + asleep whatever the load here was.

Run: ``python benchmarks/demo_bench.py [--runs 3] [--fast]``
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Make orphaned descendants re-parent to this process (Linux only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def reap_all() -> None:
    """Wait for every descendant (re-parented orphans included) to end."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def children_cpu() -> float:
    """User + system seconds of all reaped descendants so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _descendant_states(root: int) -> list[str]:
    """Scheduler states (R, S, D, ...) of every process below ``root``."""
    parents: dict[int, int] = {}
    states: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        states[int(entry.name)], parents[int(entry.name)] = fields[0], int(fields[1])
    below: list[str] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        for child, parent in parents.items():
            if parent == pid:
                below.append(states[child])
                todo.append(child)
    return below


class AsleepMeter:
    """Samples the demo's process tree: the seconds during which none of its processes
    was runnable (all waiting on timers, pipes or disk). On a busy machine the wall time
    also holds time spent waiting for a CPU; this does not, so it shows the waiting that
    an idle machine would still see."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.asleep_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> AsleepMeter:
        self._thread.start()
        return self

    def _run(self) -> None:
        me = os.getpid()
        last = time.perf_counter()
        while not self._stop.wait(self.interval_s):
            now = time.perf_counter()
            states = _descendant_states(me)
            if states and "R" not in states:
                self.asleep_s += now - last
            last = now

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def one_run(fast: bool) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, seconds asleep, exit code) of one demo."""
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as tmp:
        env = dict(os.environ, OPENINTERN_DATA_DIR=str(Path(tmp) / "data"),
                   OPENINTERN_CONFIG=str(Path(tmp) / "none.toml"))
        argv = [sys.executable, "-m", "openintern.cli", "demo",
                "--workspace", str(Path(tmp) / "ws"), *(["--fast"] if fast else [])]
        cpu_before = children_cpu()
        start = time.perf_counter()
        with AsleepMeter() as meter:
            process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            code = process.wait()
            wall = time.perf_counter() - start
        reap_all()  # the jobs' launchers finished before the demo did; collect their time
        return wall, children_cpu() - cpu_before, meter.asleep_s, code


def main() -> int:
    """Print a table of the runs and their medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fast", action="store_true", help="the demo's --fast (3 seeds)")
    args = parser.parse_args()
    become_subreaper()
    console = Console()
    table = Table(title=f"intern demo{' --fast' if args.fast else ''}: wall vs CPU "
                  f"({os.cpu_count()} cores)")
    for column in ("run", "wall s", "CPU s", "wall / CPU", "asleep s",
                   "idle bound (CPU + asleep) / CPU", "load (1 min) before", "exit"):
        table.add_column(column, justify="right")
    walls: list[float] = []
    cpus: list[float] = []
    sleeps: list[float] = []
    failed = False
    for i in range(args.runs):
        load = os.getloadavg()[0]
        wall, cpu, asleep, code = one_run(args.fast)
        walls.append(wall)
        cpus.append(cpu)
        sleeps.append(asleep)
        failed = failed or code != 0
        table.add_row(str(i + 1), f"{wall:.1f}", f"{cpu:.1f}", f"{wall / cpu:.2f}",
                      f"{asleep:.1f}", f"{(cpu + asleep) / cpu:.2f}", f"{load:.2f}", str(code))
    wall_m, cpu_m = statistics.median(walls), statistics.median(cpus)
    asleep_m = statistics.median(sleeps)
    table.add_row("median", f"{wall_m:.1f}", f"{cpu_m:.1f}", f"{wall_m / cpu_m:.2f}",
                  f"{asleep_m:.1f}", f"{(cpu_m + asleep_m) / cpu_m:.2f}", "", "", style="bold")
    console.print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
