"""The jobs, experiment and sweep tools end to end: ToolRegistry.parse + run with a real
ToolContext (real store, real ledger, real local jobs)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openintern.events import EventBase
from openintern.research import Ledger
from openintern.tools.base import ToolContext, ToolError, ToolRegistry, ToolResult
from openintern.tools.experiment import Experiment, Sweep
from openintern.tools.jobs import Jobs

REGISTRY = ToolRegistry([Jobs(), Experiment(), Sweep()])


async def call(ctx: ToolContext, tool_name: str, /, **args: Any) -> ToolResult:
    tool, params = REGISTRY.parse(tool_name, json.dumps(args))
    return await tool.run(params, ctx)


async def wait_all(ctx: ToolContext, job_ids: list[str]) -> None:
    pending = list(job_ids)
    for _ in range(60):
        result = await call(ctx, "jobs", operation="wait", job_ids=pending, wait_timeout_s=20)
        pending = [j for j in pending if j not in result.data["finished"]]
        if not pending:
            return
    raise AssertionError(f"jobs still running: {pending}")


async def test_jobs_tool_submit_wait_metrics_logs_cancel(ctx: ToolContext,
                                                         events: list[EventBase]) -> None:
    sub = await call(ctx, "jobs", operation="submit", command="python train.py --epochs 2",
                     name="digits")
    job = sub.data["job_id"]
    waited = await call(ctx, "jobs", operation="wait", job_ids=[job], wait_timeout_s=60)
    assert waited.data["finished"] == [job] and waited.data["states"][job] == "succeeded"
    metrics = await call(ctx, "jobs", operation="metrics", job_ids=[job])
    assert "val_acc | 2 |" in metrics.text and "loss | 2 |" in metrics.text
    logs = await call(ctx, "jobs", operation="logs", job_ids=[job], tail=5, grep="^epoch")
    assert logs.text.count("epoch") == 2
    listed = await call(ctx, "jobs", operation="list")
    assert job in listed.text
    slow = (await call(ctx, "jobs", operation="submit", command="sleep 30")).data["job_id"]
    short = await call(ctx, "jobs", operation="wait", job_ids=[slow], wait_timeout_s=0.5)
    assert "still running" in short.text
    cancelled = await call(ctx, "jobs", operation="cancel", job_ids=[slow])
    assert cancelled.data["jobs"][slow] == "cancelled"
    kinds = [(e.type, getattr(e, "status", "")) for e in events]  # type: ignore[attr-defined]
    assert ("job_update", "succeeded") in kinds and ("job_update", "cancelled") in kinds
    with pytest.raises(ToolError, match="job_ids"):
        await call(ctx, "jobs", operation="status")
    with pytest.raises(ToolError, match="invalid arguments"):
        REGISTRY.parse("jobs", json.dumps({"operation": "explode"}))


async def test_jobs_wait_returns_on_alert(ctx: ToolContext) -> None:
    job = (await call(ctx, "jobs", operation="submit",
                      command="python train.py --epochs 40 --sleep 0.5 --nan-at 1")
           ).data["job_id"]
    waited = await call(ctx, "jobs", operation="wait", job_ids=[job], wait_timeout_s=60)
    assert waited.data["alerts"] and "nan" in waited.data["alerts"][0]
    status = await call(ctx, "jobs", operation="status", job_ids=[job])
    assert "cancelled" in status.text


async def test_sweep_then_compare_and_conclude(ctx: ToolContext, ledger: Ledger) -> None:
    sweep = await call(ctx, "sweep", name="lr sweep", hypothesis="smaller lr is steadier",
                       command="python train.py --lr {lr} --epochs 2 --seed {seed}",
                       space={"lr": [0.5, 0.02]}, seeds=2, primary_metric="val_acc")
    assert len(sweep.data["experiment_ids"]) == 4
    await wait_all(ctx, sweep.data["job_ids"])
    baseline = sweep.data["experiment_ids"][0]  # an lr=0.5 run
    compared = await call(ctx, "experiment", operation="compare",
                          sweep_id=sweep.data["sweep_id"], baseline_id=baseline)
    assert "(n=2)" in compared.text and "baseline" in compared.text
    assert len(compared.data["rows"]) == 2
    assert all(r["n"] == 2 and r["ci"][0] <= r["mean"] <= r["ci"][1]
               for r in compared.data["rows"])
    assert any(r["p_value"] is not None for r in compared.data["rows"])
    best_id = compared.data["best"][0]
    concluded = await call(ctx, "experiment", operation="conclude", experiment_id=best_id,
                           conclusion="best lr", best=True)
    assert "marked best" in concluded.text and ledger.get(best_id).is_best
    status = await call(ctx, "experiment", operation="status")
    assert "Best so far on val_acc" in status.text and "Marked best" in status.text


async def test_experiment_run_and_status(ctx: ToolContext, events: list[EventBase]) -> None:
    run = await call(ctx, "experiment", operation="run", name="one", command=
                     "python train.py --epochs 2", seed=0, primary_metric="val_acc",
                     hypothesis="it learns", config={"epochs": 2})
    exp_id, job = run.data["experiment_id"], run.data["job_id"]
    await wait_all(ctx, [job])
    status = await call(ctx, "experiment", operation="status", experiment_id=exp_id)
    assert status.data["status"] == "succeeded" and "val_acc" in status.data["final_metrics"]
    assert any(e.type == "experiment_update" for e in events)  # type: ignore[attr-defined]
    with pytest.raises(ToolError, match="already run"):
        await call(ctx, "experiment", operation="run", experiment_id=exp_id)
    with pytest.raises(ToolError, match=r"\{lr\}"):
        await call(ctx, "experiment", operation="run", name="bad",
                   command="python train.py --lr {lr}")
