"""What this machine offers: cores and memory (the limit of our own cgroup included).

Contracts level (standard library only): settings size their defaults with it, and the
sandbox's limits module and the detached job launcher use it too.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CGROUP_MOUNT = Path("/sys/fs/cgroup")


def own_cgroups() -> list[tuple[str, str, str]]:
    """``(hierarchy id, controllers, path)`` for each line of ``/proc/self/cgroup``."""
    try:
        text = Path("/proc/self/cgroup").read_text()
    except OSError:
        return []
    lines = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            lines.append((parts[0], parts[1], parts[2]))
    return lines


def _own_memory_limit_files() -> list[Path]:
    files = []
    for _, controllers, path in own_cgroups():
        rel = path.lstrip("/")
        if controllers == "":
            files.append(CGROUP_MOUNT / rel / "memory.max")
        elif "memory" in controllers.split(","):
            files.append(CGROUP_MOUNT / "memory" / rel / "memory.limit_in_bytes")
    return files


def memory_bytes() -> int:
    """Physical memory, or the memory limit of our own cgroup when that is lower."""
    total = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) * 1024
                break
    for limit_file in _own_memory_limit_files():
        with contextlib.suppress(OSError, ValueError):
            raw = limit_file.read_text().strip()
            if raw != "max" and 0 < int(raw) < (total or 1 << 62):
                total = int(raw)
    return total or 4 << 30


def cores() -> int:
    """CPU cores this process may use."""
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def default_max_processes() -> int:
    """Processes (threads count too) per command or job: 128 per core, 1024 to 16384."""
    return max(1024, min(16384, 128 * cores()))


def default_max_memory_mib() -> int:
    """Memory per command or job: three quarters of the machine's (or our cgroup's)."""
    return max(256, int(memory_bytes() * 0.75) >> 20)
