"""Metering compute: a launch's forecast, a finished job's actual, on every backend.

:class:`MeteredBackend` wraps a job backend (the session's backends are wrapped when they
are built). When a job is submitted it records a forecast — hardware × time limit where
there is one (HF Jobs: the flavor's hourly price × the timeout), and the mean of earlier
runs of the same script on that backend — which the budget counts as committed while the
job runs. When the backend first reports the job finished it records the actual: the
measured duration × the hardware's price (HF: billed per started minute; Ray and local:
GPU-hours of GPU jobs, job-hours of CPU jobs, at the ``compute_prices`` the user set,
default $0 with the hours still shown), and writes the cost on the experiment it ran.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable
from statistics import mean
from typing import Any, cast

from sqlalchemy import update

from openintern.accounting.accountant import CostAccountant
from openintern.accounting.cost_ledger import CostEntry
from openintern.accounting.prices import ComputePrice, hf_flavor_gpus
from openintern.compute.base import JobBackend, JobSpec, JobStatus
from openintern.compute.hf_pricing import estimate_cost_usd


def script_key(command: str) -> str:
    """What identifies "the same script" across runs: the program and its script path,
    without the arguments (``python train.py --lr 0.1`` -> ``python train.py``)."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        tokens = command.split()
    kept: list[str] = []
    for token in tokens:
        if (token.startswith("-") or "=" in token or "{" in token
                or token.replace(".", "", 1).isdigit() or token in ("&&", ";", "|")):
            break
        kept.append(token)
        if len(kept) == 3:
            break
    return " ".join(kept) or command.strip()[:80]


def _duration(status: JobStatus) -> float:
    if status.started_at is None:
        return 0.0  # never started (cancelled while queued): nothing ran, nothing billed
    end = status.ended_at or time.time()
    return max(0.0, end - status.started_at)


class MeteredBackend:
    """A job backend whose launches and finishes are recorded (see the module doc)."""

    def __init__(self, inner: JobBackend, accountant: CostAccountant) -> None:
        self.inner = inner
        self.name = inner.name
        self.accountant = accountant

    def __getattr__(self, name: str) -> Any:
        # Everything else (logs, metrics, estimates, list_jobs) is the backend's own.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def price(self) -> ComputePrice:
        """The user's price for this backend's hours (default: free)."""
        return self.accountant.compute_prices.get(self.name, ComputePrice())

    async def submit(self, spec: JobSpec) -> str:
        """Submit through the backend, then record the launch's forecast."""
        job_id = await self.inner.submit(spec)
        try:
            await self._forecast(spec, job_id)
        except Exception as exc:  # a job that started must never be reported as failed
            self.accountant.warn_once(f"forecast:{job_id}",
                                      f"could not record the cost forecast of job {job_id}: "
                                      f"{type(exc).__name__}: {exc}")
        return job_id

    async def status(self, job_id: str) -> JobStatus:
        """The backend's status; a finished job's actual cost is recorded once."""
        status = await self.inner.status(job_id)
        # "unknown" with nothing running (a restarted cluster no longer knows the job): what
        # was measured is all there will be, and its forecast must not stay reserved.
        lost = status.state == "unknown" and (status.started_at is None or status.ended_at)
        if status.done or lost:
            await self._settle(job_id, status)
        return status

    async def cancel(self, job_id: str) -> JobStatus:
        """Cancel through the backend; record the actual if it stopped."""
        status = await self.inner.cancel(job_id)
        if status.done:
            await self._settle(job_id, status)
        return status

    # --- forecast and actual ---------------------------------------------------------
    async def _hardware(self, spec: JobSpec) -> tuple[str, float | None, int, float | None]:
        """(flavor, hourly price, GPUs, time limit) of a spec on this backend."""
        hourly_price = getattr(self.inner, "hourly_price_usd", None)
        timeout = spec.timeout_s or getattr(self.inner, "default_timeout_s", None)
        if callable(hourly_price):
            flavor = spec.flavor or str(getattr(self.inner, "default_flavor", ""))
            hourly = await hourly_price(flavor)
            return flavor, hourly, spec.gpus or hf_flavor_gpus(flavor), timeout
        return "", None, spec.gpus, timeout

    def _cost(self, hourly: float | None, gpus: int, seconds: float) -> tuple[float, float, float]:
        """(dollars, GPU-hours, CPU job-hours) of ``seconds`` on this hardware."""
        hours = seconds / 3600
        gpu_hours = gpus * hours
        cpu_hours = 0.0 if gpus else hours
        if hourly is not None:
            return estimate_cost_usd(hourly, seconds), gpu_hours, cpu_hours
        return round(self.price.cost_usd(gpu_hours, cpu_hours), 6), gpu_hours, cpu_hours

    async def forecast(self, spec: JobSpec) -> dict[str, Any]:
        """What a launch of ``spec`` is expected to cost: ``limit_usd`` (hardware × time
        limit, None without a limit or price) and, from earlier runs of the same script,
        ``expected_usd`` with ``runs`` and ``mean_duration_s``."""
        flavor, hourly, gpus, timeout = await self._hardware(spec)
        script = script_key(spec.command)
        out: dict[str, Any] = {"script": script, "gpus": gpus, "flavor": flavor,
                               "hourly_usd": hourly, "timeout_s": timeout}
        out["limit_usd"] = self._cost(hourly, gpus, timeout)[0] if timeout else None
        past = await asyncio.to_thread(self.accountant.ledger.past_runs, self.name, script)
        if past:
            seconds = mean(float(e.detail["duration_s"]) for e in past)
            out.update(runs=len(past), mean_duration_s=round(seconds, 1),
                       expected_usd=self._cost(hourly, gpus, seconds)[0])
        return out

    async def _forecast(self, spec: JobSpec, job_id: str) -> None:
        plan = await self.forecast(spec)
        reserved = plan["limit_usd"] if plan["limit_usd"] is not None else plan.get(
            "expected_usd", 0.0)
        entry = CostEntry(
            root_session_id=self.accountant.root_session_id, kind="compute",
            session_id=self.accountant.root_session_id, backend=self.name, job_id=job_id,
            experiment_id=spec.env.get("OPENINTERN_EXPERIMENT_ID", ""),
            config_key=spec.env.get("OPENINTERN_PARAMS", ""), status="forecast",
            forecast_usd=float(reserved or 0.0), detail={**plan, "name": spec.name},
        )
        await asyncio.to_thread(self.accountant.record_compute, entry)

    async def _settle(self, job_id: str, status: JobStatus) -> None:
        await asyncio.to_thread(self._settle_blocking, job_id, status)

    def _settle_blocking(self, job_id: str, status: JobStatus) -> None:
        forecast = self.accountant.ledger.open_forecast(self.name, job_id)
        if forecast is None:
            return  # already settled, or launched outside this accounting
        seconds = _duration(status)
        hourly = forecast.detail.get("hourly_usd")
        gpus = int(forecast.detail.get("gpus") or 0)
        cost, gpu_hours, cpu_hours = self._cost(
            float(hourly) if isinstance(hourly, int | float) else None, gpus, seconds)
        settled = self.accountant.settle_compute(
            forecast, cost_usd=cost, gpu_hours=gpu_hours, cpu_hours=cpu_hours,
            detail={"duration_s": round(seconds, 3), "state": status.state})
        if settled and forecast.experiment_id:
            from openintern.research.models import ExperimentRow

            with self.accountant.store.db() as db:
                db.execute(update(ExperimentRow)
                           .where(ExperimentRow.id == forecast.experiment_id)
                           .values(cost_usd=cost))


def metered(accountant: CostAccountant) -> Callable[[JobBackend], JobBackend]:
    """The wrapper a session gives its backend pool (``services["backend_meter"]``)."""

    def wrap(backend: JobBackend) -> JobBackend:
        if isinstance(backend, MeteredBackend):
            return backend
        return cast(JobBackend, MeteredBackend(backend, accountant))

    return wrap
