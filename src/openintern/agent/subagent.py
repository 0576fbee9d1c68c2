"""A sub-agent: a short, capped run of the research loop in its own recorded session.

The sub-agent reuses :class:`~openintern.agent.loop.ResearchLoop` unchanged. What makes it
a sub-agent is what it is given: its own session row (linked to the parent through
``config["parent_session"]``), its own history and context, a restricted tool registry,
an iteration cap, and a token cap enforced by :class:`TokenCappedModel`, which wraps the
parent's model client and ends the run cleanly (a reply without tool calls) once the
budget is spent or the caller says the work is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from openintern.accounting.scope import spending_as
from openintern.agent.context import ContextBuilder, ContextLimits, ModelSummarizer
from openintern.agent.guards import DenyingApprover
from openintern.agent.loop import LoopLimits, ResearchLoop
from openintern.events import EventBase, EventBus, StopReason
from openintern.llm.errors import LLMError
from openintern.llm.tokens import CHARS_PER_TOKEN, estimate_request_tokens
from openintern.llm.types import LLMClient, Message, ModelReply, StreamItem, Usage
from openintern.store import SessionState, Store
from openintern.tools.base import ToolContext, ToolRegistry

# Below this many tokens left for a reply, another model call is not worth making.
MIN_REPLY_TOKENS = 256


class TokenCappedModel:
    """An :class:`LLMClient` that counts prompt + completion tokens against a budget.

    Before each call it checks the budget (with the estimated prompt) and ``should_stop``;
    when either says stop, it answers with a synthetic reply without tool calls, which
    makes the research loop finish its turn normally. Replies' completion lengths are
    capped to what is left of the budget.
    """

    def __init__(
        self,
        inner: LLMClient,
        *,
        max_tokens: int,
        should_stop: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.inner = inner
        self.model = inner.model
        self.max_tokens = max_tokens
        self.should_stop = should_stop
        self.used_tokens = 0
        self.calls = 0  # real model calls (the synthetic stop reply is not one)
        self.last_text = ""  # the last non-empty text the real model wrote
        self.stop_reason: str | None = None

    @property
    def remaining(self) -> int:
        """Tokens left in the budget."""
        return max(0, self.max_tokens - self.used_tokens)

    def context_window(self) -> int:
        """The wrapped model's window."""
        return self.inner.context_window()

    async def stream(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        *,
        max_tokens: int | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Stream from the wrapped model, or stop the run (see the class doc)."""
        prompt_estimate = estimate_request_tokens([m.to_openai() for m in messages], tools)
        room = self.remaining - prompt_estimate
        reason = self.should_stop()
        if reason is None and room < MIN_REPLY_TOKENS:
            reason = (
                f"token budget reached ({self.used_tokens} of {self.max_tokens} tokens used; "
                f"the next request needs ~{prompt_estimate})"
            )
        if reason is not None:
            if tools is None:
                # A summarising call: failing makes the context builder use its
                # deterministic fallback, instead of taking our notice as a summary.
                raise LLMError(f"sub-agent stopped: {reason}")
            self.stop_reason = reason
            yield ModelReply(
                text=f"[sub-agent stopped: {reason}]",
                tool_calls=[],
                usage=Usage(),
                finish_reason="stop",
                model=self.model,
            )
            return
        cap = room if max_tokens is None else min(max_tokens, room)
        async for item in self.inner.stream(messages, tools, max_tokens=cap):
            if isinstance(item, ModelReply):
                self._count(item, prompt_estimate)
            yield item

    def _count(self, reply: ModelReply, prompt_estimate: int) -> None:
        usage = reply.usage
        # Some providers report no usage when streaming; estimates keep the cap honest.
        prompt = usage.prompt_tokens or prompt_estimate
        completion = usage.completion_tokens or (
            (len(reply.text) + sum(len(c.arguments) for c in reply.tool_calls))
            // CHARS_PER_TOKEN
        )
        self.used_tokens += prompt + completion
        self.calls += 1
        if reply.text.strip():
            self.last_text = reply.text.strip()


@dataclass
class SubagentRun:
    """What a sub-agent run needs beyond the parent's tool context."""

    task: str  # recorded as the sub-session's task
    prompt: str  # the first user message
    system_prompt: str
    tools: ToolRegistry
    max_iterations: int
    max_tokens: int
    # Returns a reason to stop before the next model call (e.g. "brief submitted").
    should_stop: Callable[[], str | None] = lambda: None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class SubagentOutcome:
    """How a sub-agent run ended."""

    session_id: str
    reason: StopReason
    iterations: int
    tokens_used: int
    last_text: str
    stop_detail: str | None  # why the capped model stopped the run, if it did


async def run_subagent(
    run: SubagentRun, *, llm: LLMClient, store: Store, parent: ToolContext
) -> SubagentOutcome:
    """Run one sub-agent to its end as its own session in ``store``.

    The sub-session shares the parent's settings, workspace, sandbox and services (so
    HTTP clients and caches are reused) but has its own history, events and state.
    Cancelling the calling task cancels the run (the sub-session is left repaired).
    """
    capped = TokenCappedModel(llm, max_tokens=run.max_tokens, should_stop=run.should_stop)
    info = store.create_session(
        task=run.task,
        model=llm.model,
        workspace=str(parent.workspace),
        headless=True,
        config={"parent_session": parent.session_id, **run.config},
    )
    bus = EventBus(info.id)

    def record(event: EventBase) -> None:
        store.add_event(event)

    bus.subscribe(record, critical=True)
    tool_ctx = ToolContext(
        settings=parent.settings,
        workspace=parent.workspace,
        sandbox=parent.sandbox,
        state=SessionState(store, info.id),
        session_id=info.id,
        emit=bus.emit,
        services=parent.services,
    )
    loop = ResearchLoop(
        session_id=info.id,
        model=capped,
        tools=run.tools,
        context=_context(run.system_prompt, parent, capped),
        store=store,
        bus=bus,
        tool_ctx=tool_ctx,
        approver=DenyingApprover(),
        limits=LoopLimits(max_iterations=run.max_iterations),
    )
    # The sub-agent's calls are its parent's spend (the same accountant and budget),
    # recorded as a sub-agent's under its own session.
    with spending_as("subagent", info.id):
        turn = await loop.run_turn(run.prompt)
    # The loop counted the synthetic stop reply as a step; record the real model calls.
    store.update_session(info.id, iterations=capped.calls)
    task = asyncio.current_task()
    if turn.reason == "interrupted" and task is not None and task.cancelling():
        raise asyncio.CancelledError  # the loop absorbed our caller's cancellation
    return SubagentOutcome(
        session_id=info.id,
        reason=turn.reason,
        iterations=capped.calls,
        tokens_used=capped.used_tokens,
        last_text=capped.last_text,
        stop_detail=capped.stop_reason,
    )


def _context(system_prompt: str, parent: ToolContext, model: LLMClient) -> ContextBuilder:
    s = parent.settings
    window = s.context_window or model.context_window()
    limits = ContextLimits.from_settings(s, window)
    spill = parent.workspace / ".openintern" / "spill"
    return ContextBuilder(
        system_prompt=system_prompt,
        limits=limits,
        spill_dir=spill,
        workspace=parent.workspace,
        pinned_state=lambda: "",
        summarizer=ModelSummarizer(model),
    )
