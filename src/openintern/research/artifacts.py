"""Data artifacts in the ledger: datasets a session made, found again by fingerprint.

An experiment records the fingerprint of every data path it used; a data artifact
records the same fingerprint when it is registered, so :meth:`DataArtifacts.lineage`
tells which registered (e.g. synthetic) sets an experiment trained on.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from openintern.research.ledger import ExperimentRecord
from openintern.research.models import DataArtifactRow
from openintern.research.snapshot import fingerprint_data
from openintern.store.engine import create_tables
from openintern.store.session_store import Store


@dataclass(frozen=True)
class DataArtifact:
    """A registered dataset."""

    id: str
    session_id: str
    name: str
    kind: str
    path: str
    fingerprint: str
    rows: int
    card: dict[str, Any]
    created_at: float


def _artifact(row: DataArtifactRow) -> DataArtifact:
    return DataArtifact(row.id, row.session_id, row.name, row.kind, row.path, row.fingerprint,
                        row.rows, dict(row.card or {}), row.created_at)


class DataArtifacts:
    """Register datasets and trace experiments back to them."""

    def __init__(self, store: Store) -> None:
        from openintern.store.models import Base

        self.store = store
        create_tables(Base.metadata, store.engine)

    def register(self, *, session_id: str, name: str, path: Path, rows: int,
                 card: dict[str, Any], kind: str = "synthetic") -> DataArtifact:
        """Record ``path`` (fingerprinted now) as a dataset of the session."""
        resolved = path.resolve()
        fingerprint = fingerprint_data([resolved])[str(resolved)]["hash"]
        row = DataArtifactRow(id=uuid.uuid4().hex[:10], session_id=session_id,
                              name=self.store.redactor.text(name), kind=kind,
                              path=str(resolved), fingerprint=fingerprint, rows=rows,
                              card=self.store.redactor.deep(card), created_at=time.time())
        with self.store.db() as db:
            db.add(row)
            db.flush()
            return _artifact(row)

    def all(self, session_id: str | None = None) -> list[DataArtifact]:
        """Registered datasets, oldest first."""
        query = select(DataArtifactRow).order_by(DataArtifactRow.created_at)
        if session_id is not None:
            query = query.where(DataArtifactRow.session_id == session_id)
        with self.store.db() as db:
            return [_artifact(r) for r in db.scalars(query).all()]

    def lineage(self, exp: ExperimentRecord) -> list[DataArtifact]:
        """The registered datasets among the data an experiment used (same content)."""
        hashes = {str(v.get("hash")) for v in exp.data_fingerprint.values()
                  if isinstance(v, dict)}
        if not hashes:
            return []
        with self.store.db() as db:
            rows = db.scalars(select(DataArtifactRow).where(
                DataArtifactRow.fingerprint.in_(hashes))).all()
            return [_artifact(r) for r in rows]
