"""Summaries of earlier work: the model-written one and the deterministic fallback.

The context builder summarises a range of the history only when masking old tool outputs
is not enough. The default summariser asks the session's own model; when that call fails
(timeout, provider error, empty answer) the builder uses :func:`fallback_summary`, built
from the messages alone, so a compaction never fails.
"""

from __future__ import annotations

import asyncio
import json

from openintern.accounting.scope import spending_as
from openintern.llm.markers import SUMMARY_REQUEST_MARKER
from openintern.llm.tokens import CHARS_PER_TOKEN, estimate_tokens
from openintern.llm.types import LLMClient, Message, ModelReply, ToolCall

SUMMARY_PREFIX = "[Summary of earlier work in this session]"

SUMMARY_INSTRUCTIONS = """\
You compact the working memory of an autonomous ML research agent. You receive a \
transcript of part of its session (its actions, tool results and messages). Write a \
summary that lets the agent continue the work without the transcript. Use these sections:

## Goal and constraints
## What was done (key actions, commands, files written or changed)
## Results (exact numbers, metric names, run or experiment ids, file paths)
## Problems found and how they were handled
## Current state and next steps

Keep numbers, ids, paths and error messages exact. Do not invent anything. Earlier \
summaries in the transcript must be folded into yours. Full outputs of old tool calls \
stay readable in files under .openintern/spill/; mention such a file when a detail may \
be needed again. At most about 1,200 words."""


class SummaryError(Exception):
    """The summarising model call failed or returned nothing usable."""


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, keeping head and tail around a marker."""
    if len(text) <= limit:
        return text
    if limit < 40:
        return text[:limit]
    head = (limit - 20) * 2 // 3
    tail = limit - 20 - head
    return f"{text[:head]} […{len(text) - head - tail:,} chars…] {text[len(text) - tail :]}"


def short_arguments(call: ToolCall, limit: int = 160) -> str:
    """A call's arguments as compact one-line JSON (raw text when not JSON), clipped."""
    try:
        text = json.dumps(json.loads(call.arguments), separators=(",", ":"), ensure_ascii=False)
    except (ValueError, TypeError):
        text = call.arguments
    return _clip(" ".join(text.split()), limit)


def _render_message(message: Message, cap: int) -> str:
    if message.kind == "summary":
        return f"### Earlier summary\n{_clip(message.content, max(cap * 4, 2000))}"
    if message.role == "tool":
        label = message.name or message.tool_call_id or "tool"
        return f"### Result of {label}\n{_clip(message.content, cap)}"
    if message.role == "assistant":
        parts = ["### Agent"]
        if message.content:
            parts.append(_clip(message.content, cap * 2))
        parts.extend(f"-> {c.name}({short_arguments(c, cap)})" for c in message.tool_calls)
        return "\n".join(parts)
    label = "Harness note" if message.kind else "User"
    return f"### {label}\n{_clip(message.content, cap * 2)}"


def render_transcript(messages: list[Message], *, max_chars: int) -> str:
    """The messages as a readable transcript of at most ``max_chars`` characters.

    Long messages are clipped (head and tail), progressively harder; if that is not
    enough, the middle of the range is dropped, keeping its start and its latest part.
    """
    rendered: list[str] = []
    for cap in (3000, 1200, 400, 120):
        rendered = [_render_message(m, cap) for m in messages]
        if sum(len(r) + 2 for r in rendered) <= max_chars:
            return "\n\n".join(rendered)
    head: list[str] = []
    tail: list[str] = []
    used = 60  # room for the omission marker
    i, j = 0, len(rendered) - 1
    # Alternate one from the start, two from the end: recent work matters more.
    while i <= j:
        for side in ("tail", "tail", "head"):
            if i > j:
                break
            piece = rendered[j] if side == "tail" else rendered[i]
            if used + len(piece) + 2 > max_chars:
                j = i - 1  # stop both sides
                break
            used += len(piece) + 2
            if side == "tail":
                tail.append(piece)
                j -= 1
            else:
                head.append(piece)
                i += 1
    omitted = len(rendered) - len(head) - len(tail)
    middle = [f"[… {omitted} messages omitted …]"] if omitted else []
    text = "\n\n".join(head + middle + list(reversed(tail)))
    return text[:max_chars]


def fallback_summary(messages: list[Message], *, max_chars: int) -> str:
    """A summary built deterministically from the messages (no model call).

    Lists earlier summaries, user messages, every tool call (name and short arguments)
    with the first line of its result, and the agent's last texts; capped to
    ``max_chars`` by keeping the most recent tool calls.
    """
    results = {m.tool_call_id: m.content for m in messages if m.role == "tool" and m.tool_call_id}
    earlier = [m.content for m in messages if m.kind == "summary"]
    users = [
        m.content for m in messages if m.role == "user" and m.kind not in ("summary", "pinned")
    ]
    calls: list[str] = []
    texts: list[str] = []
    for m in messages:
        if m.role != "assistant":
            continue
        if m.content.strip():
            texts.append(m.content.strip())
        for c in m.tool_calls:
            first = (results.get(c.id) or "(no result)").strip().split("\n", 1)[0]
            calls.append(f"- {c.name}({short_arguments(c, 120)}) → {_clip(first, 150)}")

    header = (
        "(Automatic summary: the model summary was unavailable. Full outputs of old tool "
        "calls stay readable in .openintern/spill/.)"
    )
    fixed: list[str] = [header]
    if earlier:
        fixed.append("Earlier summary:\n" + _clip(earlier[-1], max(400, max_chars // 3)))
    if users:
        fixed.append("User messages:\n" + "\n".join(f"- {_clip(u, 400)}" for u in users[-5:]))
    if texts:
        fixed.append("Agent's last notes:\n" + "\n".join(f"- {_clip(t, 500)}" for t in texts[-3:]))
    body = "\n\n".join(fixed)
    room = max_chars - len(body) - 80
    kept: list[str] = []
    for line in reversed(calls):
        if room - len(line) - 1 < 0:
            break
        kept.append(line)
        room -= len(line) + 1
    kept.reverse()
    if kept or calls:
        dropped = len(calls) - len(kept)
        lead = f"Tool calls ({len(calls)}" + (f", oldest {dropped} omitted):" if dropped else "):")
        body += "\n\n" + lead + ("\n" + "\n".join(kept) if kept else "")
    return _clip(body, max_chars)


class ModelSummarizer:
    """The default summariser: asks an :class:`LLMClient` (no tools) for a summary."""

    def __init__(
        self, client: LLMClient, *, max_tokens: int = 2048, timeout_s: float = 120
    ) -> None:
        self.client = client
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s

    def _transcript_budget_chars(self) -> int:
        """Characters of transcript that fit the model's window with room for the reply.
        Uses 70% of the estimate's room because the provider's tokeniser may count more."""
        window = self.client.context_window()
        room = window - self.max_tokens - estimate_tokens(SUMMARY_INSTRUCTIONS) - 64
        return max(1000, int(room * 0.7) * CHARS_PER_TOKEN)

    async def __call__(self, messages: list[Message]) -> str:
        """Return the summary text of ``messages``. Raises :class:`SummaryError` (or the
        client's exception, or ``TimeoutError``) on failure; the builder then falls back."""
        transcript = render_transcript(messages, max_chars=self._transcript_budget_chars())
        request = [
            Message(role="system", content=SUMMARY_INSTRUCTIONS),
            # A harness-built message (not the user's words): the private-data filter
            # checks it like any tool output.
            Message(role="user", content=f"{SUMMARY_REQUEST_MARKER}\n{transcript}",
                    kind="summary_request"),
        ]
        reply: ModelReply | None = None
        # Summaries spend too: counted as such against the session's budget.
        with spending_as("summary"):
            async with asyncio.timeout(self.timeout_s):
                async for item in self.client.stream(request, None, max_tokens=self.max_tokens):
                    if isinstance(item, ModelReply):
                        reply = item
        if reply is None:
            raise SummaryError("the summarising call ended without a reply")
        text = reply.text.strip()
        if not text:
            raise SummaryError("the summarising call returned an empty summary")
        return text
