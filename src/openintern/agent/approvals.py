"""The approval gate: whether a tool call that needs approval may run, and with what.

Within the compute budget the user set, a paid launch runs without asking and its
estimated cost is recorded; otherwise the approver decides (the terminal, the web app, or
the headless policy), possibly with edited arguments, which are validated against the
tool's schema. Every request and answer is an event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from openintern.agent.guards import (
    ApprovalDecision,
    Approver,
    AutoApprover,
    CheckedCall,
    DenyingApprover,
)
from openintern.agent.offload import off_loop
from openintern.events import ApprovalRequested, ApprovalResolved, ErrorEvent, EventBus
from openintern.tools.base import ToolContext

NOT_APPROVED = "the user did not approve this action; choose another approach or ask the user"


@dataclass
class Approval:
    """The gate's answer: a denial for the model, or the parameters to run with (and
    whether the user edited them, which the model must be told)."""

    denial: str | None
    params: BaseModel
    edited: bool = False


class ApprovalGate:
    """Asks (or decides by the compute budget) before a call that needs approval."""

    def __init__(
        self,
        *,
        approver: Approver,
        bus: EventBus,
        tool_ctx: ToolContext,
        compute_budget_usd: float | None,
        compute_spent_usd: float,
        record_spend: Callable[[float], Any],
    ) -> None:
        self.approver = approver
        self.bus = bus
        self.tool_ctx = tool_ctx
        self.compute_budget_usd = compute_budget_usd
        self.compute_spent_usd = compute_spent_usd
        # Persists the session's new compute total (blocking: run off the loop).
        self._record_spend = record_spend

    async def check(self, item: CheckedCall) -> Approval:
        """Whether ``item`` (a valid call) may run, and with which parameters."""
        assert item.tool is not None and item.params is not None
        reason = item.tool.approval_reason(item.params, self.tool_ctx)
        if reason is None:
            return Approval(None, item.params)
        request = ApprovalRequested(
            request_id=item.call.id,
            name=item.call.name,
            arguments=item.params.model_dump(mode="json"),
            reason=reason,
            cost_estimate_usd=await item.tool.cost_estimate_usd(item.params, self.tool_ctx),
            forecast=await item.tool.cost_forecast(item.params, self.tool_ctx),
            forwards_secrets=item.tool.forwarded_secrets(item.params, self.tool_ctx),
        )
        # On the loop, not in a worker thread (one short write, and approvals are rare):
        # from here to the approver waiting for an answer no other task may run, or a
        # quick UI could answer a request nobody waits for yet.
        self.bus.emit(request)
        estimate = request.cost_estimate_usd
        budget = self.compute_budget_usd
        if estimate is not None and budget is not None and not request.forwards_secrets and (
            self.compute_spent_usd + estimate <= budget
        ):
            # Within the compute budget the user set: no question asked, spend recorded
            # (a job that would get a secret always asks a person).
            await self._spend(estimate)
            await off_loop(self.bus.emit, ApprovalResolved(
                request_id=request.request_id, approved=True, by="compute budget"))
            return Approval(None, item.params)
        answer = await self.approver.approve(request)
        decision = answer if isinstance(answer, ApprovalDecision) else ApprovalDecision(answer)
        params, edited = item.params, None
        if decision.approved and decision.arguments is not None:
            try:
                params = item.tool.params.model_validate(decision.arguments)
                edited = params.model_dump(mode="json")
            except ValidationError as exc:
                decision = ApprovalDecision(False)
                await off_loop(self.bus.emit,
                               ErrorEvent(message=f"edited arguments rejected: {exc}"))
        await off_loop(self.bus.emit, ApprovalResolved(
            request_id=request.request_id, approved=decision.approved,
            by=type(self.approver).__name__, edited_arguments=edited))
        if decision.approved:
            changed = edited is not None and edited != request.arguments
            if changed:
                # The user's edit may change the price (more hours, bigger hardware).
                estimate = await item.tool.cost_estimate_usd(params, self.tool_ctx)
            if estimate is not None:
                await self._spend(estimate)
            return Approval(None, params, changed)
        if isinstance(self.approver, DenyingApprover | AutoApprover):
            return Approval(self.approver.reason(request), params)
        return Approval(NOT_APPROVED, params)

    async def _spend(self, usd: float) -> None:
        self.compute_spent_usd += usd
        await off_loop(self._record_spend, self.compute_spent_usd)
