"""Re-run an experiment from its code snapshot, config and seed, and compare results."""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openintern.compute.base import JobBackend
from openintern.research.ledger import Ledger, LedgerError
from openintern.research.runner import launch, wait_until_done
from openintern.research.snapshot import restore_snapshot

# Metrics that measure the machine, not the experiment: a re-run on the same code, config
# and seed is expected to differ on these, so they are shown but never judged.
_TIMING = re.compile(
    r"(^|[_./-])(seconds?|secs?|time|times|duration|elapsed|runtime|wall|latency|ms|s)"
    r"($|[_./-])|per_?sec|per_?second|/s$|throughput|samples_per|steps_per|tokens_per|it/s",
    re.IGNORECASE,
)


def is_timing_metric(name: str) -> bool:
    """Whether ``name`` is a timing or throughput metric (``fit_seconds``, ``step_time``,
    ``duration``, ``train_runtime``, ``tokens/s``, ``samples_per_second`` ...)."""
    return bool(_TIMING.search(name))


@dataclass(frozen=True)
class Tolerance:
    """Two values agree when ``|new - old| <= atol + rtol * |old|``."""

    rtol: float = 1e-6
    atol: float = 1e-9

    def close(self, old: float, new: float) -> bool:
        """Whether ``new`` reproduces ``old``."""
        if math.isnan(old) or math.isnan(new):
            return math.isnan(old) and math.isnan(new)
        return abs(new - old) <= self.atol + self.rtol * abs(old)

    def describe(self) -> str:
        """The rule in words, with its numbers."""
        return f"|new - old| <= atol + rtol * |old| with rtol={self.rtol:g}, atol={self.atol:g}"


@dataclass
class ReproduceResult:
    """Outcome of a reproduction: the new run, the judged metrics (original, reproduced),
    the other non-timing metrics and the timing metrics (informational)."""

    original_id: str
    reproduction_id: str
    status: str
    matched: bool
    compared: dict[str, tuple[float, float]] = field(default_factory=dict)
    mismatched: list[str] = field(default_factory=list)
    tolerance: Tolerance = field(default_factory=Tolerance)
    other: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    timing: dict[str, tuple[float, float | None]] = field(default_factory=dict)

    def summary(self) -> str:
        """A few lines for a person or the model: verdict, rule, judged and other metrics."""
        if self.status != "succeeded":
            return (f"Reproduction {self.reproduction_id} of {self.original_id} ended "
                    f"{self.status}; nothing to compare.")
        verdict = "matches" if self.matched else "does NOT match"

        def pair(old: float, new: float | None) -> str:
            return f"{old:.6g} -> {'missing' if new is None else f'{new:.6g}'}"

        absent = [k for k in self.mismatched if k not in self.compared]
        judged = [f"{k}: {pair(a, b)}" + (" (differs)" if k in self.mismatched else "")
                  for k, (a, b) in self.compared.items()]
        judged += [f"{k}: missing (differs)" for k in absent]
        names = ", ".join([*self.compared, *absent]) or "no metric"
        lines = [f"Reproduction {self.reproduction_id} {verdict} {self.original_id} on {names}.",
                 f"Tolerance: {self.tolerance.describe()}.",
                 "Compared: " + ("; ".join(judged) or "no metrics")]
        if self.other:
            lines.append("Other metrics (not judged): "
                         + "; ".join(f"{k}: {pair(a, b)}" for k, (a, b) in self.other.items()))
        if self.timing:
            lines.append("Timing metrics (informational, expected to vary): "
                         + "; ".join(f"{k}: {pair(a, b)}" for k, (a, b) in self.timing.items()))
        return "\n".join(lines)


def judged_metrics(final: Mapping[str, float], primary: str | None,
                   chosen: Sequence[str] = ()) -> list[str]:
    """The metrics a reproduction must match: ``chosen`` if given, else the primary
    (target) metric if the run reported it, else every non-timing metric."""
    if chosen:
        return list(chosen)
    if primary and primary in final:
        return [primary]
    return [k for k in final if not is_timing_metric(k)]


def compare_metrics(original: Mapping[str, float], new: Mapping[str, float],
                    judged: Sequence[str], tolerance: Tolerance
                    ) -> tuple[dict[str, tuple[float, float]], list[str],
                               dict[str, tuple[float, float | None]],
                               dict[str, tuple[float, float | None]]]:
    """(compared, mismatched, other, timing) for two runs' final metrics."""
    compared: dict[str, tuple[float, float]] = {}
    mismatched: list[str] = []
    for key in judged:
        value = new.get(key)
        if key not in original or value is None:
            mismatched.append(key)
            continue
        compared[key] = (original[key], value)
        if not tolerance.close(original[key], value):
            mismatched.append(key)
    rest = {k: (v, new.get(k)) for k, v in original.items() if k not in judged}
    timing = {k: pair for k, pair in rest.items() if is_timing_metric(k)}
    other = {k: pair for k, pair in rest.items() if k not in timing}
    return compared, mismatched, other, timing


async def reproduce(ledger: Ledger, exp_id: str, backends: Mapping[str, JobBackend], *,
                    rtol: float = 1e-6, atol: float = 1e-9, timeout_s: float = 3600.0,
                    backend_name: str | None = None,
                    metrics: Sequence[str] = ()) -> ReproduceResult:
    """Re-run ``exp_id`` from its snapshot (in ``.openintern/repro/<new id>/``) with the
    same command, config and seed on the same backend (or ``backend_name``), wait for it,
    and compare the judged metrics (``metrics``, else the primary metric, else every
    non-timing metric) within ``rtol``/``atol``; timing metrics are reported, not judged."""
    original = ledger.get(exp_id)
    tolerance = Tolerance(rtol, atol)
    judged = judged_metrics(original.final_metrics, original.primary_metric, metrics)
    missing = [k for k in judged if k not in original.final_metrics]
    if missing:
        raise LedgerError(f"experiment {original.id} reported no metric "
                          f"{', '.join(map(repr, missing))}; it reported "
                          f"{', '.join(original.final_metrics) or 'none'}")
    if not original.snapshot_path:
        raise LedgerError(f"experiment {original.id} has no code snapshot; it cannot be "
                          "reproduced")
    name = backend_name or original.backend or "local"
    backend = backends.get(name)
    if backend is None:
        raise LedgerError(f"backend {name!r} is not available to reproduce {original.id}")
    snapshot = Path(original.snapshot_path)
    workspace = snapshot.parents[2]  # <workspace>/.openintern/snapshots/<hash>
    clone = ledger.declare(
        session_id=original.session_id, name=f"reproduce {original.name}".strip(),
        command=original.command, hypothesis=f"reproduces {original.id}",
        config=original.config, seed=original.seed, parent_id=original.id,
        data_paths=original.data_paths, primary_metric=original.primary_metric,
        mode=original.mode, alert_rules=original.alert_rules, reproduces=original.id,
    )
    dest = workspace / ".openintern" / "repro" / clone.id
    shutil.rmtree(dest, ignore_errors=True)
    restore_snapshot(snapshot, workspace, dest)
    workdir = dest
    if original.workdir:
        try:
            workdir = dest / Path(original.workdir).relative_to(workspace)
        except ValueError:
            workdir = dest
    with ledger.store.db() as db:
        from openintern.research.models import ExperimentRow

        row = db.get(ExperimentRow, clone.id)
        assert row is not None
        row.workdir = str(workdir)
        row.code_hash = original.code_hash
        row.snapshot_path = original.snapshot_path
    await launch(ledger, clone.id, backend, workspace, snapshot=False)
    done = await wait_until_done(ledger, clone.id, backend, timeout_s=timeout_s)
    compared, mismatched, other, timing = compare_metrics(
        original.final_metrics, done.final_metrics, judged, tolerance)
    matched = done.status == "succeeded" and bool(judged) and not mismatched
    return ReproduceResult(original.id, done.id, done.status, matched, compared, mismatched,
                           tolerance, other, timing)
