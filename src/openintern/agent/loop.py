"""The research loop: build the request, call the model, run the tools, record, repeat.

Everything else is an object the loop calls: the context builder (masking, summaries,
the window invariant), the guards (malformed calls, doom loops, approvals, budget), the
store (every step committed before the next model call) and the event bus (renderers).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openintern.accounting.accountant import BudgetExhausted
from openintern.agent.approvals import ApprovalGate
from openintern.agent.context import ContextBuilder, ContextOverflowError, truncate_tool_output
from openintern.agent.guards import (
    MAX_CORRECTIONS,
    Approver,
    BudgetGuard,
    CheckedCall,
    Correction,
    DoomLoopDetector,
    check_calls,
    dedupe_call_ids,
    malformed_detail,
    orphan_results,
    plan_repairs,
    reply_correction,
)
from openintern.agent.offload import off_loop
from openintern.events import (
    AssistantDelta,
    AssistantMessage,
    Compaction,
    ErrorEvent,
    EventBus,
    GuardTriggered,
    ModelCall,
    Retrying,
    StopReason,
    ToolCallFinished,
    ToolCallStarted,
    TurnComplete,
    UserMessage,
)
from openintern.llm.errors import ContextWindowExceeded, LLMError
from openintern.llm.types import LLMClient, Message, ModelReply, RetryNotice, TextDelta, ToolCall
from openintern.store import Store, StoreUnavailable
from openintern.tools.base import ToolContext, ToolError, ToolRegistry, ToolResult, running_call


@dataclass
class LoopLimits:
    """When a turn must stop on its own."""

    max_iterations: int = 300
    budget_usd: float | None = None
    # Paid compute the loop may approve by itself (estimated dollars per session).
    compute_budget_usd: float | None = None


class ResearchLoop:
    """Runs turns of one session. One instance per session; not re-entrant."""

    def __init__(
        self,
        *,
        session_id: str,
        model: LLMClient,
        tools: ToolRegistry,
        context: ContextBuilder,
        store: Store,
        bus: EventBus,
        tool_ctx: ToolContext,
        approver: Approver,
        limits: LoopLimits,
    ) -> None:
        self.session_id = session_id
        self.model = model
        self.tools = tools
        self.context = context
        self.store = store
        self.bus = bus
        self.tool_ctx = tool_ctx
        self.approver = approver
        self.limits = limits
        self.budget = BudgetGuard(limits.budget_usd)
        self.doom = DoomLoopDetector()
        self.history: list[Message] = store.load_messages(session_id)
        self._history_stale = False
        info = store.get_session(session_id)
        self.total_cost_usd = info.total_cost_usd
        self.approvals = ApprovalGate(
            approver=approver, bus=bus, tool_ctx=tool_ctx,
            compute_budget_usd=limits.compute_budget_usd,
            compute_spent_usd=info.compute_spent_usd,
            record_spend=lambda usd: store.update_session(session_id, compute_spent_usd=usd),
        )

    # --- one turn --------------------------------------------------------------------
    async def run_turn(self, user_text: str | None = None) -> TurnComplete:
        """Run until the model stops, a limit is hit, or the turn is cancelled
        (Ctrl+C). ``user_text`` None continues an interrupted turn (resume)."""
        iterations = 0
        final_text = ""
        reason: StopReason = "max_iterations"
        try:
            # A resumed turn keeps counting its model calls toward the cap (a turn killed
            # at step 250 of 300 gets 50 more, not another 300), summarised ones included.
            iterations = await off_loop(self._begin_turn, user_text)
            specs = self.tools.specs()
            corrections = 0
            while iterations < self.limits.max_iterations:
                if self.budget.exceeded(self.total_cost_usd):
                    reason = "budget"
                    break
                iterations += 1
                reply = await self._call_model(specs, iterations)
                # Fresh ids for empty/duplicate call ids before anything is stored, so
                # every result points at a call the stored message really has.
                reply.tool_calls = dedupe_call_ids(reply.tool_calls)
                correction = reply_correction(reply)
                if correction is not None:
                    corrections += 1
                    if corrections > MAX_CORRECTIONS:
                        await off_loop(self._record_reply, reply, iterations, None)
                        return await self._stop(iterations, final_text, self._failed,
                                                malformed_detail(reply, corrections),
                                                iterations, final_text, "malformed_reply")
                    await off_loop(self._record_reply, reply, iterations, correction)
                    continue
                corrections = 0
                final_text = reply.text
                await off_loop(self._record_reply, reply, iterations, None)
                if not reply.tool_calls:
                    reason = "finished"
                    break
                doom = self.doom.observe(reply.tool_calls)
                await self._run_tools(reply.tool_calls)
                if doom:
                    await off_loop(self._record_nudge, "doom_loop", doom)
        except asyncio.CancelledError:
            return await self._stop(iterations, final_text, self._interrupted, iterations,
                                    final_text)
        except StoreUnavailable as exc:
            return self._store_failed(exc, iterations, final_text)
        except BudgetExhausted as exc:  # the accountant refused the next call: none was made
            return await self._stop(iterations - 1, final_text, self._budget_refused, exc,
                                    iterations - 1, final_text)
        except (LLMError, ContextOverflowError) as exc:
            return await self._stop(iterations, final_text, self._failed, str(exc), iterations,
                                    final_text)
        except Exception as exc:
            # Everything done so far is already stored; say what broke and stop the turn
            # so the session can be resumed once the cause is fixed.
            message = f"internal error: {type(exc).__name__}: {exc}"
            await self._stop(iterations, final_text, self._repair_and_fail, message,
                             iterations, final_text)
            raise
        return await self._stop(iterations, final_text, self._complete, reason, iterations,
                                final_text, "")

    async def _stop(self, iterations: int, text: str, fn: Callable[..., TurnComplete | None],
                    *args: Any) -> TurnComplete:
        """Record how the turn ended (``fn(*args)`` off the loop); if the store fails at
        that too, the stop is a store failure."""
        try:
            outcome = await off_loop(fn, *args)
        except StoreUnavailable as exc:
            return self._store_failed(exc, iterations, text)
        assert outcome is not None
        return outcome

    def _repair_and_fail(self, message: str, iterations: int, text: str) -> TurnComplete:
        self._repair()
        return self._failed(message, iterations, text)

    def _begin_turn(self, user_text: str | None) -> int:
        """Mark the session running, repair the history, record the user's message;
        return the model calls the turn has made already (0 for a new turn)."""
        if self._history_stale:
            # The last turn stopped on a store failure: the database, not memory, is
            # the truth (a message recorded in memory may have been rolled back).
            self.history = self.store.load_messages(self.session_id)
            self._history_stale = False
        self.store.update_session(self.session_id, status="running")
        self._repair()
        if user_text is not None:
            self._record(Message(role="user", content=user_text))
            self.bus.emit(UserMessage(text=user_text))
            return 0
        return self.store.model_calls_in_turn(self.session_id)

    def _interrupted(self, iterations: int, text: str) -> TurnComplete:
        self._repair()
        return self._complete("interrupted", iterations, text, "")

    def _budget_refused(self, exc: BudgetExhausted, iterations: int,
                        text: str) -> TurnComplete:
        # Recorded so `intern resume` can tell whether a new budget lets the call run.
        info = self.store.get_session(self.session_id)
        self.store.update_session(self.session_id, config={
            **info.config,
            "budget_stop": {"needed_usd": exc.needed_usd, "needed_tokens": exc.needed_tokens}})
        self.bus.emit(GuardTriggered(guard="budget", detail=str(exc)))
        return self._complete("budget", iterations, text, str(exc))

    def _failed(self, message: str, iterations: int, text: str,
                reason: StopReason = "error") -> TurnComplete:
        self.bus.emit(ErrorEvent(message=message, fatal=True))
        return self._complete(reason, iterations, text, message)

    def _store_failed(self, exc: StoreUnavailable, iterations: int, text: str) -> TurnComplete:
        """The store failed: tell every renderer (the store itself cannot record it) and
        stop. The session stays marked running, so `intern resume` continues the turn."""
        message = str(exc)
        total = self.total_cost_usd
        self._history_stale = True
        for event in (
            ErrorEvent(message=message, fatal=True),
            TurnComplete(reason="store_error", iterations=iterations, text=text,
                         total_cost_usd=total, detail=message),
        ):
            # The renderers have it even when recording it fails again.
            with contextlib.suppress(StoreUnavailable):
                self.bus.emit(event)
        return TurnComplete(reason="store_error", iterations=iterations, text=text,
                            total_cost_usd=total, detail=message, session_id=self.session_id)

    def _complete(self, reason: StopReason, iterations: int, text: str,
                  detail: str) -> TurnComplete:
        status = {"finished": "idle", "needs_input": "idle"}.get(reason, reason)
        self.store.update_session(self.session_id, status=status)
        total = self.store.get_session(self.session_id).total_cost_usd
        event = TurnComplete(reason=reason, iterations=iterations, text=text,
                             total_cost_usd=total, detail=detail)
        self.bus.emit(event)
        return event

    # --- model ---------------------------------------------------------------------
    async def _call_model(self, specs: list[dict[str, Any]], iteration: int) -> ModelReply:
        for attempt in range(2):
            built = await self.context.build(self.history, specs)
            if built.compaction is not None:
                await off_loop(self._apply_compaction, built.compaction)
            try:
                reply = await self._stream(built.messages, specs)
            except ContextWindowExceeded:
                if attempt:
                    raise
                # The provider counts more tokens than we estimated: recalibrate, rebuild.
                self.context.observe_usage(
                    built.estimated_tokens, int(built.estimated_tokens * 1.5)
                )
                continue
            self.context.observe_usage(built.estimated_tokens, reply.usage.prompt_tokens)
            return reply
        raise AssertionError("unreachable")

    def _record_reply(self, reply: ModelReply, iteration: int,
                      correction: Correction | None) -> None:
        """Usage, the assistant message and their events: one transaction per reply. A
        ``correction`` (the reply was empty or cut off) follows it; an empty reply itself
        is not kept in the history (providers reject empty messages)."""
        with self.store.batch():
            total = self.total_cost_usd = self.store.add_usage(
                self.session_id,
                cost_usd=reply.usage.cost_usd,
                prompt_tokens=reply.usage.prompt_tokens,
                completion_tokens=reply.usage.completion_tokens,
            )
            self.bus.emit(
                ModelCall(
                    model=reply.model or self.model.model,
                    prompt_tokens=reply.usage.prompt_tokens,
                    completion_tokens=reply.usage.completion_tokens,
                    cached_tokens=reply.usage.cached_tokens,
                    cost_usd=reply.usage.cost_usd,
                    total_cost_usd=total,
                    duration_s=reply.duration_s,
                    retries=reply.retries,
                    iteration=iteration,
                )
            )
            if reply.text.strip() or reply.tool_calls:
                self._record(
                    Message(role="assistant", content=reply.text, tool_calls=reply.tool_calls)
                )
                self.bus.emit(
                    AssistantMessage(
                        text=reply.text,
                        tool_calls=[tc.to_openai() for tc in reply.tool_calls],
                        iteration=iteration,
                    )
                )
            if correction is not None:
                self._record_nudge(correction.guard, correction.text)

    def _record_nudge(self, guard: str, text: str) -> None:
        """A harness message to the model (loop guard, correction) and its event."""
        with self.store.batch():
            self._record(Message(role="user", content=text, kind="nudge"))
            self.bus.emit(GuardTriggered(guard=guard, detail=text))

    async def _stream(self, messages: list[Message], specs: list[dict[str, Any]]) -> ModelReply:
        reply: ModelReply | None = None
        async for item in self.model.stream(messages, specs):
            if isinstance(item, TextDelta):
                self.bus.emit(AssistantDelta(text=item.text))
            elif isinstance(item, RetryNotice):
                await off_loop(self.bus.emit, Retrying(reason=item.reason, attempt=item.attempt,
                                                       delay_s=item.delay_s))
            else:
                reply = item
        if reply is None:
            raise LLMError("the model stream ended without a reply")
        return reply

    def _apply_compaction(self, outcome: Any) -> None:
        if outcome.summary is not None and outcome.replaced_ids:
            self.store.compact(self.session_id, outcome.replaced_ids, outcome.summary)
            self.history = self.store.load_messages(self.session_id)
        self.bus.emit(
            Compaction(
                method=outcome.method,
                tokens_before=outcome.tokens_before,
                tokens_after=outcome.tokens_after,
                messages_summarised=outcome.messages_summarised,
            )
        )

    # --- tools ---------------------------------------------------------------------
    async def _run_tools(self, calls: list[ToolCall]) -> None:
        checked = check_calls(calls, self.tools)
        # Read-only calls next to each other run concurrently; anything that writes runs
        # alone, in the order the model asked, so effects stay predictable.
        batch: list[CheckedCall] = []
        for item in checked:
            if item.tool is not None and item.tool.read_only and item.error is None:
                batch.append(item)
                continue
            await self._run_batch(batch)
            batch = []
            await self._run_batch([item])
        await self._run_batch(batch)

    async def _run_batch(self, batch: list[CheckedCall]) -> None:
        if not batch:
            return
        await off_loop(self._record_starts, batch)
        results = await asyncio.gather(*(self._run_one(c) for c in batch))
        # Record in call order once all are done, so a kill mid-batch leaves dangling
        # calls that resume repairs, never half-ordered results.
        await off_loop(self._record_results, batch, results)

    def _record_starts(self, batch: list[CheckedCall]) -> None:
        with self.store.batch():
            for item in batch:
                call = item.call
                self.bus.emit(ToolCallStarted(call_id=call.id, name=call.name,
                                              arguments=_args_for_event(item)))
                if item.error is not None or item.tool is None or item.params is None:
                    self.bus.emit(GuardTriggered(guard="tool_call",
                                                 detail=item.error or "invalid call"))

    def _record_results(self, batch: list[CheckedCall],
                        results: list[tuple[ToolResult, float]]) -> None:
        with self.store.batch():
            for item, (result, duration) in zip(batch, results, strict=True):
                self._record_result(item.call, result, duration)

    async def _run_one(self, item: CheckedCall) -> tuple[ToolResult, float]:
        call = item.call
        start = time.perf_counter()
        if item.error is not None or item.tool is None or item.params is None:
            return ToolResult.error(item.error or "invalid call"), time.perf_counter() - start
        try:
            approval = await self.approvals.check(item)
            if approval.denial is not None:
                return ToolResult.error(approval.denial), time.perf_counter() - start
            params = approval.params
            with running_call(call.id):  # tools that stream output tie it to the call
                result = await item.tool.run(params, self.tool_ctx)
            if approval.edited:
                # The model must know it was not its own call that ran.
                result.text = (
                    f"[the user edited the arguments before approving; ran with: "
                    f"{params.model_dump_json()}]\n{result.text}"
                )
        except ToolError as exc:
            result = ToolResult.error(str(exc))
        except (asyncio.CancelledError, StoreUnavailable):
            raise  # an interrupt, or a store that cannot record the turn: stop it
        except Exception as exc:  # a tool bug must not end the session
            result = ToolResult.error(
                f"{call.name} failed unexpectedly: {type(exc).__name__}: {exc}"
            )
        return result, time.perf_counter() - start

    def _record_result(self, call: ToolCall, result: ToolResult, duration: float) -> None:
        spill = self.tool_ctx.workspace / ".openintern" / "spill" / f"{_safe(call.id)}.txt"
        text = truncate_tool_output(
            result.text,
            max_chars=self.tool_ctx.settings.tool_output_max_chars,
            spill_path=spill,
            workspace=self.tool_ctx.workspace,
        )
        self._record(Message(role="tool", content=text, tool_call_id=call.id, name=call.name))
        self.bus.emit(
            ToolCallFinished(
                call_id=call.id,
                name=call.name,
                ok=result.ok,
                preview=text[:2000],
                duration_s=round(duration, 4),
                data=result.data,
            )
        )

    # --- history ---------------------------------------------------------------------
    def _record(self, message: Message) -> None:
        self.store.add_message(self.session_id, message)
        self.history.append(message)

    def _repair(self) -> None:
        """Make the history one a provider accepts after a kill or an interrupt: every
        tool call gets a result (an error saying it did not complete), orphan results go."""
        orphans = [self.history[i].id for i in orphan_results(self.history)]
        repairs = plan_repairs(self.history)
        if not orphans and not repairs:
            return
        self.store.delete_messages(self.session_id, [i for i in orphans if i is not None])
        for index, message in repairs:
            if index >= len(self.history):
                self.store.add_message(self.session_id, message)
            else:
                self.store.insert_before(self.session_id, message, self.history[index].id)
        self.history = self.store.load_messages(self.session_id)


def _safe(call_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in call_id)[:80]


def _args_for_event(item: CheckedCall) -> dict[str, Any] | str:
    if item.params is not None:
        return item.params.model_dump(mode="json")
    return item.call.arguments

