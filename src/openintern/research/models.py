"""Ledger tables, on the store's shared ``Base`` (one database holds a whole history).

Importing this module registers the tables; ``Store`` creates them with
``Base.metadata.create_all`` as long as the module was imported first (``openintern.research``
imports it).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from openintern.store.models import Base


class ExperimentRow(Base):
    """One run of the ledger: what was tried, why, with which code/data, and the result."""

    __tablename__ = "experiments"
    __table_args__ = (Index("ix_experiments_session_created", "session_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(32), index=True, default="")
    parent_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    sweep_id: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    hypothesis: Mapped[str] = mapped_column(Text, default="")
    command: Mapped[str] = mapped_column(Text, default="")
    workdir: Mapped[str] = mapped_column(Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Canonical JSON of the config without the seed: runs that differ only by seed share it.
    config_key: Mapped[str] = mapped_column(Text, default="{}")
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    primary_metric: Mapped[str | None] = mapped_column(String(200), nullable=True)
    mode: Mapped[str] = mapped_column(String(8), default="max")
    code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    snapshot_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    snapshot_files: Mapped[list[str]] = mapped_column(JSON, default=list)
    data_paths: Mapped[list[str]] = mapped_column(JSON, default=list)
    data_fingerprint: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    backend: Mapped[str | None] = mapped_column(String(32), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)
    # declared, queued, running, succeeded, failed, cancelled, timeout, unknown
    status: Mapped[str] = mapped_column(String(16), default="declared")
    status_detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    final_metrics: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    best_metrics: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    artifacts: Mapped[list[str]] = mapped_column(JSON, default=list)
    alerts: Mapped[list[str]] = mapped_column(JSON, default=list)
    alert_rules: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    conclusion: Mapped[str] = mapped_column(Text, default="")
    is_best: Mapped[bool] = mapped_column(Boolean, default=False)
    # Incremental reading positions per followed stream (see compute.metrics.StreamState).
    stream_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reproduces: Mapped[str | None] = mapped_column(String(16), nullable=True)


class MetricPointRow(Base):
    """One point of an experiment's metric time series (NaN/inf kept as NULL + flag)."""

    __tablename__ = "metric_points"
    __table_args__ = (Index("ix_metric_points_exp_name_step", "experiment_id", "name", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.id"))
    step: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    # SQLite cannot store NaN; non-finite values are kept as text in ``special``.
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    special: Mapped[str | None] = mapped_column(String(8), nullable=True)
    ts: Mapped[float] = mapped_column(Float, default=time.time)


class DataArtifactRow(Base):
    """A dataset the session made (synthetic data): where it is, its content fingerprint
    and its card, so an experiment's lineage shows what a model trained on."""

    __tablename__ = "data_artifacts"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(32), index=True, default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(32), default="synthetic")
    path: Mapped[str] = mapped_column(Text, default="")
    # fingerprint_data()'s hash of the file: equal to what an experiment using it records.
    fingerprint: Mapped[str] = mapped_column(String(64), index=True, default="")
    rows: Mapped[int] = mapped_column(Integer, default=0)
    card: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
