"""Running ledger experiments on job backends: launch, follow, stop on alerts.

``launch`` snapshots the code, fingerprints the data and submits the job;
``sync`` pulls new metric points into the ledger, applies the alert rules (cancelling a
run that must stop) and records the job's state. All are async and never block the loop.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openintern.compute.alerts import Alert, check_alerts, rules_from_spec
from openintern.compute.base import JobBackend, JobSpec, JobStatus
from openintern.compute.metrics import LineParser, MetricPoint, MetricStream, StreamState
from openintern.compute.waiting import JobWatch
from openintern.research.ledger import ExperimentRecord, Ledger, LedgerError
from openintern.research.snapshot import Snapshot, fingerprint_data, take_snapshot

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render_command(template: str, config: dict[str, Any], seed: int | None) -> str:
    """Fill ``{name}`` placeholders from ``config`` (and ``{seed}``), shell-quoted. Other
    braces (shell or Python code) are left alone; an unknown name raises LedgerError."""
    values: dict[str, Any] = dict(config)
    if seed is not None:
        values["seed"] = seed

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise LedgerError(
                f"the command uses {{{name}}} but the config has no {name!r}; add it to the "
                "config (or the sweep's parameter space)"
            )
        return shlex.quote(str(values[name]))

    return _PLACEHOLDER.sub(fill, template)


def job_environment(exp: ExperimentRecord) -> dict[str, str]:
    """Variables a job of this experiment gets (seed, parameters, experiment id)."""
    env = {"OPENINTERN_EXPERIMENT_ID": exp.id,
           "OPENINTERN_PARAMS": json.dumps(exp.config, sort_keys=True, default=str)}
    if exp.seed is not None:
        env["OPENINTERN_SEED"] = str(exp.seed)
    return env


async def launch(ledger: Ledger, exp_id: str, backend: JobBackend, workspace: Path, *,
                 timeout_s: float | None = None, gpus: int = 0,
                 snapshot: bool | Snapshot = True, flavor: str | None = None,
                 image: str | None = None, secrets: Sequence[str] = (),
                 pip: Sequence[str] = ()) -> ExperimentRecord:
    """Snapshot, fingerprint and submit a declared experiment; returns it (queued).
    ``snapshot``: True takes one now; a :class:`Snapshot` reuses one (a sweep takes a
    single snapshot for all its runs); False keeps the record's (reproductions).
    ``flavor``, ``image``, ``secrets`` (names) and ``pip`` go into the JobSpec."""
    exp = ledger.get(exp_id)
    if exp.status != "declared":
        raise LedgerError(f"experiment {exp.id} was already run (status {exp.status}); "
                          "declare a new one (parent=<id>) to run it again")
    command = render_command(exp.command, exp.config, exp.seed)
    root = await asyncio.to_thread(workspace.resolve)
    if isinstance(snapshot, Snapshot):
        snap: Snapshot | None = snapshot
    else:
        snap = await asyncio.to_thread(take_snapshot, root) if snapshot else None
    data = [p if Path(p).is_absolute() else str(root / p) for p in exp.data_paths]
    fingerprint = await asyncio.to_thread(fingerprint_data, [Path(p) for p in data])
    workdir = Path(exp.workdir) if exp.workdir else root
    spec = JobSpec(command=command, workdir=workdir, name=exp.name or exp.id,
                   env=job_environment(exp), timeout_s=timeout_s, gpus=gpus,
                   flavor=flavor, image=image, secrets=list(secrets), pip=list(pip))
    job_id = await backend.submit(spec)
    ledger.mark_submitted(
        exp.id, backend=backend.name, job_id=job_id,
        code_hash=snap.hash if snap else exp.code_hash,
        snapshot_path=str(snap.path) if snap else exp.snapshot_path,
        snapshot_files=snap.files if snap else [], data_fingerprint=fingerprint,
    )
    return ledger.get(exp.id)


async def _new_points(exp: ExperimentRecord, backend: JobBackend, final: bool
                      ) -> tuple[list[MetricPoint], dict[str, Any]]:
    assert exp.job_id is not None
    state = dict(exp.stream_state)
    files = getattr(backend, "metric_files", None)
    if callable(files):
        points: list[MetricPoint] = []
        for key, path in files(exp.job_id).items():
            stream = MetricStream(path, require_step=(key != "metrics"),
                                  state=StreamState.from_dict(state.get(key)))
            points += await asyncio.to_thread(stream.read_new, final=final)
            state[key] = stream.state.to_dict()
        return points, state
    # Remote backends: parse the log, remembering how many lines were consumed.
    text = await backend.logs(exp.job_id, tail=None)
    lines = text.splitlines()
    if not final and text and not text.endswith("\n"):
        lines = lines[:-1]
    seen = StreamState.from_dict(state.get("logs"))
    parser = LineParser(require_step=True, index=seen.index)
    points = []
    for line in lines[seen.offset:]:
        found, bad = parser.parse(line)
        points += found
        seen.skipped += int(bad)
    state["logs"] = StreamState(len(lines), parser.index, seen.skipped).to_dict()
    return points, state


@dataclass
class SyncResult:
    """What one sync found: the updated record, new points, alerts, job status."""

    experiment: ExperimentRecord
    new_points: int
    alerts: list[Alert] = field(default_factory=list)
    job: JobStatus | None = None


async def sync(ledger: Ledger, exp_id: str, backend: JobBackend) -> SyncResult:
    """Ingest new metrics of a running experiment, apply its alert rules (cancelling the
    job when a rule says stop) and record its state."""
    exp = ledger.get(exp_id)
    if exp.job_id is None or exp.done:
        return SyncResult(exp, 0)
    status = await backend.status(exp.job_id)
    points, state = await _new_points(exp, backend, final=status.done)
    await asyncio.to_thread(ledger.add_points, exp.id, points, state)
    alerts: list[Alert] = []
    if points and not status.done:
        rules = rules_from_spec(exp.alert_rules)
        watched = {p.name for p in points}
        history = await asyncio.to_thread(ledger.series, exp.id)
        alerts = check_alerts([p for p in history if p.name in watched], rules)
        for alert in alerts:
            ledger.add_alert(exp.id, alert.message)
        stopping = [a for a in alerts if a.stop]
        if stopping:
            status = await backend.cancel(exp.job_id)
            status.detail = f"stopped early by an alert: {stopping[0].message}"
            exp = ledger.get(exp.id)
            more, state = await _new_points(exp, backend, final=True)
            await asyncio.to_thread(ledger.add_points, exp.id, more, state)
    ended = status.ended_at if status.done else None
    if status.done and ended is None:
        ended = time.time()
    ledger.set_status(exp.id, status.state, detail=status.detail, started_at=status.started_at,
                      ended_at=ended)
    return SyncResult(ledger.get(exp.id), len(points), alerts, status)


async def wait_until_done(ledger: Ledger, exp_id: str, backend: JobBackend, *,
                          timeout_s: float, poll_s: float = 0.25) -> ExperimentRecord:
    """Sync until the experiment finishes or ``timeout_s`` passes (woken by its local run
    directory's changes, else every ``poll_s``)."""
    deadline = time.monotonic() + timeout_s
    job_id = ledger.get(exp_id).job_id
    async with JobWatch(backend, [job_id] if job_id else [], poll_s=poll_s) as watch:
        while True:
            result = await sync(ledger, exp_id, backend)
            if result.experiment.done or time.monotonic() >= deadline:
                return result.experiment
            await watch.changed(deadline - time.monotonic())
