"""The experiment ledger: declare, start, ingest metrics, finish, conclude.

Backed by the session store (same database, same redaction). Every method is a short
synchronous unit of work; async callers run the heavier ones in a worker thread.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update

from openintern.compute.metrics import MetricPoint
from openintern.research.models import ExperimentRow, MetricPointRow
from openintern.store.engine import create_tables
from openintern.store.session_store import Store

# Metric names where lower is better (for "best" values).
_LOWER_IS_BETTER = ("loss", "err", "perplexity", "ppl", "mse", "mae", "rmse", "wer", "cer")


class LedgerError(RuntimeError):
    """A ledger request cannot be served (unknown id, bad state); says what to do."""


class UnknownExperimentError(LedgerError):
    """No experiment has this id (or id prefix). The message speaks to the agent; other
    interfaces (the CLI) use ``exp_id`` to say it their way."""

    def __init__(self, exp_id: str) -> None:
        super().__init__(f"no experiment {exp_id!r}; `experiment operation=status` lists them")
        self.exp_id = exp_id


def lower_is_better(metric: str) -> bool:
    """Whether smaller values of ``metric`` are better, judged by its name."""
    name = metric.lower()
    return any(token in name for token in _LOWER_IS_BETTER)


def config_key(config: dict[str, Any]) -> str:
    """Canonical JSON of a configuration without its seed (groups repeated seeds)."""
    clean = {k: v for k, v in config.items() if k != "seed"}
    return json.dumps(clean, sort_keys=True, default=str)


@dataclass
class ExperimentRecord:
    """A read-only view of one experiment."""

    id: str
    session_id: str
    name: str
    hypothesis: str
    command: str
    workdir: str
    config: dict[str, Any]
    config_key: str
    seed: int | None
    parent_id: str | None
    sweep_id: str | None
    primary_metric: str | None
    mode: str
    status: str
    status_detail: str
    backend: str | None
    job_id: str | None
    code_hash: str | None
    snapshot_path: str | None
    data_paths: list[str]
    data_fingerprint: dict[str, Any]
    created_at: float
    started_at: float | None
    ended_at: float | None
    cost_usd: float
    final_metrics: dict[str, float]
    best_metrics: dict[str, float]
    artifacts: list[str]
    alerts: list[str]
    alert_rules: list[dict[str, Any]] | None
    conclusion: str
    is_best: bool
    reproduces: str | None
    stream_state: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """Whether the run has finished (in any way)."""
        return self.status in ("succeeded", "failed", "cancelled", "timeout")

    def metric(self, name: str | None = None) -> float | None:
        """The final value of ``name`` (default: the primary metric)."""
        key = name or self.primary_metric
        if key is None:
            return None
        return self.final_metrics.get(key)


def _record(row: ExperimentRow) -> ExperimentRecord:
    return ExperimentRecord(
        id=row.id, session_id=row.session_id, name=row.name, hypothesis=row.hypothesis,
        command=row.command, workdir=row.workdir, config=dict(row.config or {}),
        config_key=row.config_key, seed=row.seed, parent_id=row.parent_id,
        sweep_id=row.sweep_id, primary_metric=row.primary_metric, mode=row.mode,
        status=row.status, status_detail=row.status_detail, backend=row.backend,
        job_id=row.job_id, code_hash=row.code_hash, snapshot_path=row.snapshot_path,
        data_paths=list(row.data_paths or []), data_fingerprint=dict(row.data_fingerprint or {}),
        created_at=row.created_at, started_at=row.started_at, ended_at=row.ended_at,
        cost_usd=row.cost_usd, final_metrics=dict(row.final_metrics or {}),
        best_metrics=dict(row.best_metrics or {}), artifacts=list(row.artifacts or []),
        alerts=list(row.alerts or []), alert_rules=row.alert_rules, conclusion=row.conclusion,
        is_best=row.is_best, reproduces=row.reproduces,
        stream_state=dict(row.stream_state or {}),
    )


class Ledger:
    """Experiments and their metric series, stored in the session store's database."""

    def __init__(self, store: Store) -> None:
        # Importing the package registered the tables; make sure they exist in this DB
        # even if the store was created before the import.
        from openintern.store.models import Base

        self.store = store
        create_tables(Base.metadata, store.engine)

    # --- create and read ---------------------------------------------------------------
    def declare(
        self, *, session_id: str, name: str, command: str, hypothesis: str = "",
        config: dict[str, Any] | None = None, seed: int | None = None,
        parent_id: str | None = None, sweep_id: str | None = None, workdir: str = "",
        data_paths: list[str] | None = None, primary_metric: str | None = None,
        mode: str | None = None, alert_rules: list[dict[str, Any]] | None = None,
        reproduces: str | None = None,
    ) -> ExperimentRecord:
        """Record a planned experiment (not started yet)."""
        red = self.store.redactor
        if parent_id is not None:
            parent_id = self.get(parent_id).id
        cfg = red.deep(dict(config or {}))
        if mode is None:
            mode = "min" if primary_metric and lower_is_better(primary_metric) else "max"
        if mode not in ("min", "max"):
            raise LedgerError(f"mode must be 'min' or 'max', not {mode!r}")
        row = ExperimentRow(
            id=uuid.uuid4().hex[:10], session_id=session_id, name=red.text(name),
            hypothesis=red.text(hypothesis), command=red.text(command), workdir=workdir,
            config=cfg, config_key=config_key(cfg), seed=seed, parent_id=parent_id,
            sweep_id=sweep_id, data_paths=list(data_paths or []),
            primary_metric=primary_metric, mode=mode, alert_rules=alert_rules,
            reproduces=reproduces, status="declared", created_at=time.time(),
        )
        with self.store.db() as db:
            db.add(row)
            db.flush()
            return _record(row)

    def get(self, exp_id: str) -> ExperimentRecord:
        """One experiment by id or unique id prefix."""
        with self.store.db() as db:
            rows = db.scalars(
                select(ExperimentRow).where(ExperimentRow.id.startswith(exp_id)).limit(2)
            ).all()
            if not rows:
                raise UnknownExperimentError(exp_id)
            if len(rows) > 1:
                raise LedgerError(f"{exp_id!r} matches several experiments; give the full id")
            return _record(rows[0])

    def experiments(self, session_id: str | None = None, *, sweep_id: str | None = None,
             ids: list[str] | None = None, limit: int | None = None) -> list[ExperimentRecord]:
        """Experiments, oldest first, filtered by session, sweep or ids."""
        query = select(ExperimentRow).order_by(ExperimentRow.created_at, ExperimentRow.id)
        if session_id is not None:
            query = query.where(ExperimentRow.session_id == session_id)
        if sweep_id is not None:
            query = query.where(ExperimentRow.sweep_id == sweep_id)
        if ids is not None:
            query = query.where(ExperimentRow.id.in_(ids))
        with self.store.db() as db:
            rows = [_record(r) for r in db.scalars(query).all()]
        return rows[-limit:] if limit else rows

    def find_by_job(self, backend: str, job_id: str) -> ExperimentRecord | None:
        """The experiment run by this job, if any."""
        with self.store.db() as db:
            row = db.scalars(select(ExperimentRow).where(
                ExperimentRow.backend == backend, ExperimentRow.job_id == job_id)).first()
            return _record(row) if row else None

    # --- lifecycle ---------------------------------------------------------------------
    def _update(self, exp_id: str, **values: Any) -> None:
        with self.store.db() as db:
            db.execute(update(ExperimentRow).where(ExperimentRow.id == exp_id).values(**values))

    def mark_submitted(self, exp_id: str, *, backend: str, job_id: str,
                       code_hash: str | None, snapshot_path: str | None,
                       snapshot_files: list[str], data_fingerprint: dict[str, Any]) -> None:
        """Record where and with what code/data the experiment runs."""
        self._update(exp_id, backend=backend, job_id=job_id, code_hash=code_hash,
                     snapshot_path=snapshot_path, snapshot_files=snapshot_files,
                     data_fingerprint=data_fingerprint, status="queued")

    def set_status(self, exp_id: str, status: str, *, detail: str | None = None,
                   started_at: float | None = None, ended_at: float | None = None,
                   cost_usd: float | None = None) -> None:
        """Update the run state (and times, detail, cost when given)."""
        values: dict[str, Any] = {"status": status}
        if detail is not None:
            values["status_detail"] = self.store.redactor.text(detail)[-4000:]
        if started_at is not None:
            values["started_at"] = started_at
        if ended_at is not None:
            values["ended_at"] = ended_at
        if cost_usd is not None:
            values["cost_usd"] = cost_usd
        self._update(exp_id, **values)

    def add_alert(self, exp_id: str, message: str) -> None:
        """Append an alert message to the experiment."""
        with self.store.db() as db:
            row = db.get(ExperimentRow, exp_id)
            if row is not None and message not in (row.alerts or []):
                row.alerts = [*(row.alerts or []), self.store.redactor.text(message)]

    def add_artifacts(self, exp_id: str, paths: list[str]) -> None:
        """Record artifact paths produced by the run."""
        with self.store.db() as db:
            row = db.get(ExperimentRow, exp_id)
            if row is not None:
                row.artifacts = sorted({*(row.artifacts or []), *paths})

    def conclude(self, exp_id: str, conclusion: str, *, best: bool = False) -> ExperimentRecord:
        """Write the conclusion; ``best`` marks it the session's best (unmarking others)."""
        record = self.get(exp_id)
        with self.store.db() as db:
            if best:
                db.execute(update(ExperimentRow)
                           .where(ExperimentRow.session_id == record.session_id)
                           .values(is_best=False))
            row = db.get(ExperimentRow, record.id)
            assert row is not None
            row.conclusion = self.store.redactor.text(conclusion)
            if best:
                row.is_best = True
        return self.get(record.id)

    # --- metrics -----------------------------------------------------------------------
    def add_points(self, exp_id: str, points: list[MetricPoint],
                   stream_state: dict[str, Any]) -> None:
        """Append points and the new reading positions in one transaction (so a crash
        never double-counts), updating final (latest step) and best values."""
        with self.store.db() as db:
            row = db.get(ExperimentRow, exp_id)
            if row is None:
                raise LedgerError(f"no experiment {exp_id!r}")
            state = dict(stream_state)
            steps: dict[str, int] = dict((row.stream_state or {}).get("_final_steps", {}))
            final = dict(row.final_metrics or {})
            best = dict(row.best_metrics or {})
            if points:
                db.execute(insert(MetricPointRow), [
                    {"experiment_id": exp_id, "step": p.step, "name": p.name,
                     "value": p.value if math.isfinite(p.value) else None,
                     "special": None if math.isfinite(p.value) else repr(p.value),
                     "ts": p.ts}
                    for p in points
                ])
            for p in points:
                if p.step >= steps.get(p.name, -(2**62)):
                    steps[p.name] = p.step
                    final[p.name] = p.value
                if math.isfinite(p.value):
                    old = best.get(p.name)
                    better = (old is None or (p.value < old if lower_is_better(p.name)
                                              else p.value > old))
                    if better:
                        best[p.name] = p.value
            state["_final_steps"] = steps
            row.stream_state = state
            row.final_metrics = final
            row.best_metrics = best

    def series(self, exp_id: str, name: str | None = None) -> list[MetricPoint]:
        """The stored points of one experiment (one metric, or all), by step."""
        query = select(MetricPointRow).where(MetricPointRow.experiment_id == exp_id)
        if name is not None:
            query = query.where(MetricPointRow.name == name)
        query = query.order_by(MetricPointRow.step, MetricPointRow.id)
        with self.store.db() as db:
            return [
                MetricPoint(r.step, r.name,
                            r.value if r.value is not None else float(r.special or "nan"),
                            r.ts)
                for r in db.scalars(query).all()
            ]
