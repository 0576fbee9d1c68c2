"""The ``experiment`` and ``sweep`` tools: the agent's interface to the ledger.

Needs ``ctx.services["ledger"]`` (a :class:`~openintern.research.ledger.Ledger`); job
backends come from ``ctx.services["backends"]`` like the jobs tool. Runs on a paid backend
(Hugging Face Jobs) need the user's approval, asked once per call with the total estimate.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from openintern.compute.base import JobBackendError, JobSpec
from openintern.compute.metrics import format_summary, summarise
from openintern.events import ExperimentUpdate
from openintern.research.ledger import ExperimentRecord, Ledger, LedgerError
from openintern.research.report import render_experiment_table
from openintern.research.runner import launch, sync
from openintern.research.snapshot import take_snapshot
from openintern.research.stats import format_ranking, group_by_config, rank
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult
from openintern.tools.jobs import (
    HardwareFields,
    get_backend,
    launch_reason,
    paid_launch_cost_usd,
    paid_launch_forecast,
    paid_launch_reason,
    private_note,
)
from openintern.tools.schema import GUIDE_ONLY

_MAX_SWEEP_RUNS = 200


def _ledger(ctx: ToolContext) -> Ledger:
    ledger = ctx.services.get("ledger")
    if ledger is None:
        raise ToolError("the experiment ledger is not available in this session; use the "
                        "jobs tool to run commands")
    assert isinstance(ledger, Ledger)
    return ledger


def _emit(ctx: ToolContext, exp: ExperimentRecord) -> None:
    finite = {k: v for k, v in exp.final_metrics.items() if v == v}
    ctx.emit(ExperimentUpdate(experiment_id=exp.id, status=exp.status, metrics=finite))


async def _sync_running(ctx: ToolContext, ledger: Ledger, exps: list[ExperimentRecord]
                        ) -> list[ExperimentRecord]:
    """Bring running experiments up to date (metrics, state, alerts)."""
    out: list[ExperimentRecord] = []
    for exp in exps:
        if exp.job_id and not exp.done and exp.backend:
            before = exp.status
            exp = (await sync(ledger, exp.id, get_backend(ctx, exp.backend))).experiment
            if exp.status != before:
                _emit(ctx, exp)
        out.append(exp)
    return out


def _estimate_spec(timeout_s: float | None, gpus: int, fields: HardwareFields,
                   ctx: ToolContext) -> JobSpec:
    """A spec with what a cost estimate depends on (hardware and time limit)."""
    return JobSpec(command="", workdir=ctx.workspace, timeout_s=timeout_s, gpus=gpus,
                   **fields.hardware())


class ExperimentParams(HardwareFields):
    """Arguments of the experiment tool."""

    operation: Literal["declare", "run", "status", "compare", "conclude"]
    experiment_id: str | None = Field(None, description="run/status/conclude: experiment.")
    name: str = Field("", description="declare/run: short name.")
    hypothesis: str = Field("", description="declare/run: expectation and why.")
    parent_id: str | None = Field(None, description="declare/run: experiment it builds on.",
                                  json_schema_extra=GUIDE_ONLY)
    command: str | None = Field(None, description="declare/run: bash; {param}, {seed} filled.")
    config: dict[str, Any] = Field(default_factory=dict, description="Hyper-parameters.")
    seed: int | None = None
    data_paths: list[str] = Field(default_factory=list, description="Data to fingerprint.",
                                  json_schema_extra=GUIDE_ONLY)
    primary_metric: str | None = Field(None, description="Deciding metric, e.g. val_acc.")
    mode: Literal["min", "max"] | None = None
    workdir: str = Field(".", json_schema_extra=GUIDE_ONLY)
    backend: str | None = Field(None, description="run: local, ray or hf.")
    timeout_s: float | None = Field(None, gt=0, description="run: time limit, s.",
                                    json_schema_extra=GUIDE_ONLY)
    gpus: int = Field(0, ge=0, le=64, description="run: GPUs.")
    experiment_ids: list[str] | None = Field(None, description="compare: these (default: all).")
    sweep_id: str | None = Field(None, description="compare: one sweep's runs.")
    metric: str | None = Field(None, description="compare: default primary.")
    baseline_id: str | None = Field(None, description="compare: baseline for Welch's t-test.")
    conclusion: str = Field("", description="conclude: what it shows.")
    best: bool = Field(False, description="conclude: mark the best so far.")


class Experiment(Tool[ExperimentParams]):
    """Tracked experiments: declare, run (declares if needed), status, compare configs
    (mean ± 95% CI over seeds, Welch's t-test), conclude. Repeat seeds before claiming.

    Every run is recorded with its hypothesis, parent, config, seed, code snapshot and data
    fingerprint, metric series and final metrics. Workflow: `run` (name, hypothesis,
    command, config, seed, primary_metric) → `status` (metrics so far; alerts) →
    `compare` (per configuration: mean ± 95% CI over seeds and Welch's t-test p-value vs
    baseline_id; single-seed results are flagged, never ranked above repeated ones) →
    `conclude` (conclusion; best=true marks the winner). Run several seeds per config
    (or use the sweep tool) before claiming an improvement. backend=hf runs on Hugging Face
    hardware (`flavor`, `pip`, `image`, `secrets` by name; see `help jobs`) and needs the
    user's approval. command placeholders {param} and {seed} are filled from config and
    seed (also env OPENINTERN_SEED); mode (min/max) defaults from the metric's name;
    workdir is a directory inside the workspace.
    """

    name = "experiment"

    def approval_reason(self, params: ExperimentParams, ctx: ToolContext) -> str | None:
        """Running on paid hardware needs approval; declaring or reading does not."""
        if params.operation != "run" or not (params.experiment_id or params.command):
            return None  # nothing would be launched
        return launch_reason(ctx, params, params.backend, 1)

    def forwarded_secrets(self, params: ExperimentParams, ctx: ToolContext) -> list[str]:
        """The secrets a run hands to its job."""
        return list(params.secrets) if params.operation == "run" else []

    async def cost_estimate_usd(self, params: ExperimentParams, ctx: ToolContext
                                ) -> float | None:
        """The run's cost if it lasts its whole time limit (paid backends only)."""
        if params.operation != "run" or paid_launch_reason(
                ctx, params.backend, params.flavor, 1) is None:
            return None
        spec = _estimate_spec(params.timeout_s, params.gpus, params, ctx)
        return await paid_launch_cost_usd(ctx, params.backend, spec, 1)

    async def cost_forecast(self, params: ExperimentParams, ctx: ToolContext) -> str:
        """Hardware × limit, and earlier runs of the same script (paid backends only)."""
        if self.approval_reason(params, ctx) is None:
            return ""
        spec = _estimate_spec(params.timeout_s, params.gpus, params, ctx)
        spec.command = params.command or ""
        if params.experiment_id and not params.command:
            spec.command = _ledger(ctx).get(params.experiment_id).command
        return await paid_launch_forecast(ctx, params.backend, spec, 1)

    async def run(self, params: ExperimentParams, ctx: ToolContext) -> ToolResult:
        """Dispatch the operation."""
        ledger = _ledger(ctx)
        try:
            handler = getattr(self, f"_{params.operation}")
            result: ToolResult = await handler(params, ctx, ledger)
            return result
        except (LedgerError, JobBackendError, ValueError) as exc:
            raise ToolError(str(exc)) from None

    def _declare_record(self, p: ExperimentParams, ctx: ToolContext, ledger: Ledger
                        ) -> ExperimentRecord:
        if not p.command:
            raise ToolError("declare/run needs a command")
        return ledger.declare(
            session_id=ctx.session_id, name=p.name, command=p.command,
            hypothesis=p.hypothesis, config=p.config, seed=p.seed, parent_id=p.parent_id,
            workdir=str(ctx.resolve_path(p.workdir)), data_paths=p.data_paths,
            primary_metric=p.primary_metric, mode=p.mode,
        )

    async def _declare(self, p: ExperimentParams, ctx: ToolContext, ledger: Ledger
                       ) -> ToolResult:
        exp = self._declare_record(p, ctx, ledger)
        _emit(ctx, exp)
        return ToolResult(f"Declared experiment {exp.id} ({exp.name}); start it with "
                          f"operation=run experiment_id={exp.id}.", data={"experiment_id": exp.id})

    async def _run(self, p: ExperimentParams, ctx: ToolContext, ledger: Ledger) -> ToolResult:
        p.secret_reason(ctx)  # refuses names outside the allowlist (also after an edit)
        exp = ledger.get(p.experiment_id) if p.experiment_id else self._declare_record(
            p, ctx, ledger)
        try:
            backend = get_backend(ctx, p.backend)
            exp = await launch(ledger, exp.id, backend, ctx.workspace, timeout_s=p.timeout_s,
                               gpus=p.gpus, **p.hardware())
        except (ToolError, LedgerError, JobBackendError) as exc:
            # The record stays in the ledger (declared): say so, and how to retry it.
            kept = ledger.get(exp.id)
            if kept.status != "declared":
                raise ToolError(str(exc)) from None
            raise ToolError(f"{exc}\nExperiment {kept.id} is kept in the ledger (declared, "
                            "not started); once that is fixed, start it with "
                            f"operation=run experiment_id={kept.id}.") from None
        _emit(ctx, exp)
        note = await private_note(ctx, backend.name, Path(exp.workdir or ctx.workspace))
        return ToolResult(
            f"Experiment {exp.id} running as {backend.name} job {exp.job_id} (code "
            f"{(exp.code_hash or '')[:12]}). Watch it with jobs wait job_ids=[{exp.job_id!r}] "
            f"or experiment status.{note}",
            data={"experiment_id": exp.id, "job_id": exp.job_id, "backend": backend.name})

    async def _status(self, p: ExperimentParams, ctx: ToolContext, ledger: Ledger
                      ) -> ToolResult:
        if not p.experiment_id:
            await _sync_running(ctx, ledger, ledger.experiments(ctx.session_id))
            table = render_experiment_table(ledger, ctx.session_id, max_rows=20)
            return ToolResult(table or "No experiments in this session yet.")
        (exp,) = await _sync_running(ctx, ledger, [ledger.get(p.experiment_id)])
        summary = summarise(await asyncio.to_thread(ledger.series, exp.id))
        lines = [f"Experiment {exp.id} {exp.name}: {exp.status} "
                 f"({exp.backend}:{exp.job_id})", f"config {exp.config} seed {exp.seed}",
                 format_summary(summary)]
        lines += [f"ALERT: {a}" for a in exp.alerts]
        if exp.status in ("failed", "timeout", "unknown") and exp.status_detail:
            lines.append(exp.status_detail[-2000:])
        return ToolResult("\n".join(lines), data={"status": exp.status,
                                                  "final_metrics": exp.final_metrics})

    async def _compare(self, p: ExperimentParams, ctx: ToolContext, ledger: Ledger
                       ) -> ToolResult:
        exps = ledger.experiments(None if p.experiment_ids else ctx.session_id,
                                  sweep_id=p.sweep_id, ids=p.experiment_ids)
        exps = await _sync_running(ctx, ledger, exps)
        metric = p.metric or next((e.primary_metric for e in exps if e.primary_metric), None)
        if metric is None:
            raise ToolError("compare needs a metric (none of the experiments declared a "
                            "primary_metric)")
        declared = next((e.mode for e in exps if e.primary_metric == metric), None)
        mode = p.mode or declared or ("min" if ledger_lower(metric) else "max")
        baseline_key = ledger.get(p.baseline_id).config_key if p.baseline_id else None
        ranking = rank(group_by_config(exps, metric), "min" if mode == "min" else "max",
                       metric, baseline_key)
        unfinished = [e.id for e in exps if not e.done]
        text = format_ranking(ranking)
        if unfinished:
            text += f"\nNot finished yet (excluded): {', '.join(unfinished)}"
        return ToolResult(text, data={
            "metric": metric,
            "best": ranking.best.experiment_ids if ranking.best else [],
            "rows": [{"config": r.config_key, "mean": r.mean, "n": r.n,
                      "ci": [r.ci_low, r.ci_high],
                      "p_value": r.vs_baseline.p_value if r.vs_baseline else None}
                     for r in ranking.rows]})

    async def _conclude(self, p: ExperimentParams, ctx: ToolContext, ledger: Ledger
                        ) -> ToolResult:
        if not p.experiment_id or not p.conclusion:
            raise ToolError("conclude needs experiment_id and conclusion")
        exp = ledger.conclude(p.experiment_id, p.conclusion, best=p.best)
        _emit(ctx, exp)
        return ToolResult(f"Concluded {exp.id}" + (" (marked best)" if p.best else ""),
                          data={"experiment_id": exp.id})


def ledger_lower(metric: str) -> bool:
    """Whether lower is better for ``metric`` (by name)."""
    from openintern.research.ledger import lower_is_better

    return lower_is_better(metric)


class SweepParams(HardwareFields):
    """Arguments of the sweep tool."""

    name: str
    hypothesis: str = ""
    command: str = Field(description="Template with {param} and {seed}.")
    space: dict[str, list[Any]] = Field(
        description='Values per parameter, e.g. {"lr": [0.1, 0.01]}.'
    )
    strategy: Literal["grid", "random"] = "grid"
    n_configs: int = Field(8, ge=1, le=_MAX_SWEEP_RUNS, description="random: how many.",
                           json_schema_extra=GUIDE_ONLY)
    seeds: int = Field(3, ge=1, le=20, description="Seeds per configuration.")
    primary_metric: str | None = None
    mode: Literal["min", "max"] | None = None
    parent_id: str | None = Field(None, json_schema_extra=GUIDE_ONLY)
    data_paths: list[str] = Field(default_factory=list, json_schema_extra=GUIDE_ONLY)
    workdir: str = Field(".", json_schema_extra=GUIDE_ONLY)
    backend: str | None = None
    timeout_s: float | None = Field(None, gt=0, description="Per-run time limit, s.",
                                    json_schema_extra=GUIDE_ONLY)
    gpus: int = Field(0, ge=0, le=64, description="GPUs per run.")


class Sweep(Tool[SweepParams]):
    """Launch a grid or random search, every configuration × seeds, each run a tracked
    experiment; then jobs wait and experiment compare sweep_id=….

    Runs start in parallel (the backend queues what does not fit). The command is a
    template ({lr}, {seed}; also env OPENINTERN_SEED and OPENINTERN_PARAMS); seeds are
    0..seeds-1; strategy grid takes all combinations, random takes n_configs of them.
    Returns the sweep id and experiment ids; then use jobs wait on the job ids and
    `experiment compare sweep_id=…` for mean ± CI per configuration. On backend=hf
    (Hugging Face hardware, `flavor`; see `help jobs`) every run costs money: the user
    approves the total; timeout_s is what the estimate assumes per run (default 1 h).
    """

    name = "sweep"

    def approval_reason(self, params: SweepParams, ctx: ToolContext) -> str | None:
        """A sweep on paid hardware needs one approval for all its runs."""
        try:
            total = len(_configurations(params)) * params.seeds
        except ToolError:
            return None  # run refuses it before launching anything
        return launch_reason(ctx, params, params.backend, total)

    def forwarded_secrets(self, params: SweepParams, ctx: ToolContext) -> list[str]:
        """The secrets every run of the sweep gets."""
        return list(params.secrets)

    async def cost_estimate_usd(self, params: SweepParams, ctx: ToolContext
                                ) -> float | None:
        """Every run's cost at its time limit, summed (paid backends only)."""
        try:
            total = len(_configurations(params)) * params.seeds
        except ToolError:
            return None
        if paid_launch_reason(ctx, params.backend, params.flavor, total) is None:
            return None
        spec = _estimate_spec(params.timeout_s, params.gpus, params, ctx)
        return await paid_launch_cost_usd(ctx, params.backend, spec, total)

    async def cost_forecast(self, params: SweepParams, ctx: ToolContext) -> str:
        """The whole sweep: hardware × limit per run, and earlier runs of its script."""
        if self.approval_reason(params, ctx) is None:
            return ""
        total = len(_configurations(params)) * params.seeds
        spec = _estimate_spec(params.timeout_s, params.gpus, params, ctx)
        spec.command = params.command
        return await paid_launch_forecast(ctx, params.backend, spec, total)

    async def run(self, params: SweepParams, ctx: ToolContext) -> ToolResult:
        """Expand the space, declare and launch every run."""
        params.secret_reason(ctx)  # refuses names outside the allowlist (also after an edit)
        ledger = _ledger(ctx)
        grid = _configurations(params)
        total = len(grid) * params.seeds
        backend = get_backend(ctx, params.backend)
        snapshot = await asyncio.to_thread(take_snapshot, ctx.workspace)
        sweep_id = uuid.uuid4().hex[:10]
        workdir = str(ctx.resolve_path(params.workdir))
        ids: list[str] = []
        jobs: list[str] = []
        try:
            for config in grid:
                for seed in range(params.seeds):
                    exp = ledger.declare(
                        session_id=ctx.session_id, name=params.name, command=params.command,
                        hypothesis=params.hypothesis, config=config, seed=seed,
                        parent_id=params.parent_id, sweep_id=sweep_id, workdir=workdir,
                        data_paths=params.data_paths, primary_metric=params.primary_metric,
                        mode=params.mode,
                    )
                    exp = await launch(ledger, exp.id, backend, Path(ctx.workspace),
                                       timeout_s=params.timeout_s, gpus=params.gpus,
                                       snapshot=snapshot, **params.hardware())
                    ids.append(exp.id)
                    jobs.append(exp.job_id or "")
                    _emit(ctx, exp)
        except (LedgerError, JobBackendError) as exc:
            raise ToolError(f"{exc} (already launched: {', '.join(ids) or 'none'})") from None
        note = await private_note(ctx, backend.name, Path(workdir))
        return ToolResult(
            f"Sweep {sweep_id}: {len(grid)} configurations × {params.seeds} seeds = {total} "
            f"runs on {backend.name}.\nexperiments: {', '.join(ids)}\njob_ids: "
            f"{', '.join(jobs)}\nCompare with experiment operation=compare "
            f"sweep_id={sweep_id}.{note}",
            data={"sweep_id": sweep_id, "experiment_ids": ids, "job_ids": jobs})


def _configurations(params: SweepParams) -> list[dict[str, Any]]:
    """The sweep's configurations (grid, or a fixed random sample of it); ToolError when
    the space is empty or the sweep would start more than the maximum number of runs."""
    if not params.space or any(not v for v in params.space.values()):
        raise ToolError("space needs at least one value for every parameter")
    names = sorted(params.space)
    grid = [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(params.space[n] for n in names))]
    if params.strategy == "random" and params.n_configs < len(grid):
        grid = random.Random(0).sample(grid, params.n_configs)
    total = len(grid) * params.seeds
    if total > _MAX_SWEEP_RUNS:
        raise ToolError(f"the sweep would start {total} runs (max {_MAX_SWEEP_RUNS}); "
                        "use strategy=random with fewer n_configs or fewer seeds")
    return grid
