"""Provider-neutral message and reply types (OpenAI chat format underneath)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


@dataclass
class ToolCall:
    """A tool call as the model wrote it. ``arguments`` is the raw JSON text, unparsed,
    so that malformed output reaches the guards instead of crashing a parser."""

    id: str
    name: str
    arguments: str

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI wire form."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass
class Message:
    """One chat message. ``kind`` marks messages the harness wrote (summaries, guard
    nudges) so the context builder can treat them specially; providers never see it."""

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    kind: str = ""
    # Store row id (None until recorded); used for compaction boundaries and undo.
    id: int | None = None
    # The request's prefix up to here stays identical for a while: providers that cache
    # only at explicit breakpoints (Anthropic) get one here. Never sent as a field.
    cache_breakpoint: bool = False

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI wire form that LiteLLM accepts for every provider."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [tc.to_openai() for tc in self.tool_calls]
            if not self.content:
                out["content"] = None
        if self.role == "tool":
            out["tool_call_id"] = self.tool_call_id
            if self.name:
                out["name"] = self.name
        return out


@dataclass
class Usage:
    """Token usage and dollar cost of one model call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class ModelReply:
    """A complete model reply after the stream ended."""

    text: str
    tool_calls: list[ToolCall]
    usage: Usage
    finish_reason: str | None = None
    model: str = ""
    retries: int = 0
    duration_s: float = 0.0


@dataclass
class TextDelta:
    """A chunk of streamed assistant text."""

    text: str


@dataclass
class RetryNotice:
    """The client is about to retry a failed call."""

    reason: str
    attempt: int
    delay_s: float


StreamItem = TextDelta | RetryNotice | ModelReply


class LLMClient(Protocol):
    """What the loop needs from a model: one streaming call, and the window size."""

    model: str

    def stream(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        *,
        max_tokens: int | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Yield text deltas and retry notices, then exactly one final ``ModelReply``."""
        ...

    def context_window(self) -> int:
        """The model's input window in tokens."""
        ...
