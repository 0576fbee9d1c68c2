"""Guards of the research loop: doom loops, malformed replies, malformed or dangling tool
calls, approvals, budget. Each is a small object or function the loop calls; none of them
ends a session on bad model output — they turn it into text the model can act on."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pydantic import BaseModel

from openintern.agent.summary import short_arguments
from openintern.events import ApprovalRequested
from openintern.llm.types import Message, ModelReply, ToolCall
from openintern.tools.base import Tool, ToolError, ToolRegistry

__all__ = [
    "CUT_REPLY_NUDGE",
    "DANGLING_RESULT_TEXT",
    "EMPTY_REPLY_NUDGE",
    "MAX_CORRECTIONS",
    "Approver",
    "AutoApprover",
    "BudgetGuard",
    "CheckedCall",
    "Correction",
    "DenyingApprover",
    "DoomLoopDetector",
    "check_calls",
    "dedupe_call_ids",
    "malformed_detail",
    "orphan_results",
    "plan_repairs",
    "repair_dangling",
    "repair_history",
    "reply_correction",
]

# ----- doom loops ------------------------------------------------------------------------

StepSignature = tuple[str, ...]


def call_signature(call: ToolCall) -> str:
    """Name plus canonical JSON of the arguments (the raw text when it is not JSON), so
    the same call written with different spacing or key order counts as the same."""
    try:
        args = json.dumps(json.loads(call.arguments), sort_keys=True, separators=(",", ":"))
    except (ValueError, TypeError):
        args = call.arguments.strip()
    return f"{call.name}:{args}"


class DoomLoopDetector:
    """Notices the agent repeating itself: the same step several times in a row, or a
    short cycle of steps (length 2-4) repeated. Fires once per episode."""

    def __init__(self, *, window: int = 12, min_repeats: int = 3) -> None:
        self.min_repeats = max(2, min_repeats)
        self.window = max(window, self.min_repeats)
        self._steps: list[StepSignature] = []
        self._calls: list[list[ToolCall]] = []
        self._active_period: int | None = None  # period of the pattern already reported

    def observe(self, calls: list[ToolCall]) -> str | None:
        """Record one step's calls; return a nudge text when a repetition starts."""
        step: StepSignature = tuple(sorted(call_signature(c) for c in calls))
        if self._active_period is not None:
            p = self._active_period
            continues = bool(step) and len(self._steps) >= p and self._steps[-p] == step
            if not continues:
                self._active_period = None  # the pattern broke: re-arm
        self._steps.append(step)
        self._calls.append(list(calls))
        if len(self._steps) > self.window:
            del self._steps[0]
            del self._calls[0]
        if self._active_period is not None or not step:
            return None
        period = self._repeating_period()
        if period is None:
            return None
        self._active_period = period
        return self._nudge(period)

    def _repeating_period(self) -> int | None:
        for period in range(1, 5):
            span = period * self.min_repeats
            if span > len(self._steps):
                break
            tail = self._steps[-span:]
            block = tail[:period]
            if any(not s for s in block):
                continue
            if period > 1 and len(set(block)) == 1:
                continue  # really a period-1 repeat, reported as such
            if all(tail[i] == block[i % period] for i in range(span)):
                return period
        return None

    def _nudge(self, period: int) -> str:
        def describe(calls: list[ToolCall]) -> str:
            return ", ".join(f"{c.name}({short_arguments(c, 80)})" for c in calls) or "no call"

        if period == 1:
            what = (
                f"You have made the same tool call {self.min_repeats} times in a row: "
                f"{describe(self._calls[-1])}. Repeating it will not change the result."
            )
        else:
            cycle = " -> ".join(describe(c) for c in self._calls[-period:])
            what = (
                f"You are repeating the same cycle of {period} steps ({cycle}) "
                f"{self.min_repeats} times over without progress."
            )
        return (
            f"[Loop guard] {what} Step back: reread the last results, check your "
            "assumptions, and try a different approach — or, if you are blocked, say what "
            "blocks you and stop."
        )


# ----- malformed calls ---------------------------------------------------------------------


@dataclass
class CheckedCall:
    """A tool call after validation: ready to run, or with the error to report."""

    call: ToolCall
    tool: Tool[Any] | None
    params: BaseModel | None
    error: str | None  # set when the call can't run: the text for the tool-result message


def _fresh_call_id(taken: set[str]) -> str:
    while True:
        candidate = f"call_{uuid.uuid4().hex[:16]}"
        if candidate not in taken:
            return candidate


def dedupe_call_ids(calls: list[ToolCall]) -> list[ToolCall]:
    """The calls with empty or repeated ids given fresh unique ones (copies; the input is
    not changed). Store the assistant message with these calls so results match."""
    taken = {c.id for c in calls if c.id}
    seen: set[str] = set()
    out: list[ToolCall] = []
    for call in calls:
        if not call.id or call.id in seen:
            new_id = _fresh_call_id(taken)
            taken.add(new_id)
            call = replace(call, id=new_id)
        seen.add(call.id)
        out.append(call)
    return out


def check_calls(calls: list[ToolCall], registry: ToolRegistry) -> list[CheckedCall]:
    """Validate each call against the registry. Unknown or empty tool names, arguments
    that are not a JSON object, and missing or invalid arguments give an error text for
    the tool-result message instead of a crash. Empty or duplicate call ids are replaced
    by fresh unique ones (see :func:`dedupe_call_ids`)."""
    checked: list[CheckedCall] = []
    for call in dedupe_call_ids(calls):
        if not call.name.strip():
            # No "ERROR:" prefix here: ToolResult.error adds it once.
            error = "a tool call had an empty tool name. Call one of: " + ", ".join(
                registry.names()
            )
            checked.append(CheckedCall(call, None, None, error))
            continue
        try:
            tool, params = registry.parse(call.name, call.arguments)
        except ToolError as exc:
            checked.append(CheckedCall(call, registry.get(call.name), None, str(exc)))
            continue
        checked.append(CheckedCall(call, tool, params, None))
    return checked


# ----- malformed replies --------------------------------------------------------------------

# An empty reply (no text, no tool call) or one cut at the output limit gets this many
# corrective messages in a row before the turn stops with a named reason.
MAX_CORRECTIONS = 2
EMPTY_REPLY_NUDGE = (
    "[Harness] Your last reply was empty: no text and no tool call. Continue the task: "
    "call a tool, or, if the task is done, answer with your final report as text."
)
CUT_REPLY_NUDGE = (
    "[Harness] Your last reply was cut off at the output token limit. Continue exactly "
    "where it stopped, more briefly if you can."
)


@dataclass
class Correction:
    """What a malformed reply gets: the guard's name and the message to the model."""

    guard: str
    text: str


def reply_correction(reply: ModelReply) -> Correction | None:
    """The correction a malformed reply needs, or None for a well-formed one. A reply
    with tool calls is well-formed here (bad arguments are the tool-call guard's job)."""
    if reply.tool_calls:
        return None
    if not reply.text.strip():
        return Correction("empty_reply", EMPTY_REPLY_NUDGE)
    if reply.finish_reason == "length":
        return Correction("cut_reply", CUT_REPLY_NUDGE)
    return None


def malformed_detail(reply: ModelReply, replies: int) -> str:
    """Why the turn stopped after ``replies`` malformed replies in a row."""
    what = ("stopped at the output token limit" if reply.text.strip()
            else "were empty (no text, no tool call)")
    return (f"the model's last {replies} replies {what} despite {replies - 1} corrections; "
            "try another model, or resume the session to try again")


# ----- dangling and orphan tool results ----------------------------------------------------

DANGLING_RESULT_TEXT = (
    "ERROR: this tool call did not complete (the session was interrupted or the process "
    "stopped). Re-run it if you still need it."
)


def _groups(history: list[Message]) -> list[tuple[int, int]]:
    """(assistant index, end) of each assistant message with tool calls, where
    ``history[index + 1 : end]`` are the tool messages right after it."""
    groups: list[tuple[int, int]] = []
    for i, m in enumerate(history):
        if m.role == "assistant" and m.tool_calls:
            end = i + 1
            while end < len(history) and history[end].role == "tool":
                end += 1
            groups.append((i, end))
    return groups


def plan_repairs(history: list[Message]) -> list[tuple[int, Message]]:
    """For every tool call without a result right after its assistant message: the index
    to insert an error result at (before ``history[index]``; ``len(history)`` appends)
    and the message. Indexes refer to the original history, ascending."""
    plan: list[tuple[int, Message]] = []
    for i, end in _groups(history):
        answered = {m.tool_call_id for m in history[i + 1 : end]}
        for call in history[i].tool_calls:
            if call.id not in answered:
                result = Message(
                    role="tool", content=DANGLING_RESULT_TEXT, tool_call_id=call.id, name=call.name
                )
                plan.append((end, result))
    return plan


def repair_dangling(history: list[Message]) -> list[Message]:
    """The error results for tool calls that never got one (a kill mid-turn, an
    interrupt). Appending them is right when the dangling calls are in the last
    assistant message (the usual case); :func:`plan_repairs` gives positions otherwise."""
    return [message for _, message in plan_repairs(history)]


def orphan_results(history: list[Message]) -> list[int]:
    """Indexes of tool results providers would reject: not right after an assistant
    message that made the call, or a second result for the same call."""
    valid: set[int] = set()
    for i, end in _groups(history):
        ids = {c.id for c in history[i].tool_calls}
        answered: set[str | None] = set()
        for j in range(i + 1, end):
            call_id = history[j].tool_call_id
            if call_id in ids and call_id not in answered:
                valid.add(j)
                answered.add(call_id)
    return [j for j, m in enumerate(history) if m.role == "tool" and j not in valid]


def repair_history(history: list[Message]) -> list[Message]:
    """A copy of the history that providers accept: missing results inserted, orphan
    results dropped. The input list is not changed."""
    orphans = set(orphan_results(history))
    inserts: dict[int, list[Message]] = {}
    for index, message in plan_repairs(history):
        inserts.setdefault(index, []).append(message)
    out: list[Message] = []
    for j, message in enumerate(history):
        out.extend(inserts.get(j, []))
        if j not in orphans:
            out.append(message)
    out.extend(inserts.get(len(history), []))
    return out


# ----- approvals -----------------------------------------------------------------------------


@dataclass
class ApprovalDecision:
    """An approval answer that may carry edited arguments (e.g. the user fixed a job's
    script before launching it). The loop validates them against the tool's schema."""

    approved: bool
    arguments: dict[str, Any] | None = None


class Approver(Protocol):
    """Decides whether a call that needs approval may run."""

    async def approve(self, request: ApprovalRequested) -> bool | ApprovalDecision:
        """True (or an approved decision, possibly with edited arguments) to run it."""
        ...


_SECRETS_NEED_A_PERSON = (
    "{name} would hand the secret(s) {names} to agent-written code, which only a person "
    "may approve (neither --yes nor --compute-budget does); the call was not run. Continue "
    "without the secret if you can, or ask the user to run the session interactively "
    "(intern, intern resume -i) or in the web app and approve it there."
)


class AutoApprover:
    """Approves everything (explicit opt-in, ``--yes``) except handing secrets to
    agent-written code, which only a person may approve."""

    async def approve(self, request: ApprovalRequested) -> bool:
        """True unless the call forwards secrets."""
        return not request.forwards_secrets

    def reason(self, request: ApprovalRequested) -> str:
        """The text to return to the model for a call it refused."""
        return _SECRETS_NEED_A_PERSON.format(name=request.name,
                                             names=", ".join(request.forwards_secrets))


class DenyingApprover:
    """Headless without auto-approve: denies, and says how to allow it next time."""

    def __init__(self) -> None:
        self.last_reason: str | None = None

    def reason(self, request: ApprovalRequested) -> str:
        """The text to return to the model for a denied call."""
        if request.forwards_secrets:
            return _SECRETS_NEED_A_PERSON.format(name=request.name,
                                                 names=", ".join(request.forwards_secrets))
        why = f" ({request.reason})" if request.reason else ""
        return (
            f"{request.name} needs approval{why}; approval is not available in headless "
            "mode, so the call was not run. Continue without it if you can, or ask the "
            "user to rerun with --yes, or with --compute-budget for paid compute."
        )

    async def approve(self, request: ApprovalRequested) -> bool:
        """Always False; the reason is kept in ``last_reason``."""
        self.last_reason = self.reason(request)
        return False


# ----- budget ---------------------------------------------------------------------------------


class BudgetGuard:
    """A dollar budget for the session (None: no limit)."""

    def __init__(self, budget_usd: float | None) -> None:
        if budget_usd is not None and budget_usd < 0:
            raise ValueError(f"the budget must be zero or more dollars, got {budget_usd}")
        self.budget_usd = budget_usd

    def exceeded(self, total_cost_usd: float) -> bool:
        """Whether spending has reached the budget (nothing spent never exceeds it, so
        free local models run under a zero budget)."""
        if self.budget_usd is None:
            return False
        return total_cost_usd > 0 and total_cost_usd >= self.budget_usd

    def remaining(self, total_cost_usd: float) -> float | None:
        """Dollars left (never negative), or None without a budget."""
        if self.budget_usd is None:
            return None
        return max(0.0, self.budget_usd - total_cost_usd)
