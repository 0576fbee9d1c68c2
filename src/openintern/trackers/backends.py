"""One adapter per tracker: write a finished run (params, tags, metric series, status)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from openintern.config import Settings


@dataclass
class RunRecord:
    """A finished ledger experiment as trackers see it."""

    experiment_id: str
    session_id: str
    name: str
    status: str
    config: dict[str, Any]
    seed: int | None
    code_hash: str | None
    tags: dict[str, str]
    started_at: float | None
    ended_at: float | None
    # (metric, step, value, unix time) in step order
    points: list[tuple[str, int, float, float]] = field(default_factory=list)
    final_metrics: dict[str, float] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        """Config plus seed and code hash: what reproduces the run."""
        out = dict(self.config)
        if self.seed is not None:
            out["seed"] = self.seed
        if self.code_hash:
            out["code_hash"] = self.code_hash
        return out

    def by_step(self) -> Iterator[tuple[int, dict[str, float]]]:
        """Metrics grouped per step (for trackers that log one dict per step)."""
        steps: dict[int, dict[str, float]] = {}
        for name, step, value, _ts in self.points:
            steps.setdefault(step, {})[name] = value
        yield from sorted(steps.items())


class Tracker(Protocol):
    """Writes one finished run; raises on failure (the mirror reports it)."""

    name: str

    def write(self, run: RunRecord) -> str:
        """Write the run; returns where it went (a run id or path)."""
        ...


class TrackerUnavailableError(RuntimeError):
    """The tracker's library is not installed or cannot be configured."""


def make_tracker(name: str, settings: Settings) -> Tracker:
    """The adapter for ``name`` (imports nothing heavy yet)."""
    if name == "mlflow":
        return MlflowTracker(settings)
    if name == "trackio":
        return TrackioTracker(settings)
    if name == "wandb":
        return WandbTracker(settings)
    raise TrackerUnavailableError(f"unknown tracker {name!r}; use mlflow, trackio or wandb")


def _require(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise TrackerUnavailableError(
            f"the {module} tracker is configured but not installed: "
            "pip install 'openintern[trackers]'")


class MlflowTracker:
    """MLflow through ``MlflowClient`` (explicit run ids, no global active run, so runs
    written from a worker thread never mix)."""

    name = "mlflow"

    def __init__(self, settings: Settings) -> None:
        _require("mlflow")
        self.uri = settings.mlflow_tracking_uri
        self.project = settings.tracker_project
        if self.uri and (self.uri.startswith("file:") or "://" not in self.uri):
            # A local file store chosen explicitly: MLflow 3 keeps it behind an opt-in.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

    def write(self, run: RunRecord) -> str:
        """Create the run, log params/tags/metrics in batches, mark it terminated."""
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=self.uri)
        experiment = client.get_experiment_by_name(self.project)
        exp_id = (experiment.experiment_id if experiment is not None
                  else client.create_experiment(self.project))
        created = client.create_run(exp_id, run_name=run.name, start_time=_ms(run.started_at),
                                    tags={**run.tags, "mlflow.runName": run.name})
        run_id = str(created.info.run_id)
        params = [Param(k, str(v)[:6000]) for k, v in run.params().items()]
        metrics = [Metric(n, v, int(ts * 1000), s) for n, s, v, ts in run.points
                   if math.isfinite(v)]
        for i in range(0, len(params), 100):
            client.log_batch(run_id, params=params[i:i + 100])
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i:i + 1000])
        client.log_batch(run_id, tags=[RunTag("openintern.status", run.status)])
        status = {"succeeded": "FINISHED", "cancelled": "KILLED"}.get(run.status, "FAILED")
        client.set_terminated(run_id, status=status, end_time=_ms(run.ended_at))
        return run_id


class TrackioTracker:
    """Trackio (local SQLite under TRACKIO_DIR, or a Space when the user set one up)."""

    name = "trackio"

    def __init__(self, settings: Settings) -> None:
        _require("trackio")
        self.project = settings.tracker_project

    def write(self, run: RunRecord) -> str:
        """One trackio run per experiment, one log call per step."""
        import trackio

        handle = trackio.init(project=self.project, name=f"{run.name}-{run.experiment_id}",
                              config={**run.params(), **run.tags}, resume="never",
                              embed=False, auto_log_gpu=False, auto_log_cpu=False)
        try:
            for step, values in run.by_step():
                finite = {k: v for k, v in values.items() if math.isfinite(v)}
                if finite:
                    handle.log(finite, step=step)
        finally:
            handle.finish()  # type: ignore[no-untyped-call]
        return f"{self.project}/{run.name}-{run.experiment_id}"


class WandbTracker:
    """Weights & Biases (online, or offline files to sync later: ``wandb_mode``)."""

    name = "wandb"

    def __init__(self, settings: Settings) -> None:
        _require("wandb")
        self.project = settings.tracker_project
        self.mode = settings.wandb_mode
        self.dir = settings.wandb_dir

    def write(self, run: RunRecord) -> str:
        """A W&B run per experiment: config, tags, one log call per step, exit code."""
        import wandb

        if self.dir is not None:
            Path(self.dir).mkdir(parents=True, exist_ok=True)
        handle = wandb.init(
            project=self.project, name=run.name, id=f"{run.experiment_id}",
            config=run.params(), tags=[run.status], notes=run.tags.get("hypothesis"),
            mode=self.mode, dir=str(self.dir) if self.dir else None, reinit="create_new",
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True))
        try:
            handle.config.update(  # type: ignore[no-untyped-call]
                {"openintern": run.tags}, allow_val_change=True)
            for step, values in run.by_step():
                handle.log({k: v for k, v in values.items() if math.isfinite(v)}, step=step)
        finally:
            handle.finish(exit_code=0 if run.status == "succeeded" else 1)
        return str(getattr(handle, "dir", run.experiment_id))


def _ms(ts: float | None) -> int | None:
    return int(ts * 1000) if ts else None
