"""The ``synthesize`` tool: make a dataset with an LLM, with provenance (see
:mod:`openintern.synthesis`). Spend is added to the session's totals (the budget)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult
from openintern.tools.schema import GUIDE_ONLY


class SynthesizeParams(BaseModel):
    """Arguments of the synthesize tool."""

    name: str = Field(description="Dataset name.")
    task: str = Field(description="What the examples are for.")
    json_schema: dict[str, Any] = Field(description="JSON schema of one example.")
    seed_examples: list[dict[str, Any]] = Field(default_factory=list)
    axes: dict[str, list[str]] = Field(default_factory=dict, description="Diversity axes, "
                                       'e.g. {"difficulty": ["easy", "hard"]}.')
    n: int = Field(100, ge=1, le=200_000, description="Candidates to generate.")
    per_call: int = Field(5, ge=1, le=50, description="Examples per model call.",
                          json_schema_extra=GUIDE_ONLY)
    model: str | None = Field(None, description="LiteLLM model (default: the configured "
                              "generator model, else the session's).")
    seed: int = Field(0, json_schema_extra=GUIDE_ONLY)
    upsample: int = Field(1, ge=1, le=1000, description="Repeat each kept example k times.",
                          json_schema_extra=GUIDE_ONLY)
    decontaminate: list[str] = Field(default_factory=list,
                                     description="Evaluation files to keep out.")
    output: str = Field(description="Workspace path, .jsonl or .parquet.")
    concurrency: int = Field(8, ge=1, le=64, json_schema_extra=GUIDE_ONLY)


class Synthesize(Tool[SynthesizeParams]):
    """Generate a validated, deduplicated, decontaminated dataset with an LLM (resumable).

    Each example is validated against json_schema; exact and near duplicates are dropped,
    and so are examples overlapping the decontaminate eval files; kept ones are upsampled.
    Writes output plus a data card and registers it in the ledger. Resumable: call again
    with the same arguments after a crash or budget stop; nothing done is redone.
    """

    name = "synthesize"

    async def run(self, params: SynthesizeParams, ctx: ToolContext) -> ToolResult:
        """Generate (or resume), post-process, write, register."""
        from openintern.accounting.accounted_model import AccountedModel, accounted
        from openintern.llm.client import LiteLLMClient
        from openintern.research.artifacts import DataArtifacts
        from openintern.store import Store
        from openintern.synthesis.generator import GeneratorModel, SynthesisError, generate
        from openintern.synthesis.pipeline import build_dataset
        from openintern.synthesis.spec import SynthesisSpec, plan

        output = ctx.resolve_path(params.output)
        if output.suffix not in (".jsonl", ".parquet"):
            raise ToolError("output must end in .jsonl or .parquet")
        evals = [ctx.resolve_path(p) for p in params.decontaminate]
        missing = [str(p) for p in evals if not p.is_file()]
        if missing:
            raise ToolError(f"decontaminate files not found: {', '.join(missing)}")
        s = ctx.settings
        model = params.model or s.generator_model or s.model
        own = params.model is None and s.generator_model is not None
        api_base = s.generator_api_base if own else (None if params.model else s.api_base)
        key = s.generator_api_key if own else (None if params.model else s.api_key)
        spec = SynthesisSpec(**params.model_dump(exclude={"concurrency", "model"}),
                             model=model)
        work = output.with_name(f".{output.name}.parts")
        await asyncio.to_thread(_claim_work_dir, work, spec)
        # Through the session's accountant: budget checked before each call, spend and
        # egress recorded as synthesis, private rows withheld.
        client = accounted(ctx.services, LiteLLMClient(
            model, api_base=api_base, api_key=key.get_secret_value() if key else None,
            timeout_s=s.request_timeout_s, max_retries=s.max_retries,
            retry_base_delay_s=s.retry_base_delay_s, retry_max_delay_s=s.retry_max_delay_s),
            "synthesis")
        store = ctx.services.get("store")
        store = store if isinstance(store, Store) else None
        # An accounted client records its own spend; a bare one is added to the totals.
        recorder = None if isinstance(client, AccountedModel) else store
        generator = GeneratorModel(client, recorder, ctx.session_id if recorder else None)
        tasks = plan(spec)
        try:
            run = await generate(tasks, generator, work / "raw.jsonl",
                                 concurrency=params.concurrency,
                                 budget_left=_budget_left(ctx, store))
        except SynthesisError as exc:
            raise ToolError(f"{exc}; what was generated is kept, call again to resume"
                            ) from None
        if len(run.replies) < len(tasks):
            return ToolResult(
                f"Generation stopped after {len(run.replies)} of {len(tasks)} calls "
                f"({run.stopped}). Everything generated is kept in {work}; call synthesize "
                "again with the same arguments to finish.",
                ok=False, data={"calls_done": len(run.replies), "calls": len(tasks)})
        result = await asyncio.to_thread(build_dataset, spec, run, output, evals, model)
        artifact_id = None
        if store is not None:
            registry = DataArtifacts(store)
            card = {"generator": model, "spec_fingerprint": spec.fingerprint(),
                    "counts": result.counts.as_dict(), "cost_usd": run.usage.cost_usd,
                    "seed": spec.seed, "upsample": spec.upsample,
                    "decontaminated_against": [str(p) for p in evals],
                    "card_path": str(result.card_path)}
            artifact = await asyncio.to_thread(
                registry.register, session_id=ctx.session_id, name=params.name, path=output,
                rows=result.counts.written, card=card)
            artifact_id = artifact.id
        c = result.counts
        text = (f"Synthesized {params.name}: {c.written} rows written to {params.output} "
                f"({c.kept} unique examples × {spec.upsample}). From {c.calls} calls "
                f"({run.resumed} resumed, {run.new_calls} new) with {model}: {c.candidates} "
                f"candidates; dropped {c.unparsable_replies} unparsable replies, "
                f"{c.invalid} invalid, {c.exact_duplicates} exact and {c.near_duplicates} "
                f"near duplicates, {c.contaminated} overlapping eval sets. Cost "
                f"${run.usage.cost_usd:.4f}. Data card: {result.card_path.name}"
                + (f"; ledger data artifact {artifact_id}." if artifact_id else "."))
        return ToolResult(text, data={"path": str(output), "counts": c.as_dict(),
                                      "artifact_id": artifact_id,
                                      "cost_usd": run.usage.cost_usd})


def _claim_work_dir(work: Path, spec: Any) -> None:
    """Create the work folder, or check that it belongs to the same spec (resume)."""
    work.mkdir(parents=True, exist_ok=True)
    marker = work / "spec.json"
    if marker.exists():
        try:
            old = json.loads(marker.read_text())["fingerprint"]
        except (ValueError, KeyError):
            old = None
        if old != spec.fingerprint():
            raise ToolError(f"{work} holds generations of a different spec; use another "
                            "output path, or delete that folder to start over")
        return
    marker.write_text(json.dumps({"fingerprint": spec.fingerprint(),
                                  "spec": spec.model_dump()}, indent=1))


def _budget_left(ctx: ToolContext, store: Any) -> Any:
    """A callable giving the dollars left in the session's budget (None: unlimited)."""
    if store is None:
        return None

    def left() -> float | None:
        info = store.get_session(ctx.session_id)
        budget = ctx.settings.effective_budget(info.headless)
        return None if budget is None else budget - info.total_cost_usd

    return left
