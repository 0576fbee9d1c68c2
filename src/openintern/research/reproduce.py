"""Re-run an experiment from its code snapshot, config and seed, and compare results."""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from openintern.compute.base import JobBackend
from openintern.research.ledger import Ledger, LedgerError
from openintern.research.runner import launch, wait_until_done
from openintern.research.snapshot import restore_snapshot


@dataclass
class ReproduceResult:
    """Outcome of a reproduction: the new run, and per-metric (original, reproduced)."""

    original_id: str
    reproduction_id: str
    status: str
    matched: bool
    compared: dict[str, tuple[float, float]] = field(default_factory=dict)
    mismatched: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One paragraph for a person or the model."""
        if self.status != "succeeded":
            return (f"Reproduction {self.reproduction_id} of {self.original_id} ended "
                    f"{self.status}; nothing to compare.")
        verdict = "matches" if self.matched else "does NOT match"
        parts = [f"{k}: {a:.6g} vs {b:.6g}" for k, (a, b) in self.compared.items()]
        return (f"Reproduction {self.reproduction_id} {verdict} {self.original_id} "
                f"({'; '.join(parts) or 'no metrics'})"
                + (f"; differs on {', '.join(self.mismatched)}" if self.mismatched else ""))


def _close(a: float, b: float, rtol: float, atol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= atol + rtol * abs(a)


async def reproduce(ledger: Ledger, exp_id: str, backends: Mapping[str, JobBackend], *,
                    rtol: float = 1e-6, atol: float = 1e-9, timeout_s: float = 3600.0,
                    backend_name: str | None = None) -> ReproduceResult:
    """Re-run ``exp_id`` from its snapshot (in ``.openintern/repro/<new id>/``) with the
    same command, config and seed on the same backend (or ``backend_name``), wait for it,
    and compare every final metric within ``rtol``/``atol``."""
    original = ledger.get(exp_id)
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
    compared: dict[str, tuple[float, float]] = {}
    mismatched: list[str] = []
    for key, value in original.final_metrics.items():
        new = done.final_metrics.get(key)
        if new is None:
            mismatched.append(key)
            continue
        compared[key] = (value, new)
        if not _close(value, new, rtol, atol):
            mismatched.append(key)
    matched = done.status == "succeeded" and not mismatched
    return ReproduceResult(original.id, done.id, done.status, matched, compared, mismatched)
