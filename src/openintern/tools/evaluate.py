"""The ``evaluate`` tool: benchmark a model under recorded conditions, compare two
evaluations, check training data for contamination. Needs ``ctx.services["ledger"]``;
evaluations run as jobs on the session's backends (like experiments)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from openintern.compute.base import JobBackendError
from openintern.evaluation.conditions import REGISTRY, Decoding
from openintern.evaluation.contamination import DEFAULT_THRESHOLD
from openintern.research.ledger import Ledger, LedgerError
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult
from openintern.tools.jobs import (
    HardwareFields,
    get_backend,
    paid_launch_cost_usd,
    paid_launch_reason,
)
from openintern.tools.schema import GUIDE_ONLY


def _ledger(ctx: ToolContext) -> Ledger:
    ledger = ctx.services.get("ledger")
    if not isinstance(ledger, Ledger):
        raise ToolError("the experiment ledger is not available in this session")
    return ledger


class EvaluateParams(HardwareFields):
    """Arguments of the evaluate tool."""

    operation: Literal["run", "result", "compare", "contamination"] = Field(
        "run", description="run a model; result of a run; compare candidate and baseline; "
        "contamination of train_data in task.")
    model: str | None = Field(None, description="Checkpoint folder, Hub id or inspect model id "
                              "(openai-api/...).")
    task: str | None = Field(None, description="JSONL/CSV file (input, target, choices) or "
                             f"benchmark: {', '.join(sorted(REGISTRY))}.")
    kind: Literal["mc", "exact", "judged"] = Field("mc", description="Local task scoring.")
    limit: int | None = Field(None, ge=1, description="Evaluate the first N samples.")
    split: str = Field("test", json_schema_extra=GUIDE_ONLY)
    seed: int = Field(0, json_schema_extra=GUIDE_ONLY)
    temperature: float = Field(0.0, ge=0, le=2, json_schema_extra=GUIDE_ONLY)
    max_tokens: int = Field(16, ge=1, le=32_768, json_schema_extra=GUIDE_ONLY)
    template: str | None = Field(None, description="mc prompt with {question} {choices} "
                                 "{letters} (default inspect's).", json_schema_extra=GUIDE_ONLY)
    few_shot: list[dict[str, Any]] = Field(default_factory=list,
                                           description="Examples {input, target}.",
                                           json_schema_extra=GUIDE_ONLY)
    chain_of_thought: bool = Field(False, json_schema_extra=GUIDE_ONLY)
    judge: str | None = Field(None, description="judged: grader model id.")
    revision: str | None = Field(None, description="Hub revision to pin.",
                                 json_schema_extra=GUIDE_ONLY)
    api_base: str | None = Field(None, description="Endpoint base URL.",
                                 json_schema_extra=GUIDE_ONLY)
    train_data: list[str] = Field(default_factory=list, description="contamination: "
                                  "training files.")
    threshold: float = Field(DEFAULT_THRESHOLD, ge=0, le=1,
                             description="Contamination share that flags a result.",
                             json_schema_extra=GUIDE_ONLY)
    experiment_id: str | None = Field(None, description="result/compare: the (candidate) "
                                      "evaluation.")
    baseline_id: str | None = Field(None, description="compare: the baseline evaluation.")
    name: str = ""
    parent_id: str | None = Field(None, description="Experiment that produced the model.",
                                  json_schema_extra=GUIDE_ONLY)
    backend: str | None = Field(None, description="local, ray or hf.")
    wait_s: float = Field(1800, ge=0, le=36_000, description="run: seconds to wait "
                          "(0: return at once).")
    timeout_s: float = Field(3600, gt=0, json_schema_extra=GUIDE_ONLY)


class Evaluate(Tool[EvaluateParams]):
    """Evaluate a model on a benchmark (inspect_ai) as a tracked experiment.

    The ledger records the conditions (benchmark version, split, n, template, few-shot,
    CoT, decoding, seed, judge, model fingerprint); the result is accuracy with a Wilson
    95% CI, per-sample outputs kept as an artifact. Pass train_data to record the
    contamination (13-gram, exact, near-duplicate) of the training data. compare
    (experiment_id vs baseline_id): paired bootstrap CI and McNemar p; flagged when
    contaminated. Evaluate baseline and candidate with identical settings.
    """

    name = "evaluate"

    def approval_reason(self, params: EvaluateParams, ctx: ToolContext) -> str | None:
        """Evaluating on paid hardware needs approval."""
        if params.operation != "run":
            return None
        return paid_launch_reason(ctx, params.backend, params.flavor, 1)

    async def cost_estimate_usd(self, params: EvaluateParams, ctx: ToolContext
                                ) -> float | None:
        """The run's cost at its time limit (paid backends only)."""
        if self.approval_reason(params, ctx) is None:
            return None
        from openintern.compute.base import JobSpec

        spec = JobSpec(command="", workdir=ctx.workspace, timeout_s=params.timeout_s,
                       **params.hardware())
        return await paid_launch_cost_usd(ctx, params.backend, spec, 1)

    async def run(self, params: EvaluateParams, ctx: ToolContext) -> ToolResult:
        """Dispatch the operation."""
        from openintern.evaluation.runner import EvaluationError

        ledger = _ledger(ctx)
        try:
            if params.operation == "run":
                return await self._run(params, ctx, ledger)
            if params.operation == "result":
                return await self._result(params, ctx, ledger)
            if params.operation == "compare":
                return await self._compare(params, ctx, ledger)
            return await self._contamination(params, ctx)
        except (EvaluationError, LedgerError, JobBackendError, ValueError) as exc:
            raise ToolError(str(exc)) from None

    async def _run(self, p: EvaluateParams, ctx: ToolContext, ledger: Ledger) -> ToolResult:
        from openintern.evaluation.runner import EvalRequest, start_evaluation
        from openintern.research.runner import wait_until_done

        if not p.model or not p.task:
            raise ToolError("run needs model and task")
        req = EvalRequest(
            model=p.model, task=p.task, kind=p.kind, split=p.split, limit=p.limit,
            seed=p.seed, decoding=Decoding(temperature=p.temperature, max_tokens=p.max_tokens,
                                           do_sample=p.temperature > 0),
            template=p.template, few_shot=p.few_shot, chain_of_thought=p.chain_of_thought,
            judge=p.judge, revision=p.revision, api_base=p.api_base,
            train_data=p.train_data, contamination_threshold=p.threshold, name=p.name,
            parent_id=p.parent_id, timeout_s=p.timeout_s)
        backend = get_backend(ctx, p.backend)
        hardware = p.hardware()
        if backend.name == "hf" and not p.pip:
            from openintern.training.recipes import EVAL_REQUIREMENTS

            hardware["pip"] = list(EVAL_REQUIREMENTS)
        exp = await start_evaluation(ledger, ctx.session_id, req, backend, ctx.workspace,
                                     **hardware)
        if p.wait_s > 0:
            exp = await wait_until_done(ledger, exp.id, backend, timeout_s=p.wait_s)
        if not exp.done:
            return ToolResult(f"Evaluation {exp.id} is running as {backend.name} job "
                              f"{exp.job_id}; read it later with operation=result "
                              f"experiment_id={exp.id}.", data={"experiment_id": exp.id})
        return await self._finish(exp.id, ctx, ledger)

    async def _finish(self, exp_id: str, ctx: ToolContext, ledger: Ledger) -> ToolResult:
        from openintern.evaluation.runner import finish_evaluation

        outcome = await asyncio.to_thread(finish_evaluation, ledger, exp_id, ctx.workspace)
        return ToolResult(outcome.summary(), data={
            "experiment_id": exp_id, "accuracy": outcome.accuracy, "n": outcome.n,
            "ci": [outcome.ci_low, outcome.ci_high],
            "contamination": outcome.contamination.overlap if outcome.contamination else None})

    async def _result(self, p: EvaluateParams, ctx: ToolContext, ledger: Ledger
                      ) -> ToolResult:
        from openintern.research.runner import sync

        if not p.experiment_id:
            raise ToolError("result needs experiment_id")
        exp = ledger.get(p.experiment_id)
        if not exp.done and exp.backend:
            exp = (await sync(ledger, exp.id, get_backend(ctx, exp.backend))).experiment
        if not exp.done:
            return ToolResult(f"Evaluation {exp.id} is still {exp.status}.")
        return await self._finish(exp.id, ctx, ledger)

    async def _compare(self, p: EvaluateParams, ctx: ToolContext, ledger: Ledger
                       ) -> ToolResult:
        from openintern.evaluation.compare import compare_evaluations

        if not p.experiment_id or not p.baseline_id:
            raise ToolError("compare needs experiment_id (candidate) and baseline_id")
        outcome = await asyncio.to_thread(compare_evaluations, ledger, p.baseline_id,
                                          p.experiment_id, ctx.workspace,
                                          threshold=p.threshold)
        s = outcome.stats
        return ToolResult(outcome.summary(), data={
            "difference": s.difference, "ci": [s.ci_low, s.ci_high], "p_value": s.p_value,
            "flagged": outcome.flagged})

    async def _contamination(self, p: EvaluateParams, ctx: ToolContext) -> ToolResult:
        from openintern.evaluation.runner import contamination_report, record_contamination

        if not p.task or not p.train_data:
            raise ToolError("contamination needs task (the evaluation file) and train_data")
        task = ctx.resolve_path(p.task)
        for name in p.train_data:
            ctx.resolve_path(name)
        report = await asyncio.to_thread(contamination_report, p.train_data, Path(task),
                                         p.kind, ctx.workspace, p.threshold)
        if p.experiment_id:
            ledger = _ledger(ctx)
            await asyncio.to_thread(record_contamination, ledger, ledger.get(p.experiment_id),
                                    report)
        return ToolResult(report.summary(), data={"overlap": report.overlap,
                                                  "flagged": report.flagged})
