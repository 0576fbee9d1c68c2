"""Report metrics from inside a job: ``openintern.track.log(step=…, loss=…)``.

Dependency-free (standard library only) so training code running in the sandbox can import
it from the host's site-packages. Each call appends one JSON line to ``$OPENINTERN_METRICS``;
the runner streams those lines into the experiment ledger. On remote backends (Ray, HF
Jobs) the file stays on the cluster, so there ``$OPENINTERN_METRICS_ECHO=1`` makes each
line go to stdout as well, where the agent reads it back through the job's logs. Outside a
job (the variable is unset) a call warns once and does nothing, so the same script runs
anywhere.
"""

from __future__ import annotations

import json
import os
import time
import warnings

__all__ = ["log"]

_warned = False


def _as_number(name: str, value: object) -> float | None:
    # bool is an int subclass but never a metric; strings like "0.5" are refused so that a
    # caller's bug shows up here instead of as a silent parse in the ledger.
    if isinstance(value, bool) or not isinstance(value, int | float):
        warnings.warn(
            f"openintern.track.log: metric {name!r} is {type(value).__name__}, not a number;"
            " skipped",
            stacklevel=3,
        )
        return None
    return float(value)


def log(step: int | None = None, **metrics: float) -> None:
    """Append ``{"step": step, "ts": now, **metrics}`` to the job's metrics file.

    ``step`` is the training step (or epoch); metrics are numbers (NaN and inf are kept, so
    the runner can raise an alert). Does nothing, with one warning, when not in a job.
    """
    global _warned
    path = os.environ.get("OPENINTERN_METRICS")
    if not path:
        if not _warned:
            warnings.warn(
                "openintern.track.log: OPENINTERN_METRICS is not set (not running as an "
                "openintern job); metrics are not recorded",
                stacklevel=2,
            )
            _warned = True
        return
    record: dict[str, float | int | None] = {"step": step, "ts": time.time()}
    for name, value in metrics.items():
        number = _as_number(name, value)
        if number is not None:
            record[name] = number
    # NaN/Infinity tokens are not strict JSON, but Python's reader (ours) accepts them.
    line = json.dumps(record, allow_nan=True)
    # One write call per line, opened in append mode: concurrent writers never interleave
    # within a line on POSIX for writes this small.
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    if os.environ.get("OPENINTERN_METRICS_ECHO") == "1":
        print(line, flush=True)
