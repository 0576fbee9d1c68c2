"""The egress log: the store-backed sink of the outbound gate, and queries over it.

Each record is redacted like everything else the store keeps, and attributed to the
session whose code made the request (a sub-agent's own session inside a root session).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select

from openintern.accounting.models import EgressEntryRow
from openintern.accounting.scope import current_scope
from openintern.egress import EgressRecord
from openintern.store import Store


class EgressLog:
    """Writes a root session's egress records (an :class:`~openintern.egress.EgressSink`)."""

    def __init__(self, store: Store, root_session_id: str) -> None:
        from openintern.store.models import Base

        self.store = store
        self.root_session_id = root_session_id
        Base.metadata.create_all(store.engine, tables=[EgressEntryRow.__table__])  # type: ignore[list-item]

    def record(self, record: EgressRecord) -> None:
        """Persist one record (blocking; the gate calls it from a worker thread)."""
        red = self.store.redactor
        dest = record.destination
        values = {
            "root_session_id": self.root_session_id,
            "session_id": current_scope().session_id or record.session_id,
            "ts": record.ts, "scheme": dest.scheme, "host": dest.host, "port": dest.port,
            "loopback": dest.loopback, "method": record.method,
            "target": red.text(record.target), "purpose": red.text(record.purpose)[:200],
            "kind": record.kind[:32], "bytes_sent": record.bytes_sent,
            "allowed": record.allowed, "status": record.status,
            "error": red.text(record.error), "detail": red.deep(record.detail),
        }
        with self.store.db() as db:
            db.execute(insert(EgressEntryRow).values(**values))


@dataclass
class EgressEntry:
    """One recorded request, as read back."""

    id: int
    session_id: str
    ts: float
    host: str
    port: int
    loopback: bool
    method: str
    target: str
    purpose: str
    kind: str
    bytes_sent: int
    allowed: bool
    status: int | None
    error: str
    detail: dict[str, Any]

    @property
    def destination(self) -> str:
        """``host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def egress_entries(store: Store, root_session_id: str) -> list[EgressEntry]:
    """A root session's requests, oldest first."""
    from openintern.store.models import Base

    Base.metadata.create_all(store.engine, tables=[EgressEntryRow.__table__])  # type: ignore[list-item]
    query = (select(EgressEntryRow).where(EgressEntryRow.root_session_id == root_session_id)
             .order_by(EgressEntryRow.ts, EgressEntryRow.id))
    with store.db() as db:
        return [EgressEntry(
            id=r.id, session_id=r.session_id, ts=r.ts, host=r.host, port=r.port,
            loopback=r.loopback, method=r.method, target=r.target, purpose=r.purpose,
            kind=r.kind, bytes_sent=r.bytes_sent, allowed=r.allowed, status=r.status,
            error=r.error, detail=dict(r.detail or {}),
        ) for r in db.scalars(query).all()]


@dataclass
class HostTotal:
    """Requests to one destination."""

    destination: str
    loopback: bool
    requests: int = 0
    refused: int = 0
    bytes_sent: int = 0
    purposes: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)


def host_totals(entries: list[EgressEntry]) -> list[HostTotal]:
    """Per destination: requests sent, refused, body bytes sent, purposes and kinds;
    most bytes first."""
    totals: dict[str, HostTotal] = {}
    for e in entries:
        total = totals.setdefault(e.destination, HostTotal(e.destination, e.loopback))
        if e.allowed:
            total.requests += 1
            total.bytes_sent += e.bytes_sent
        else:
            total.refused += 1
        total.purposes[e.purpose] += 1
        total.kinds[e.kind] += 1
    return sorted(totals.values(), key=lambda t: (-t.bytes_sent, t.destination))
