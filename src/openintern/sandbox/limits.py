"""Resource limits for one command or one job: processes, memory, CPU time.

Enforced, in order of preference, through

- a cgroup v2 child of a cgroup we may manage (``cgroup_root`` from the settings, or our
  own cgroup when it delegates ``memory`` and ``pids``, e.g. as root on a v2 machine);
- cgroup v1 children of our own cgroups in the ``pids`` and ``memory`` hierarchies (as
  root where those are mounted writable);
- otherwise rlimits: ``RLIMIT_NPROC`` (processes, not enforced for root) and
  ``RLIMIT_AS`` (address space, an approximation of memory; skipped for GPU jobs, whose
  drivers reserve far more address space than they use).

CPU time is always ``RLIMIT_CPU`` (per process). A small bash wrapper puts itself into the
cgroups and sets the rlimits *before* it execs the sandbox, so no process of the command
ever runs outside its limits. After the command, :meth:`LimitScope.reached` says which
limit was hit, in words the model can act on. Standard library only: the detached job
launcher uses this module too.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import signal
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from openintern.machine import CGROUP_MOUNT, own_cgroups

_SIGXCPU_EXIT = 128 + signal.SIGXCPU
_MEMORY_ERRORS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc",
                  "out of memory")
_FORK_ERRORS = ("fork: retry", "Resource temporarily unavailable", "can't fork",
                "BlockingIOError: [Errno 11]")


def format_bytes(n: int) -> str:
    """``8 GiB``, ``512 MiB``: how limits are shown to people and to the model."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"


@dataclass(frozen=True)
class ResourceLimits:
    """What one command or job may use (None: no limit of that kind)."""

    max_processes: int | None = None
    max_memory_bytes: int | None = None
    max_cpu_s: int | None = None

    def to_json(self) -> dict[str, Any]:
        """For a job spec."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ResourceLimits:
        """From a job spec (missing keys: no limit)."""
        data = data or {}
        return cls(**{k: (int(v) if v is not None else None) for k, v in data.items()
                      if k in ("max_processes", "max_memory_bytes", "max_cpu_s")})

    def describe(self) -> str:
        """One line for ``intern config`` and logs."""
        parts = []
        if self.max_processes:
            parts.append(f"{self.max_processes} processes")
        if self.max_memory_bytes:
            parts.append(f"{format_bytes(self.max_memory_bytes)} memory")
        if self.max_cpu_s:
            parts.append(f"{self.max_cpu_s} s CPU per process")
        return ", ".join(parts) or "none"


# --- where cgroups can be managed -------------------------------------------------------

Mechanism = Literal["cgroup2", "cgroup1", "rlimit"]


@dataclass(frozen=True)
class CgroupSupport:
    """Where child cgroups can be made: one v2 directory, or one per v1 controller."""

    version: Literal[1, 2]
    bases: dict[str, Path]  # controller ("pids", "memory") -> directory (v2: same for both)


def _v2_usable(base: Path) -> bool:
    """Whether children of ``base`` can get memory and pids limits (enabling them when
    allowed; a cgroup holding processes other than the root refuses that)."""
    try:
        available = (base / "cgroup.controllers").read_text().split()
        if not {"memory", "pids"} <= set(available):
            return False
        enabled = set((base / "cgroup.subtree_control").read_text().split())
        if not {"memory", "pids"} <= enabled:
            (base / "cgroup.subtree_control").write_text("+memory +pids")
        probe = base / f"openintern-probe-{uuid.uuid4().hex[:8]}"
        probe.mkdir()
        ok = (probe / "memory.max").exists() and (probe / "pids.max").exists()
        probe.rmdir()
        return ok
    except OSError:
        return False


def _v1_base(controller: str) -> Path | None:
    mount = CGROUP_MOUNT / controller
    for _, controllers, path in own_cgroups():
        if controller in controllers.split(","):
            base = mount / path.lstrip("/")
            probe = base / f"openintern-probe-{uuid.uuid4().hex[:8]}"
            try:
                probe.mkdir()
                probe.rmdir()
            except OSError:
                return None
            return base
    return None


@functools.cache
def cgroup_support(cgroup_root: str | None = None) -> CgroupSupport | None:
    """The cgroups this process may manage (cached; a probe makes and removes a child)."""
    candidates: list[Path] = []
    if cgroup_root:
        candidates.append(Path(cgroup_root))
    if (CGROUP_MOUNT / "cgroup.controllers").exists():  # the unified (v2) hierarchy
        for hierarchy, _, path in own_cgroups():
            if hierarchy == "0":
                candidates.append(CGROUP_MOUNT / path.lstrip("/"))
    for base in candidates:
        if _v2_usable(base):
            return CgroupSupport(2, {"pids": base, "memory": base})
    bases = {c: b for c in ("pids", "memory") if (b := _v1_base(c)) is not None}
    if bases:
        return CgroupSupport(1, bases)
    return None


def mechanism(cgroup_root: str | None = None) -> Mechanism:
    """How limits are enforced on this machine, for ``intern config`` and the docs."""
    support = cgroup_support(cgroup_root)
    if support is None:
        return "rlimit"
    return "cgroup2" if support.version == 2 else "cgroup1"


# --- one command or job -----------------------------------------------------------------


def _read_counter(path: Path, key: str) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


class LimitScope:
    """The limits of one command or job: its cgroups (if any) and rlimits.

    ``wrapper()`` is the argv prefix that enters them; ``reached(...)`` the sentences for
    limits that were hit; ``close()`` kills what is left and removes the cgroups.
    """

    def __init__(self, limits: ResourceLimits, *, cgroup_root: str | None = None,
                 gpu: bool = False, label: str = "cmd") -> None:
        self.limits = limits
        self.gpu = gpu
        self.support = cgroup_support(cgroup_root) if _wants_cgroup(limits) else None
        self.dirs: dict[str, Path] = {}
        name = f"openintern-{label}-{uuid.uuid4().hex[:12]}"
        if self.support is not None:
            try:
                self._make(name)
            except OSError:
                self.close()
                self.support = None
                self.dirs = {}

    @property
    def mechanism(self) -> Mechanism:
        """What enforces processes and memory for this scope."""
        if self.support is None:
            return "rlimit"
        return "cgroup2" if self.support.version == 2 else "cgroup1"

    def _make(self, name: str) -> None:
        assert self.support is not None
        limits = self.limits
        if self.support.version == 2:
            directory = self.support.bases["memory"] / name
            directory.mkdir()
            self.dirs = {"pids": directory, "memory": directory}
            if limits.max_processes:
                (directory / "pids.max").write_text(str(limits.max_processes))
            if limits.max_memory_bytes:
                (directory / "memory.max").write_text(str(limits.max_memory_bytes))
                with contextlib.suppress(OSError):  # no swapping past the limit either
                    (directory / "memory.swap.max").write_text("0")
            return
        for controller, base in self.support.bases.items():
            directory = base / name
            directory.mkdir()
            self.dirs[controller] = directory
        if limits.max_processes and "pids" in self.dirs:
            (self.dirs["pids"] / "pids.max").write_text(str(limits.max_processes))
        if limits.max_memory_bytes and "memory" in self.dirs:
            memory = self.dirs["memory"]
            (memory / "memory.limit_in_bytes").write_text(str(limits.max_memory_bytes))
            with contextlib.suppress(OSError):  # only where swap accounting is on
                (memory / "memory.memsw.limit_in_bytes").write_text(
                    str(limits.max_memory_bytes))

    def _covered(self, controller: str) -> bool:
        return controller in self.dirs

    def wrapper(self) -> list[str]:
        """The argv prefix that puts the command into its cgroups and rlimits (empty when
        there is nothing to enforce)."""
        steps: list[str] = []
        for directory in dict.fromkeys(self.dirs.values()):
            procs = shlex.quote(str(directory / "cgroup.procs"))
            steps.append(f"echo $$ > {procs} || exit 125")
        limits = self.limits
        shell = "/bin/sh"  # starts faster than bash; -t and -v mean the same in both
        if limits.max_cpu_s:
            steps.append(f"ulimit -t {int(limits.max_cpu_s)}")
        if limits.max_processes and not self._covered("pids") and os.geteuid() != 0:
            shell = "/bin/bash"  # the process limit is -u in bash, -p in dash
            steps.append(f"ulimit -u {int(limits.max_processes)} 2>/dev/null")
        if limits.max_memory_bytes and not self._covered("memory") and not self.gpu:
            steps.append(f"ulimit -v {int(limits.max_memory_bytes) // 1024} 2>/dev/null")
        if not steps:
            return []
        script = "; ".join(steps) + '; exec "$@"'
        return [shell, "-c", script, "openintern-limits"]

    def reached(self, *, exit_code: int | None, output: str = "") -> list[str]:
        """Sentences naming each limit the command hit (empty: none was)."""
        found: list[str] = []
        limits = self.limits
        if limits.max_processes:
            hit = False
            if "pids" in self.dirs:
                hit = _read_counter(self.dirs["pids"] / "pids.events", "max") > 0
            elif os.geteuid() != 0:
                hit = any(marker in output for marker in _FORK_ERRORS)
            if hit:
                found.append(
                    f"process limit {limits.max_processes} reached: starting more processes "
                    "or threads failed. Use fewer workers/threads, or ask the user to raise "
                    "sandbox_max_processes.")
        if limits.max_memory_bytes:
            shown = format_bytes(limits.max_memory_bytes)
            if "memory" in self.dirs:
                events = (self.dirs["memory"] / "memory.events"
                          if self.support is not None and self.support.version == 2
                          else self.dirs["memory"] / "memory.oom_control")
                if _read_counter(events, "oom_kill") > 0:
                    found.append(
                        f"memory limit {shown} reached: the kernel killed a process that "
                        "needed more (out of memory). Use less memory (smaller batches, "
                        "streaming, a smaller model), or ask the user to raise "
                        "sandbox_max_memory_mib.")
            elif not self.gpu and any(marker in output for marker in _MEMORY_ERRORS):
                found.append(
                    f"memory limit {shown} (address space) was probably reached: an "
                    "allocation failed. Use less memory, or ask the user to raise "
                    "sandbox_max_memory_mib.")
        if limits.max_cpu_s and (exit_code in (_SIGXCPU_EXIT, -signal.SIGXCPU)
                                 or "CPU time limit exceeded" in output):
            found.append(
                f"CPU time limit {limits.max_cpu_s} s per process reached: the process was "
                "stopped. Make it cheaper, or ask the user to raise sandbox_max_cpu_s.")
        return found

    def peak_processes(self) -> int | None:
        """The most processes the scope held at once (cgroups with ``pids.peak`` only)."""
        if "pids" not in self.dirs:
            return None
        for name in ("pids.peak",):
            with contextlib.suppress(OSError, ValueError):
                return int((self.dirs["pids"] / name).read_text().strip())
        return None

    def close(self) -> None:
        """Kill whatever is left in the cgroups and remove them."""
        for directory in dict.fromkeys(self.dirs.values()):
            _kill_cgroup(directory)
            for _ in range(50):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)  # processes are still exiting
        self.dirs = {}


def _wants_cgroup(limits: ResourceLimits) -> bool:
    return bool(limits.max_processes or limits.max_memory_bytes)


def _kill_cgroup(directory: Path) -> None:
    kill = directory / "cgroup.kill"
    if kill.exists():
        with contextlib.suppress(OSError):
            kill.write_text("1")
            return
    for _ in range(5):
        try:
            pids = [int(p) for p in (directory / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
