"""The cost ledger: every spend of a root session, in the store's database.

Short synchronous units of work (async callers run them in a worker thread). The
accountant writes; ``intern cost``, the web page and the session report read.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update

from openintern.accounting.models import CostEntryRow
from openintern.store import Store


@dataclass
class CostEntry:
    """One row of the ledger (see :class:`~openintern.accounting.models.CostEntryRow`)."""

    root_session_id: str
    kind: str
    session_id: str = ""
    ts: float = field(default_factory=time.time)
    model: str = ""
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    priced: bool = True
    backend: str = ""
    job_id: str = ""
    experiment_id: str = ""
    config_key: str = ""
    gpu_hours: float = 0.0
    cpu_hours: float = 0.0
    status: str = "actual"
    forecast_usd: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


_FIELDS = [name for name in CostEntry.__dataclass_fields__ if name != "id"]


def _entry(row: CostEntryRow) -> CostEntry:
    values = {name: getattr(row, name) for name in _FIELDS}
    values["detail"] = dict(row.detail or {})
    return CostEntry(**values, id=row.id)


@dataclass
class SpendTotals:
    """What a root session has spent so far."""

    usd: float = 0.0  # actual dollars (model calls and finished compute)
    reserved_usd: float = 0.0  # forecasts of compute jobs still running
    tokens: int = 0
    unpriced_tokens: int = 0  # tokens of calls no price was known for
    calls: int = 0

    @property
    def committed_usd(self) -> float:
        """Dollars spent plus dollars committed to running jobs (what a budget sees)."""
        return self.usd + self.reserved_usd


class CostLedger:
    """Cost entries in ``store`` (tables created on first use)."""

    def __init__(self, store: Store) -> None:
        from openintern.store.models import Base

        self.store = store
        Base.metadata.create_all(store.engine, tables=[CostEntryRow.__table__])  # type: ignore[list-item]

    def add(self, entry: CostEntry) -> int:
        """Record one entry (details redacted); returns its id."""
        values = {name: getattr(entry, name) for name in _FIELDS}
        values["detail"] = self.store.redactor.deep(entry.detail)
        values["config_key"] = self.store.redactor.text(entry.config_key)
        row = CostEntryRow(**values)
        with self.store.db() as db:
            db.add(row)
            db.flush()
            entry.id = row.id
        return row.id

    def update(self, entry_id: int, **values: Any) -> None:
        """Change fields of one entry (a forecast becoming the actual)."""
        if "detail" in values:
            values["detail"] = self.store.redactor.deep(values["detail"])
        with self.store.db() as db:
            db.execute(update(CostEntryRow).where(CostEntryRow.id == entry_id).values(**values))

    def settle(self, entry_id: int, **values: Any) -> bool:
        """Turn a forecast into the actual; False when it was already settled (two
        observers of the same finished job record it once)."""
        if "detail" in values:
            values["detail"] = self.store.redactor.deep(values["detail"])
        with self.store.db() as db:
            result = db.execute(update(CostEntryRow).where(
                CostEntryRow.id == entry_id, CostEntryRow.status == "forecast",
            ).values(status="actual", **values))
            return bool(getattr(result, "rowcount", 0))

    def entries(self, root_session_id: str, *, kind: str | None = None) -> list[CostEntry]:
        """A root session's entries, oldest first."""
        query = select(CostEntryRow).where(CostEntryRow.root_session_id == root_session_id)
        if kind is not None:
            query = query.where(CostEntryRow.kind == kind)
        with self.store.db() as db:
            return [_entry(r) for r in db.scalars(query.order_by(CostEntryRow.ts,
                                                                  CostEntryRow.id)).all()]

    def totals(self, root_session_id: str) -> SpendTotals:
        """Sums over a root session (one query)."""
        row = CostEntryRow
        actual = row.status == "actual"
        query = select(
            func.coalesce(func.sum(row.cost_usd).filter(actual), 0.0),
            func.coalesce(func.sum(row.forecast_usd).filter(row.status == "forecast"), 0.0),
            func.coalesce(func.sum(row.prompt_tokens + row.completion_tokens), 0),
            func.coalesce(func.sum(row.prompt_tokens + row.completion_tokens)
                          .filter(row.priced.is_(False)), 0),
            func.count().filter(row.kind != "compute"),
        ).where(row.root_session_id == root_session_id)
        with self.store.db() as db:
            usd, reserved, tokens, unpriced, calls = db.execute(query).one()
        return SpendTotals(float(usd or 0.0), float(reserved or 0.0), int(tokens or 0),
                           int(unpriced or 0), int(calls or 0))

    def open_forecast(self, backend: str, job_id: str) -> CostEntry | None:
        """The launch forecast of a job not yet settled, if any."""
        query = select(CostEntryRow).where(
            CostEntryRow.kind == "compute", CostEntryRow.backend == backend,
            CostEntryRow.job_id == job_id, CostEntryRow.status == "forecast")
        with self.store.db() as db:
            row = db.scalars(query.limit(1)).first()
            return _entry(row) if row is not None else None

    def past_runs(self, backend: str, script: str, *, limit: int = 20) -> list[CostEntry]:
        """Finished compute entries of earlier runs of the same script on ``backend``
        (any session), newest first: the basis of a history forecast."""
        query = (select(CostEntryRow)
                 .where(CostEntryRow.kind == "compute", CostEntryRow.backend == backend,
                        CostEntryRow.status == "actual")
                 .order_by(CostEntryRow.ts.desc()).limit(500))
        with self.store.db() as db:
            rows = [_entry(r) for r in db.scalars(query).all()]
        same = [e for e in rows if e.detail.get("script") == script
                and isinstance(e.detail.get("duration_s"), int | float)]
        return same[:limit]

    def sessions_with_entries(self) -> set[str]:
        """Root sessions that have any entry."""
        with self.store.db() as db:
            return set(db.scalars(select(CostEntryRow.root_session_id).distinct()).all())


def by_kind(entries: list[CostEntry]) -> dict[str, list[CostEntry]]:
    """Entries grouped by category: model kinds as they are, compute by backend
    (``compute:ray``)."""
    groups: dict[str, list[CostEntry]] = defaultdict(list)
    for entry in entries:
        key = f"compute:{entry.backend or '?'}" if entry.kind == "compute" else entry.kind
        groups[key].append(entry)
    return dict(groups)
