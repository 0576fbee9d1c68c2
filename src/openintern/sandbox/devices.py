"""GPU device nodes a GPU job needs inside the sandbox (and nothing else of ``/dev``)."""

from __future__ import annotations

import contextlib
import stat
from pathlib import Path


def gpu_device_nodes(dev: Path = Path("/dev")) -> list[Path]:
    """The NVIDIA device nodes present: ``/dev/nvidia0..N``, ``nvidiactl``,
    ``nvidia-uvm``, ``nvidia-uvm-tools``, ``nvidia-modeset`` and the ``nvidia-caps``
    folder (MIG capabilities). Character devices and that folder only."""
    found: list[Path] = []
    with contextlib.suppress(OSError):
        for path in sorted(dev.glob("nvidia*")):
            with contextlib.suppress(OSError):
                mode = path.stat().st_mode
                if stat.S_ISCHR(mode) or (path.name == "nvidia-caps" and stat.S_ISDIR(mode)):
                    found.append(path)
    return found
