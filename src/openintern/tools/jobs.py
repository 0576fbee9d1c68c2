"""The ``jobs`` tool: submit and watch detached compute jobs.

Uses ``ctx.services["backends"]`` (dict name -> JobBackend, filled on demand from the
backend registry) and, when present, ``ctx.services["ledger"]`` so that jobs that run
experiments get their metrics ingested and alert rules applied while the agent waits.

Launching on a paid backend (Hugging Face Jobs) needs the user's approval, shown with the
backend's own cost estimate; :class:`HardwareFields`, :func:`paid_launch_reason` and
:func:`paid_launch_cost_usd` are shared with the experiment and sweep tools.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from openintern.compute.alerts import Alert, check_alerts
from openintern.compute.base import JobBackend, JobBackendError, JobSpec, JobStatus
from openintern.compute.hf_jobs import DEFAULT_FLAVOR
from openintern.compute.hf_pricing import DOCS_HOURLY_USD
from openintern.compute.job_env import missing_secret_names, secret_allowlist_hint
from openintern.compute.metrics import format_summary, parse_lines, summarise
from openintern.compute.registry import backend_from_services
from openintern.compute.waiting import JobWatch
from openintern.events import JobUpdate
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult
from openintern.tools.schema import GUIDE_ONLY

if TYPE_CHECKING:
    from openintern.compute.metrics import MetricPoint
    from openintern.research.ledger import Ledger

_POLL_S = 0.5
#: Backends that bill per use: launching a job on one needs the user's approval.
PAID_BACKENDS: frozenset[str] = frozenset({"hf"})
_BACKEND_TITLES = {"hf": "Hugging Face Job"}
SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


def get_backend(ctx: ToolContext, name: str | None) -> JobBackend:
    """The backend ``name`` (default: settings.job_backend), built on first use."""
    chosen = name or ctx.settings.job_backend
    try:
        return backend_from_services(ctx.services, chosen, ctx.settings, ctx.workspace,
                                     ctx.sandbox)
    except JobBackendError as exc:
        raise ToolError(str(exc)) from None


#: Backends that ship the working directory off this machine.
REMOTE_BACKENDS: frozenset[str] = frozenset({"ray", "hf"})


async def private_note(ctx: ToolContext, backend: str, workdir: Path) -> str:
    """What the model must know when a remote job's package left private files out
    (empty when nothing was left out)."""
    if backend not in REMOTE_BACKENDS or not ctx.settings.private_paths:
        return ""
    from openintern.compute.ray_package import packable_files
    from openintern.private_paths import PrivatePaths

    private = PrivatePaths.of(ctx.workspace, ctx.settings.private_paths)
    _kept, left_out = await asyncio.to_thread(packable_files, workdir, private)
    if not left_out:
        return ""
    shown = ", ".join(left_out[:5]) + (f" and {len(left_out) - 5} more" if len(left_out) > 5
                                       else "")
    return (f"\nNote: {len(left_out)} private file(s) were NOT shipped with this {backend} job "
            f"(private_paths): {shown}. The job cannot read them; run it on backend=local, or "
            "make it use only non-private inputs.")


def get_ledger(ctx: ToolContext) -> Ledger | None:
    """The experiment ledger of this session, if the session has one."""
    ledger = ctx.services.get("ledger")
    return ledger


def status_line(status: JobStatus) -> str:
    """One line per job for the model."""
    extra = f", exit code {status.exit_code}" if status.exit_code is not None else ""
    took = ""
    if status.started_at:
        took = f", {((status.ended_at or time.time()) - status.started_at):.1f}s"
    return f"{status.backend}:{status.job_id} {status.state}{extra}{took}"


async def job_points(backend: JobBackend, job_id: str) -> list[MetricPoint]:
    """Every metric point of a job: the backend's own reader, else parsed from its log."""
    reader = getattr(backend, "metrics", None)
    if callable(reader):
        points: list[MetricPoint] = await reader(job_id)
        return points
    text = await backend.logs(job_id, tail=None)
    return parse_lines(text.splitlines(), require_step=True).points


async def _logs(backend: JobBackend, job_id: str, tail: int, grep: str | None) -> str:
    """Log lines, filtered by ``grep`` (by the backend when it can, else here)."""
    if grep is None:
        return await backend.logs(job_id, tail=tail)
    if "grep" in inspect.signature(backend.logs).parameters:
        text: str = await backend.logs(job_id, tail=tail, grep=grep)  # type: ignore[call-arg]
        return text
    try:
        pattern = re.compile(grep)
    except re.error as exc:
        raise ToolError(f"grep pattern {grep!r} is not a valid regex: {exc}") from None
    lines = [x for x in (await backend.logs(job_id, tail=None)).splitlines()
             if pattern.search(x)]
    return "\n".join(lines[-tail:] if tail else [])


class HardwareFields(BaseModel):
    """Where and with what a job runs (shared by jobs submit, experiment run and sweep)."""

    flavor: str | None = Field(
        None, max_length=64, description="hf: hardware, e.g. t4-small.")
    image: str | None = Field(None, max_length=300, description="hf: container image.",
                              json_schema_extra=GUIDE_ONLY)
    secrets: list[SecretName] = Field(
        default_factory=list, max_length=20,
        description="Secret NAMES the job gets (only names in the user's job_secrets; a "
        "person approves each such job), never values.",
        json_schema_extra=GUIDE_ONLY)
    pip: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=50, description="Requirements to install (remote).",
        json_schema_extra=GUIDE_ONLY)

    def secret_reason(self, ctx: ToolContext) -> str | None:
        """Why handing ``secrets`` to the job needs a person's approval (None without
        secrets); a ToolError when a name is outside the user's allowlist."""
        if not self.secrets:
            return None
        refused = missing_secret_names(self.secrets, ctx.settings.job_secrets)
        if refused:
            raise ToolError(
                f"secret(s) {', '.join(refused)} may not be given to jobs: the user's "
                f"job_secrets allowlist does not hold {'it' if len(refused) == 1 else 'them'}."
                f" Run without it, or ask the user {secret_allowlist_hint(refused)}")
        return f"hands the secret(s) {', '.join(self.secrets)} to the job's code"

    def hardware(self) -> dict[str, Any]:
        """These fields as JobSpec keyword arguments."""
        return {"flavor": self.flavor, "image": self.image, "secrets": list(self.secrets),
                "pip": list(self.pip)}


def launch_reason(ctx: ToolContext, fields: HardwareFields, backend: str | None,
                  count: int) -> str | None:
    """Why launching ``count`` jobs needs approval: paid hardware and/or secrets."""
    reasons = [paid_launch_reason(ctx, backend, fields.flavor, count),
               fields.secret_reason(ctx) if count > 0 else None]
    return "; ".join(r for r in reasons if r) or None


def paid_launch_reason(ctx: ToolContext, backend: str | None, flavor: str | None,
                       count: int) -> str | None:
    """Why launching ``count`` jobs needs approval (None on a free backend)."""
    chosen = backend or ctx.settings.job_backend
    if chosen not in PAID_BACKENDS or count <= 0:
        return None
    pooled = (ctx.services.get("backends") or {}).get(chosen)
    shown = flavor or str(getattr(pooled, "default_flavor", DEFAULT_FLAVOR))
    title = _BACKEND_TITLES.get(chosen, f"{chosen} job")
    reason = f"launching {count} {title}{'' if count == 1 else 's'} on {shown} costs money"
    # The live price list is only reachable asynchronously (in paid_launch_cost_usd), so
    # the text can only rule out a known price against the documented table.
    if shown not in DOCS_HOURLY_USD:
        reason += (f"; {shown} is not in the documented price list, so the cost is unknown "
                   "unless the service's live price list has it")
    return reason


async def paid_launch_cost_usd(ctx: ToolContext, backend: str | None, spec: JobSpec,
                               count: int) -> float | None:
    """Dollars ``count`` jobs like ``spec`` cost if each runs to its time limit, from the
    backend's own estimate; None on a free backend or for an unpriced flavor. A spec the
    backend would refuse (e.g. GPUs without a flavor) raises ToolError before approval."""
    chosen = backend or ctx.settings.job_backend
    if chosen not in PAID_BACKENDS or count <= 0:
        return None
    estimate = getattr(get_backend(ctx, chosen), "estimate_cost_usd", None)
    if not callable(estimate):
        return None
    try:
        one: float | None = await estimate(spec)
    except JobBackendError as exc:
        raise ToolError(str(exc)) from None
    return None if one is None else round(one * count, 4)


async def paid_launch_forecast(ctx: ToolContext, backend: str | None, spec: JobSpec,
                               count: int) -> str:
    """The approval's forecast for ``count`` launches like ``spec``: hardware × time limit
    and, when the same script ran before on that backend, what those runs cost."""
    chosen = backend or ctx.settings.job_backend
    if chosen not in PAID_BACKENDS or count <= 0:
        return ""
    forecast = getattr(get_backend(ctx, chosen), "forecast", None)
    if not callable(forecast):
        return ""
    try:
        plan: dict[str, Any] = await forecast(spec)
    except JobBackendError:
        return ""
    runs = f"{count} runs" if count > 1 else "the run"
    parts = []
    if plan.get("limit_usd") is not None and plan.get("hourly_usd") is not None:
        parts.append(f"at most ${plan['limit_usd'] * count:.2f} if {runs} last"
                     f"{'s' if count == 1 else ''} the {plan['timeout_s'] / 60:.0f} min limit "
                     f"({plan['flavor']} at ${plan['hourly_usd']:.2f}/h)")
    if plan.get("runs"):
        parts.append(f"about ${plan['expected_usd'] * count:.2f} expected from "
                     f"{plan['runs']} earlier run{'s' if plan['runs'] > 1 else ''} of "
                     f"`{plan['script']}` ({plan['mean_duration_s']:.0f} s on average)")
    return "; ".join(parts)


class JobsParams(HardwareFields):
    """Arguments of the jobs tool."""

    operation: Literal["submit", "status", "logs", "metrics", "cancel", "list", "wait"] = Field(
        description="submit a command; status/logs/metrics/cancel/wait on job_ids; list jobs."
    )
    command: str | None = Field(None, description="submit: bash command.")
    name: str = Field("", description="submit: short name.")
    workdir: str = Field(".", description="submit: directory in the workspace.",
                         json_schema_extra=GUIDE_ONLY)
    timeout_s: float | None = Field(None, gt=0, description="submit: time limit, s.")
    gpus: int = Field(0, ge=0, le=64, description="submit: GPUs.")
    env: dict[str, str] = Field(default_factory=dict, description="submit: extra env, no secrets.",
                                json_schema_extra=GUIDE_ONLY)
    job_ids: list[str] = Field(default_factory=list, description="Jobs to act on.")
    tail: int = Field(80, ge=0, le=5000, description="logs: last N lines.")
    grep: str | None = Field(None, description="logs: regex filter.", json_schema_extra=GUIDE_ONLY)
    wait_timeout_s: float = Field(60.0, gt=0, le=600, description="wait: seconds at most.")
    backend: str | None = Field(None, description="local, ray or hf (default: configured).")


class Jobs(Tool[JobsParams]):
    """Run detached compute jobs and watch them (status, logs, metrics, wait); they keep
    running while you work. Prefer experiment/sweep for runs you will compare.

    - submit: start `command` (bash, in the sandbox, in `workdir`) and return a job id at
      once. Report metrics from the job with `from openintern import track;
      track.log(step=i, loss=...)`, or print JSON lines with a "step" key; transformers
      Trainer log lines are recognised too.
    - status / logs (tail, grep) / metrics (last/min/max/count per metric) / cancel: per id.
    - list: recent jobs.
    - wait: block until one of job_ids finishes, an alert fires (NaN or diverging loss
      stops a job early), or wait_timeout_s passes — then check again or do other work.
    For experiments you want to compare later, prefer the `experiment` and `sweep` tools.
    backend=hf runs on Hugging Face hardware (choose `flavor`; `pip`, `image`, `secrets` by
    name): it costs money, so the user is asked to approve it with a cost estimate.

    Hardware (also for experiment run and sweep): flavor is billed per minute: cpu-basic
    (default, cheapest), cpu-upgrade, t4-small, t4-medium, l4x1, a10g-small, a10g-large,
    a100-large, h200, ... Pick the smallest that fits; required when gpus > 0; ignored by
    local. image: the container to run in (default python:3.12). secrets: NAMES of secrets
    the job needs, e.g. ["WANDB_API_KEY"]; the backend passes them as encrypted job
    secrets, taking the values from the agent's environment; never write a secret value
    anywhere. pip: requirements the job installs before the command on remote backends
    (e.g. ["scikit-learn==1.5.2"]). timeout_s: on hf the cost estimate assumes the job runs
    this long (default 1 h).
    """

    name = "jobs"

    def approval_reason(self, params: JobsParams, ctx: ToolContext) -> str | None:
        """Submitting to paid hardware, or with secrets, needs approval."""
        if params.operation != "submit" or not params.command:
            return None  # nothing would be launched
        return launch_reason(ctx, params, params.backend, 1)

    def forwarded_secrets(self, params: JobsParams, ctx: ToolContext) -> list[str]:
        """The secrets a submit hands to the job."""
        return list(params.secrets) if params.operation == "submit" else []

    async def cost_estimate_usd(self, params: JobsParams, ctx: ToolContext) -> float | None:
        """The submitted job's cost if it runs to its time limit (paid backends only)."""
        if paid_launch_reason(ctx, params.backend, params.flavor, 1) is None:
            return None
        return await paid_launch_cost_usd(ctx, params.backend, self._spec(params, ctx), 1)

    async def cost_forecast(self, params: JobsParams, ctx: ToolContext) -> str:
        """Hardware × limit, and earlier runs of the same script (paid backends only)."""
        if self.approval_reason(params, ctx) is None:
            return ""
        return await paid_launch_forecast(ctx, params.backend, self._spec(params, ctx), 1)

    @staticmethod
    def _spec(p: JobsParams, ctx: ToolContext) -> JobSpec:
        if not p.command:
            raise ToolError("submit needs a command")
        return JobSpec(command=p.command, workdir=Path(ctx.resolve_path(p.workdir)),
                       name=p.name, env=dict(p.env), timeout_s=p.timeout_s, gpus=p.gpus,
                       **p.hardware())

    async def run(self, params: JobsParams, ctx: ToolContext) -> ToolResult:
        """Dispatch the operation."""
        backend = get_backend(ctx, params.backend)
        op = params.operation
        try:
            if op == "submit":
                return await self._submit(params, ctx, backend)
            if op == "list":
                return await self._list(backend)
            if not params.job_ids:
                raise ToolError(f"{op} needs job_ids (from submit or list)")
            if op == "wait":
                return await self._wait(params, ctx, backend)
            parts: list[str] = []
            data: dict[str, Any] = {}
            for job_id in params.job_ids:
                text, item = await self._one(op, job_id, params, ctx, backend)
                parts.append(text)
                data[job_id] = item
            return ToolResult("\n\n".join(parts), data={"jobs": data})
        except JobBackendError as exc:
            raise ToolError(str(exc)) from None

    async def _submit(self, p: JobsParams, ctx: ToolContext, backend: JobBackend) -> ToolResult:
        p.secret_reason(ctx)  # refuses names outside the allowlist (also after an edit)
        spec = self._spec(p, ctx)
        job_id = await backend.submit(spec)
        status = await backend.status(job_id)
        ctx.emit(JobUpdate(job_id=job_id, backend=backend.name, status=status.state,
                           detail=p.name))
        note = await private_note(ctx, backend.name, spec.workdir)
        return ToolResult(f"Submitted job {job_id} on {backend.name}: {status.state}. "
                          f"Use jobs wait/metrics/logs with this id.{note}",
                          data={"job_id": job_id, "backend": backend.name,
                                "state": status.state})

    async def _list(self, backend: JobBackend) -> ToolResult:
        lister = getattr(backend, "list_jobs", None)
        if not callable(lister):
            raise ToolError(f"the {backend.name} backend cannot list jobs; use the ids "
                            "returned by submit")
        statuses: list[JobStatus] = await lister()
        if not statuses:
            return ToolResult("No jobs yet.", data={"jobs": []})
        return ToolResult("\n".join(status_line(s) for s in statuses),
                          data={"jobs": [s.job_id for s in statuses]})

    async def _one(self, op: str, job_id: str, p: JobsParams, ctx: ToolContext,
                   backend: JobBackend) -> tuple[str, Any]:
        if op == "status":
            status = await self._synced(job_id, ctx, backend) or await backend.status(job_id)
            detail = f"\n{status.detail}" if status.detail else ""
            return status_line(status) + detail, status.state
        if op == "logs":
            text = await _logs(backend, job_id, p.tail, p.grep)
            return f"--- {job_id} (last {p.tail} lines) ---\n{text}", len(text)
        if op == "metrics":
            await self._synced(job_id, ctx, backend)
            summary = summarise(await job_points(backend, job_id))
            return (f"--- {job_id} metrics ---\n{format_summary(summary)}",
                    {k: v.last for k, v in summary.items()})
        status = await backend.cancel(job_id)
        ctx.emit(JobUpdate(job_id=job_id, backend=backend.name, status=status.state))
        return status_line(status), status.state

    async def _synced(self, job_id: str, ctx: ToolContext, backend: JobBackend
                      ) -> JobStatus | None:
        """If the job runs a ledger experiment, bring the record up to date (a resumed
        agent's first look at a job that finished meanwhile must reach the ledger too);
        returns the job's status when it was read, else None."""
        ledger = get_ledger(ctx)
        exp = ledger.find_by_job(backend.name, job_id) if ledger is not None else None
        if exp is None or ledger is None or exp.done:
            return None
        from openintern.research.runner import sync

        return (await sync(ledger, exp.id, backend)).job

    async def _check(self, job_id: str, ctx: ToolContext, backend: JobBackend,
                     ledger: Ledger | None) -> tuple[JobStatus, list[Alert]]:
        """Status of one job plus alerts (stopping the job when a rule says so)."""
        exp = ledger.find_by_job(backend.name, job_id) if ledger is not None else None
        if exp is not None and ledger is not None:
            from openintern.research.runner import sync

            result = await sync(ledger, exp.id, backend)
            assert result.job is not None or result.experiment.done
            status = result.job or await backend.status(job_id)
            return status, result.alerts
        status = await backend.status(job_id)
        if status.done:
            return status, []
        alerts = check_alerts(await job_points(backend, job_id))
        if any(a.stop for a in alerts):
            status = await backend.cancel(job_id)
            status.detail = "stopped early by an alert"
        return status, alerts

    async def _wait(self, p: JobsParams, ctx: ToolContext, backend: JobBackend) -> ToolResult:
        ledger = get_ledger(ctx)
        deadline = time.monotonic() + p.wait_timeout_s
        seen: dict[str, str] = {}
        # Local jobs wake the wait through their run directories; others are polled.
        async with JobWatch(backend, p.job_ids, poll_s=_POLL_S) as watch:
            while True:
                statuses: dict[str, JobStatus] = {}
                fired: list[tuple[str, Alert]] = []
                for job_id in p.job_ids:
                    status, alerts = await self._check(job_id, ctx, backend, ledger)
                    statuses[job_id] = status
                    fired += [(job_id, a) for a in alerts]
                    if seen.get(job_id) != status.state:
                        seen[job_id] = status.state
                        ctx.emit(JobUpdate(job_id=job_id, backend=backend.name,
                                           status=status.state, detail=status.detail[:200]))
                finished = [j for j, s in statuses.items() if s.done]
                if finished or fired or time.monotonic() >= deadline:
                    break
                await watch.changed(deadline - time.monotonic())
        lines = [status_line(s) for s in statuses.values()]
        lines += [f"ALERT {j}: {a.message}" + (" (job stopped)" if a.stop else "")
                  for j, a in fired]
        for j in finished:
            if statuses[j].state != "succeeded" and statuses[j].detail:
                lines.append(f"--- {j} ---\n{statuses[j].detail[-2000:]}")
        why = ("finished: " + ", ".join(finished)) if finished else (
            "alert" if fired else f"still running after {p.wait_timeout_s:g}s")
        return ToolResult(f"wait returned ({why})\n" + "\n".join(lines),
                          data={"states": {j: s.state for j, s in statuses.items()},
                                "finished": finished,
                                "alerts": [a.message for _, a in fired]})
