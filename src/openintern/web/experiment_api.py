"""The experiments' JSON API: the ledger's runs with names that tell them apart, metric
series for charts, a local job's system metrics, and its output (a tail, or followed
live as SSE). Plain ``def`` routes run in worker threads (they read the store)."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from openintern.compute.system_metrics import FILE_NAME, read_samples
from openintern.research.ledger import ExperimentRecord
from openintern.research.run_labels import config_text, run_names
from openintern.web.access import experiment_or_404, visible_experiments
from openintern.web.job_logs import log_events
from openintern.web.lab import run_logs
from openintern.web.run_files import local_run_dir

experiment_api = APIRouter(prefix="/api")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def experiment_rows(records: list[ExperimentRecord]) -> list[dict[str, Any]]:
    """The records as JSON rows, each with its ``label`` (what tells it apart), ``title``,
    ``group`` (sweep and configuration), config text and duration."""
    names = run_names(records)
    now = time.time()
    rows = []
    for e in records:
        row = dataclasses.asdict(e)
        row.pop("stream_state", None)
        name = names[e.id]
        row.update(
            label=name.label, title=name.title, group=name.group,
            config_text=config_text(e.config), metric_value=e.metric(),
            duration_s=((e.ended_at or now) - e.started_at) if e.started_at else None)
        rows.append(row)
    return rows


@experiment_api.get("/experiments")
def experiments(request: Request, session: str | None = None) -> list[dict[str, Any]]:
    """The ledger's experiments (of one session, or all), oldest first."""
    return experiment_rows(visible_experiments(request, session))


@experiment_api.get("/experiments/{exp_id}/metrics")
def metrics(request: Request, exp_id: str, name: str | None = None) -> dict[str, Any]:
    """Metric series of an experiment, by metric name, for charts."""
    record = experiment_or_404(request, exp_id)
    series: dict[str, list[dict[str, float | int | None]]] = {}
    for p in request.app.state.hub.ledger.series(record.id, name):
        series.setdefault(p.name, []).append({"step": p.step, "value": _finite(p.value)})
    return {"experiment_id": record.id, "done": record.done, "series": series}


@experiment_api.get("/experiments/{exp_id}/system")
def system(request: Request, exp_id: str) -> dict[str, Any]:
    """CPU, memory and GPU use of a local job over its run (seconds since start)."""
    record = experiment_or_404(request, exp_id)
    hub = request.app.state.hub
    run_dir = local_run_dir(hub.settings, hub.store, record)
    samples = read_samples(run_dir / FILE_NAME) if run_dir else []
    series: dict[str, list[dict[str, float]]] = {}
    for sample in samples:
        t = sample.pop("t", None)
        if t is None:
            continue
        for key, value in sample.items():
            series.setdefault(key, []).append({"step": t, "value": value})
    return {"experiment_id": record.id, "done": record.done, "series": series}


@experiment_api.get("/experiments/{exp_id}/logs")
async def logs(request: Request, exp_id: str) -> dict[str, str]:
    """The last lines of the run's output (or why there are none)."""
    record = await asyncio.to_thread(experiment_or_404, request, exp_id)
    hub = request.app.state.hub
    return {"experiment_id": record.id, "status": record.status,
            "text": await run_logs(hub.settings, hub.store, record)}


@experiment_api.get("/experiments/{exp_id}/logs/stream")
async def log_stream(request: Request, exp_id: str) -> StreamingResponse:
    """The run's output as SSE: its tail, then each line as the job writes it."""
    record = await asyncio.to_thread(experiment_or_404, request, exp_id)
    hub = request.app.state.hub
    return StreamingResponse(log_events(hub.settings, hub.store, record),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
