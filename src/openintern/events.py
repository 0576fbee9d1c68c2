"""Typed events the research loop emits.

The loop never renders anything: it emits these events on an :class:`EventBus`, and the
store, the CLI renderer and the web app's SSE stream all consume the same sequence.
Adding a user interface never touches the loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from openintern.encodable import encodable


class EventBase(BaseModel):
    """Fields every event carries. ``seq`` is assigned by the store when it is recorded."""

    session_id: str = ""
    ts: float = Field(default_factory=time.time)
    seq: int | None = None


class SessionStarted(EventBase):
    """A session began (or was resumed)."""

    type: Literal["session_started"] = "session_started"
    task: str
    model: str
    resumed: bool = False


class UserMessage(EventBase):
    """The user said something (the task, or a message mid-session)."""

    type: Literal["user_message"] = "user_message"
    text: str


class AssistantDelta(EventBase):
    """A chunk of streamed assistant text (not stored; the full message is)."""

    type: Literal["assistant_delta"] = "assistant_delta"
    text: str


class AssistantMessage(EventBase):
    """A complete assistant reply: its text and the tool calls it asked for."""

    type: Literal["assistant_message"] = "assistant_message"
    text: str
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    iteration: int = 0


class ToolCallStarted(EventBase):
    """A tool call began running."""

    type: Literal["tool_call_started"] = "tool_call_started"
    call_id: str
    name: str
    arguments: dict[str, Any] | str


class ToolCallFinished(EventBase):
    """A tool call finished; ``preview`` is a short head of what the model was shown."""

    type: Literal["tool_call_finished"] = "tool_call_finished"
    call_id: str
    name: str
    ok: bool
    preview: str
    duration_s: float
    data: dict[str, Any] = Field(default_factory=dict)


class ToolOutput(EventBase):
    """Output of a running tool call as it arrives (a shell command's stdout/stderr),
    coalesced into chunks of whole lines and bounded per call: ``truncated`` marks the
    last chunk sent live (the rest is in the call's full log)."""

    type: Literal["tool_output"] = "tool_output"
    call_id: str
    text: str
    truncated: bool = False


class ApprovalRequested(EventBase):
    """A tool call needs the user's approval before it runs."""

    type: Literal["approval_requested"] = "approval_requested"
    request_id: str
    name: str
    arguments: dict[str, Any]
    reason: str = ""
    cost_estimate_usd: float | None = None
    # What the launch is expected to cost: hardware x time limit, and the mean of earlier
    # runs of the same script (empty when there is nothing to forecast).
    forecast: str = ""
    # Names of secrets the call would hand to agent-written code: never auto-approved.
    forwards_secrets: list[str] = Field(default_factory=list)


class ApprovalResolved(EventBase):
    """The user (or the policy) approved or rejected a pending call."""

    type: Literal["approval_resolved"] = "approval_resolved"
    request_id: str
    approved: bool
    by: str = "user"
    edited_arguments: dict[str, Any] | None = None


class PlanItem(BaseModel):
    """One entry of the agent's plan."""

    text: str
    status: Literal["pending", "in_progress", "done", "cancelled"] = "pending"


class PlanUpdated(EventBase):
    """The agent's plan changed."""

    type: Literal["plan_updated"] = "plan_updated"
    items: list[PlanItem]


class NoteSaved(EventBase):
    """The agent saved a finding to the store."""

    type: Literal["note_saved"] = "note_saved"
    note_id: int
    text: str
    tags: list[str] = Field(default_factory=list)


class Compaction(EventBase):
    """The context was compacted (masking and/or summary) to stay inside the window."""

    type: Literal["compaction"] = "compaction"
    method: Literal["mask", "summary", "fallback", "truncate"]
    tokens_before: int
    tokens_after: int
    messages_summarised: int = 0


class ModelCall(EventBase):
    """One model call finished: its usage, cost and the session's running totals."""

    type: Literal["model_call"] = "model_call"
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    cost_usd: float = 0.0
    total_cost_usd: float = 0.0
    duration_s: float = 0.0
    retries: int = 0
    iteration: int = 0


class Retrying(EventBase):
    """A model call failed transiently and will be retried after ``delay_s``."""

    type: Literal["retrying"] = "retrying"
    reason: str
    attempt: int
    delay_s: float


class GuardTriggered(EventBase):
    """A guard fired: a doom loop was detected, or a malformed call was repaired."""

    type: Literal["guard_triggered"] = "guard_triggered"
    guard: str
    detail: str


class JobUpdate(EventBase):
    """A compute job changed state (submitted, running, finished, failed, cancelled)."""

    type: Literal["job_update"] = "job_update"
    job_id: str
    backend: str
    status: str
    detail: str = ""


class ExperimentUpdate(EventBase):
    """An experiment in the ledger changed (new metrics, status, conclusion)."""

    type: Literal["experiment_update"] = "experiment_update"
    experiment_id: str
    status: str
    metrics: dict[str, float] = Field(default_factory=dict)


class ErrorEvent(EventBase):
    """Something went wrong that the user should see; the session may go on."""

    type: Literal["error"] = "error"
    message: str
    fatal: bool = False


StopReason = Literal[
    "finished",
    "max_iterations",
    "budget",
    "interrupted",
    "error",
    "needs_input",
    # The model kept answering with nothing (no text, no tool call) after corrections.
    "malformed_reply",
    # A store write failed (disk full, database locked): nothing committed was lost.
    "store_error",
]


class TurnComplete(EventBase):
    """The loop stopped for ``reason``; ``text`` is the final assistant text if any,
    ``detail`` says what went wrong when the turn did not finish."""

    type: Literal["turn_complete"] = "turn_complete"
    reason: StopReason
    iterations: int
    text: str = ""
    total_cost_usd: float = 0.0
    detail: str = ""


Event = Annotated[
    SessionStarted
    | UserMessage
    | AssistantDelta
    | AssistantMessage
    | ToolCallStarted
    | ToolCallFinished
    | ToolOutput
    | ApprovalRequested
    | ApprovalResolved
    | PlanUpdated
    | NoteSaved
    | Compaction
    | ModelCall
    | Retrying
    | GuardTriggered
    | JobUpdate
    | ExperimentUpdate
    | ErrorEvent
    | TurnComplete,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

# Deltas are high-volume and fully represented by the final AssistantMessage.
EPHEMERAL_EVENT_TYPES = frozenset({"assistant_delta"})


def parse_event(data: dict[str, Any] | str) -> Event:
    """Parse a stored or transmitted event back into its typed form."""
    if isinstance(data, str):
        return EVENT_ADAPTER.validate_json(data)
    return EVENT_ADAPTER.validate_python(data)


Subscriber = Callable[[EventBase], object]


class EventBus:
    """Synchronous fan-out of events to subscribers, in subscription order.

    Subscribers must be quick (the store commits, a renderer prints); anything slow
    belongs on its own queue. Every event is made encodable first (no NUL, no lone
    surrogates), so no renderer, store or web client chokes on model output. A failing
    renderer never breaks the loop; a failing *critical* subscriber (the store: an event
    it cannot record is lost) raises its error once every subscriber has had the event.
    """

    def __init__(self, session_id: str = "") -> None:
        self.session_id = session_id
        self._subscribers: list[tuple[Subscriber, bool]] = []

    def subscribe(self, subscriber: Subscriber, *, critical: bool = False) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it. A critical subscriber's
        failure is raised from :meth:`emit` instead of logged."""
        entry = (subscriber, critical)
        self._subscribers.append(entry)
        return lambda: self._subscribers.remove(entry)

    def emit(self, event: EventBase) -> EventBase:
        """Stamp the event with the session id and deliver it to every subscriber."""
        if not event.session_id:
            event.session_id = self.session_id
        encodable(event)
        failure: Exception | None = None
        for subscriber, critical in list(self._subscribers):
            try:
                subscriber(event)
            except Exception as exc:
                if critical:
                    failure = failure or exc
                    continue
                # A broken renderer must not kill research.
                import logging

                logging.getLogger(__name__).warning("event subscriber failed: %r", exc)
        if failure is not None:
            raise failure
        return event
