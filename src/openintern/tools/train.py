"""The ``train`` tool: run a tested TRL recipe (SFT, DPO, GRPO) as a ledger experiment
on any backend. The recipe scripts are copied into the workspace's ``recipes/`` (so they
ship with the code); the settings go to a JSON config beside the run's output."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any, Literal

from pydantic import Field

from openintern.compute.base import JobBackendError, JobSpec
from openintern.research.ledger import Ledger, LedgerError
from openintern.research.runner import launch
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult
from openintern.tools.jobs import (
    HardwareFields,
    get_backend,
    paid_launch_cost_usd,
    paid_launch_reason,
)
from openintern.tools.schema import GUIDE_ONLY

_PRIMARY = {"sft": ("loss", "min"), "dpo": ("loss", "min"), "grpo": ("reward", "max")}
# GRPO's policy loss hovers around zero, so the divergence rule (a factor of its minimum)
# would misfire on it; NaN and reward collapse are what matter there.
_GRPO_ALERTS = [{"rule": "nan"}, {"rule": "reward_collapse"}]


class TrainParams(HardwareFields):
    """Arguments of the train tool."""

    recipe: Literal["sft", "dpo", "grpo"] = Field(description="sft: prompt/completion or "
                                                  "messages; dpo: prompt/chosen/rejected; "
                                                  "grpo: prompt + reward.")
    dataset: list[str] = Field(min_length=1, description="Training files "
                               "(or hf://datasets/<id>[:split]).")
    model: str | None = Field(None, description="Hub id or checkpoint folder.")
    init: dict[str, Any] | None = Field(None, description="Instead of model: a scratch "
                                        "Llama {vocab_size, hidden_size, layers, heads}.",
                                        json_schema_extra=GUIDE_ONLY)
    output_dir: str | None = Field(None, description="Default runs/<name>-<id>.",
                                   json_schema_extra=GUIDE_ONLY)
    template: str | None = Field(None, description="mc, or a prompt with {question} "
                                 "{choices}: render question/choices/answer rows as the "
                                 "evaluate tool asks (use the same template there).",
                                 json_schema_extra=GUIDE_ONLY)
    hyperparameters: dict[str, Any] = Field(default_factory=dict, description="learning_rate,"
                                            " batch_size, max_steps or epochs, max_length, "
                                            "beta, num_generations, ...")
    lora: bool | dict[str, Any] = Field(False, description="true or LoraConfig fields.")
    reward: str | list[str] | None = Field(None, description="grpo: mc_letter, exact_answer,"
                                           " format, constant, or file.py:function.")
    seed: int = Field(0, json_schema_extra=GUIDE_ONLY)
    name: str = ""
    hypothesis: str = Field("", json_schema_extra=GUIDE_ONLY)
    parent_id: str | None = Field(None, json_schema_extra=GUIDE_ONLY)
    backend: str | None = Field(None, description="local, ray or hf.")
    timeout_s: float | None = Field(None, gt=0, json_schema_extra=GUIDE_ONLY)
    gpus: int = Field(0, ge=0, le=64)


class Train(Tool[TrainParams]):
    """Train an LLM with a tested TRL recipe, as a tracked experiment (detached job).

    Loss, learning rate, grad norm, tokens/s (and reward mean/std for GRPO) stream into
    the ledger; the reward-collapse alert stops a GRPO run whose reward spread vanishes.
    The model is saved to <output_dir>/final (a scratch model's untrained start to
    <output_dir>/initial). Follow with jobs wait, then evaluate. Prefer this to writing a
    trainer; read recipes/*.py to adapt one.
    """

    name = "train"

    def approval_reason(self, params: TrainParams, ctx: ToolContext) -> str | None:
        """Training on paid hardware needs approval."""
        return paid_launch_reason(ctx, params.backend, params.flavor, 1)

    async def cost_estimate_usd(self, params: TrainParams, ctx: ToolContext) -> float | None:
        """The run's cost at its time limit (paid backends only)."""
        if self.approval_reason(params, ctx) is None:
            return None
        spec = JobSpec(command="", workdir=ctx.workspace, timeout_s=params.timeout_s,
                       gpus=params.gpus, **params.hardware())
        return await paid_launch_cost_usd(ctx, params.backend, spec, 1)

    async def run(self, params: TrainParams, ctx: ToolContext) -> ToolResult:
        """Write the config, declare the experiment, launch the recipe."""
        from openintern.training.recipes import install_recipes

        ledger = ctx.services.get("ledger")
        if not isinstance(ledger, Ledger):
            raise ToolError("the experiment ledger is not available in this session")
        if not params.model and not params.init:
            raise ToolError("give model (Hub id or checkpoint folder) or init (scratch model)")
        if params.recipe == "grpo" and not params.reward:
            raise ToolError("grpo needs a reward")
        for path in params.dataset:
            if not path.startswith("hf://datasets/") and not ctx.resolve_path(path).is_file():
                raise ToolError(f"dataset {path!r} not found in the workspace (a Hub "
                                "dataset is hf://datasets/<id>)")
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", params.name or params.recipe).strip("-")[:40]
        run_id = uuid.uuid4().hex[:6]
        out = ctx.resolve_path(params.output_dir or f"runs/{slug}-{run_id}")
        config: dict[str, Any] = {**params.hyperparameters, "dataset": params.dataset,
                                  "output_dir": str(out), "seed": params.seed}
        for key in ("model", "init", "template", "reward"):
            if getattr(params, key):
                config[key] = getattr(params, key)
        if params.lora:
            config["lora"] = params.lora
        await asyncio.to_thread(install_recipes, ctx.workspace)
        config_path = ctx.workspace / "configs" / f"{slug}-{run_id}.json"
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(config, indent=1))
        rel = config_path.relative_to(ctx.workspace.resolve())
        metric, mode = _PRIMARY[params.recipe]
        try:
            exp = ledger.declare(
                session_id=ctx.session_id, name=params.name or f"{params.recipe} {slug}",
                command=f"python recipes/{params.recipe}.py --config {rel}",
                hypothesis=params.hypothesis, config={"recipe": params.recipe, **config},
                seed=params.seed, parent_id=params.parent_id, workdir=str(ctx.workspace),
                data_paths=[d for d in params.dataset if not d.startswith("hf://")],
                primary_metric=metric, mode=mode,
                alert_rules=_GRPO_ALERTS if params.recipe == "grpo" else None)
            hardware = params.hardware()
            if (params.backend or ctx.settings.job_backend) == "hf" and not params.pip:
                from openintern.training.recipes import TRAIN_REQUIREMENTS

                hardware["pip"] = list(TRAIN_REQUIREMENTS)
            exp = await launch(ledger, exp.id, get_backend(ctx, params.backend),
                               ctx.workspace, timeout_s=params.timeout_s, gpus=params.gpus,
                               **hardware)
        except (LedgerError, JobBackendError) as exc:
            raise ToolError(str(exc)) from None
        artifacts = [str(out / "final")] + ([str(out / "initial")] if params.init else [])
        ledger.add_artifacts(exp.id, artifacts)
        initial = f"; untrained start: {out / 'initial'}" if params.init else ""
        return ToolResult(
            f"Training experiment {exp.id} ({params.recipe}) running as {exp.backend} job "
            f"{exp.job_id}; config {rel}. Final model: {out / 'final'}{initial}. Wait with "
            f"jobs wait job_ids=[{exp.job_id!r}]; metrics: experiment status "
            f"experiment_id={exp.id}.",
            data={"experiment_id": exp.id, "job_id": exp.job_id, "output_dir": str(out)})
