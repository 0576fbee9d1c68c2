"""The Jinja2 templates shipped in the package (autoescaped), shared by all pages, with
the filters they use for times and durations."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def when(ts: float | None) -> str:
    """A timestamp as local ``MM-DD HH:MM:SS`` ("" for none)."""
    return time.strftime("%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""


def duration(start: float | None, end: float | None) -> str:
    """``end - start`` as ``1 h 02 min``, ``3 min 05 s`` or ``4.2 s`` (running: until now)."""
    if not start:
        return ""
    seconds = (end or time.time()) - start
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{seconds:.1f} s"


templates.env.filters["when"] = when
templates.env.globals["duration"] = duration
