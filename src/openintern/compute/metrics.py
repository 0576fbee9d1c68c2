"""The metric protocol's reader: turn job output into :class:`MetricPoint` values.

Three line formats are recognised:

(a) JSON lines of ``$OPENINTERN_METRICS`` written by :func:`openintern.track.log`;
(b) lines of the job's output that are a JSON object with a ``"step"`` key;
(c) transformers ``Trainer`` log lines, a Python dict repr such as
    ``{'loss': 0.6931, 'grad_norm': 1.2, 'learning_rate': 5e-05, 'epoch': 0.5}``
    (read with a tiny AST walker that accepts only a dict of numbers, never ``eval``).

Anything else is skipped; malformed candidates (truncated JSON, string values such as
``"nan"``) are counted in ``skipped``. Readers are incremental: :class:`MetricStream`
keeps a byte offset so following a file that grows by 1,000 lines per second is cheap.
"""

from __future__ import annotations

import ast
import json
import math
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Keys of a record that are bookkeeping, not metrics.
_RESERVED = frozenset({"step", "ts", "time", "timestamp"})
_NAMED_CONSTANTS = {"nan": math.nan, "inf": math.inf, "NaN": math.nan, "Infinity": math.inf}
# A line longer than this is not a metric record (saves parsing huge log lines).
_MAX_LINE = 20_000


@dataclass(frozen=True)
class MetricPoint:
    """One value of one metric at one step."""

    step: int
    name: str
    value: float
    ts: float


@dataclass
class ParseResult:
    """Points parsed from a chunk of lines and how many candidate lines were skipped."""

    points: list[MetricPoint] = field(default_factory=list)
    skipped: int = 0


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _ast_number(node: ast.expr) -> float | None:
    if isinstance(node, ast.Constant):
        return _number(node.value)
    if isinstance(node, ast.Name) and node.id in _NAMED_CONSTANTS:
        return _NAMED_CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _ast_number(node.operand)
        if inner is None:
            return None
        return -inner if isinstance(node.op, ast.USub) else inner
    return None


def _python_dict_of_numbers(text: str) -> dict[str, float] | None:
    """The dict a Trainer log line shows, or None. Only string keys and numeric values
    (including ``nan``/``inf``) are accepted; any other node makes it None."""
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    body = tree.body
    if not isinstance(body, ast.Dict):
        return None
    out: dict[str, float] = {}
    for key, value in zip(body.keys, body.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return None
        number = _ast_number(value)
        if number is None:
            return None
        out[key.value] = number
    return out


def _step_of(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and math.isfinite(raw):
        return int(raw)
    return None


class LineParser:
    """Parses lines one at a time. ``require_step`` is for output streams: a JSON object
    is only a metric record there when it has a ``"step"`` key (a metrics file needs none:
    lines without a step get the next index). Trainer lines get consecutive steps."""

    def __init__(self, *, require_step: bool, index: int = 0) -> None:
        self.require_step = require_step
        self.index = index  # steps given to records without one

    def parse(self, line: str, now: float | None = None) -> tuple[list[MetricPoint], bool]:
        """Points in ``line`` and whether it was a malformed candidate (to count)."""
        text = line.strip()
        if not text.startswith("{") or len(text) > _MAX_LINE:
            return [], False
        stamp = time.time() if now is None else now
        if text.startswith("{'") or text.startswith("{ '"):
            values = _python_dict_of_numbers(text)
            if values is None:
                return [], True
            self.index += 1
            return [MetricPoint(self.index, k, v, stamp) for k, v in values.items()], False
        try:
            record = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            # A truncated metrics-file line is garbage; a non-JSON brace line in a log
            # (a printed set, a dict with quotes inside) is just output.
            return [], not self.require_step or '"step"' in text
        if not isinstance(record, dict):
            return [], True
        if self.require_step and "step" not in record:
            return [], False
        step = _step_of(record.get("step"))
        if step is None:
            if record.get("step") is not None:
                return [], True
            self.index += 1
            step = self.index
        else:
            self.index = max(self.index, step)
        ts_raw = _number(record.get("ts"))
        ts = ts_raw if ts_raw is not None else stamp
        points: list[MetricPoint] = []
        bad = False
        for name, value in record.items():
            if name in _RESERVED:
                continue
            number = _number(value)
            if number is None:
                bad = True  # e.g. "loss": "nan" — skip the value, keep the rest
                continue
            points.append(MetricPoint(step, str(name), number, ts))
        return points, bad and not points


def parse_lines(lines: list[str], *, require_step: bool) -> ParseResult:
    """Parse a list of lines with a fresh parser."""
    parser = LineParser(require_step=require_step)
    result = ParseResult()
    for line in lines:
        points, bad = parser.parse(line)
        result.points.extend(points)
        result.skipped += int(bad)
    return result


@dataclass
class StreamState:
    """Where a :class:`MetricStream` stopped; stored so a restart resumes without
    re-reading (or double-counting) what was ingested already."""

    offset: int = 0
    index: int = 0
    skipped: int = 0

    def to_dict(self) -> dict[str, int]:
        """Plain data for JSON storage."""
        return {"offset": self.offset, "index": self.index, "skipped": self.skipped}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> StreamState:
        """Inverse of :meth:`to_dict` (missing keys start at zero)."""
        data = data or {}
        return cls(int(data.get("offset", 0)), int(data.get("index", 0)),
                   int(data.get("skipped", 0)))


def read_job_file(path: Path, offset: int, max_bytes: int) -> bytes:
    """Up to ``max_bytes`` of ``path`` from ``offset``; b"" when it is missing or is not a
    plain file. Job code may write next to its metrics file, so a symbolic link (to a
    host file) or a FIFO (which would block the reader) planted there is never read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        handle.seek(offset)
        return handle.read(max_bytes)


class MetricStream:
    """Incremental reader of one growing file (metrics JSONL or an output log)."""

    def __init__(self, path: Path, *, require_step: bool, state: StreamState | None = None):
        self.path = path
        self.state = state or StreamState()
        self._parser = LineParser(require_step=require_step, index=self.state.index)

    def read_new(self, *, final: bool = False, max_bytes: int = 64 << 20) -> list[MetricPoint]:
        """Points from the complete lines appended since the last call. With ``final``
        (the job ended) a last line without a newline is read too. Blocking file I/O:
        call from a worker thread in async code."""
        chunk = read_job_file(self.path, self.state.offset, max_bytes)
        if not chunk:
            return []
        end = chunk.rfind(b"\n")
        if end < 0 and not final:
            return []
        usable = chunk if (final and end < len(chunk) - 1) else chunk[: end + 1]
        self.state.offset += len(usable)
        now = time.time()
        points: list[MetricPoint] = []
        for raw in usable.decode("utf-8", errors="replace").splitlines():
            found, bad = self._parser.parse(raw, now)
            points.extend(found)
            self.state.skipped += int(bad)
        self.state.index = self._parser.index
        return points


@dataclass
class MetricSummary:
    """What the agent reads about one metric: not the series, its shape."""

    name: str
    n: int
    last: float
    last_step: int
    min: float
    max: float


def summarise(points: list[MetricPoint]) -> dict[str, MetricSummary]:
    """Last / min / max / count per metric name (NaN ignored by min and max)."""
    out: dict[str, MetricSummary] = {}
    for p in sorted(points, key=lambda q: (q.step, q.ts)):
        s = out.get(p.name)
        finite = math.isfinite(p.value)
        if s is None:
            out[p.name] = MetricSummary(p.name, 1, p.value, p.step,
                                        p.value if finite else math.inf,
                                        p.value if finite else -math.inf)
            continue
        s.n += 1
        s.last, s.last_step = p.value, p.step
        if finite:
            s.min, s.max = min(s.min, p.value), max(s.max, p.value)
    return out


def format_summary(summary: dict[str, MetricSummary]) -> str:
    """A compact text table of metric summaries for the model."""
    if not summary:
        return "(no metrics reported yet)"
    rows = ["metric | n | last (step) | min | max"]
    for s in summary.values():
        rows.append(
            f"{s.name} | {s.n} | {s.last:.6g} ({s.last_step}) | {s.min:.6g} | {s.max:.6g}"
        )
    return "\n".join(rows)
