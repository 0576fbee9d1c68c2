"""Accounting tables, on the store's shared ``Base``: the cost ledger and the egress log.

Both are keyed by the *root* session (the one the user started): a sub-agent's spend and
requests carry its own ``session_id`` too, so a session's page can show either view.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from openintern.store.models import Base


class CostEntryRow(Base):
    """One spend: a model call (main, summary, sub-agent, synthesis, judge, a failed
    attempt that was billed) or a compute job (forecast at launch, actual when it ends)."""

    __tablename__ = "cost_entries"
    __table_args__ = (
        Index("ix_cost_entries_root_ts", "root_session_id", "ts"),
        Index("ix_cost_entries_job", "backend", "job_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    root_session_id: Mapped[str] = mapped_column(String(32), index=True)
    session_id: Mapped[str] = mapped_column(String(32), default="")
    ts: Mapped[float] = mapped_column(Float, default=time.time)
    # model | summary | subagent | synthesis | judge | retry | compute
    kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200), default="")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    # False: no price was known (tokens counted, dollars not).
    priced: Mapped[bool] = mapped_column(Boolean, default=True)
    # Compute: backend, job, experiment, configuration, hours, and whether it is still
    # the launch forecast or the actual measured at the end.
    backend: Mapped[str] = mapped_column(String(32), default="")
    job_id: Mapped[str] = mapped_column(String(200), default="")
    experiment_id: Mapped[str] = mapped_column(String(16), default="")
    config_key: Mapped[str] = mapped_column(Text, default="")
    gpu_hours: Mapped[float] = mapped_column(Float, default=0.0)
    cpu_hours: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="actual")  # forecast | actual
    forecast_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class EgressEntryRow(Base):
    """One outbound request (sent or refused) with what it carried."""

    __tablename__ = "egress_entries"
    __table_args__ = (Index("ix_egress_entries_root_ts", "root_session_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    root_session_id: Mapped[str] = mapped_column(String(32), index=True)
    session_id: Mapped[str] = mapped_column(String(32), default="")
    ts: Mapped[float] = mapped_column(Float, default=time.time)
    scheme: Mapped[str] = mapped_column(String(8), default="")
    host: Mapped[str] = mapped_column(String(255), default="")
    port: Mapped[int] = mapped_column(Integer, default=0)
    loopback: Mapped[bool] = mapped_column(Boolean, default=False)
    method: Mapped[str] = mapped_column(String(8), default="")
    target: Mapped[str] = mapped_column(Text, default="")
    purpose: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(32), default="")
    bytes_sent: Mapped[int] = mapped_column(Integer, default=0)
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
