"""Accumulates one streamed chat completion (text, parallel tool calls, usage)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from openintern.llm.types import ToolCall


def field_of(obj: Any, name: str) -> Any:
    """Attribute or key access: LiteLLM objects and plain dicts both appear in streams."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


@dataclass
class _PartialCall:
    """One tool call being assembled from its deltas."""

    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class StreamState:
    """What one attempt has accumulated from the stream so far."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    finish_reason: str | None = None
    # What the provider itself sent, when the stream wrapper says (see client.py).
    provider_finish_reason: str | None = None
    usage: Any = None

    def add(self, chunk: Any) -> str:
        """Fold one chunk in; return its text delta (possibly empty)."""
        usage = field_of(chunk, "usage")
        if usage is not None:
            self.usage = usage
        delta_text = ""
        for choice in field_of(chunk, "choices") or []:
            if field_of(choice, "finish_reason"):
                self.finish_reason = str(field_of(choice, "finish_reason"))
            delta = field_of(choice, "delta")
            content = field_of(delta, "content")
            if isinstance(content, str) and content:
                delta_text += content
            for tc in field_of(delta, "tool_calls") or []:
                self._add_call_delta(tc)
        if delta_text:
            self.text.append(delta_text)
        return delta_text

    def _add_call_delta(self, tc: Any) -> None:
        index = field_of(tc, "index")
        call_id = field_of(tc, "id")
        if not isinstance(index, int):
            # Some providers omit the index: a new id starts a new call, else continue
            # the latest one.
            known = [i for i, c in self.calls.items() if call_id and c.id == call_id]
            if known:
                index = known[0]
            elif call_id or not self.calls:
                index = len(self.calls)
            else:
                index = max(self.calls)
        call = self.calls.setdefault(index, _PartialCall())
        if call_id and not call.id:
            call.id = str(call_id)
        fn = field_of(tc, "function")
        name = field_of(fn, "name")
        if name and not call.name:
            call.name = str(name)
        args = field_of(fn, "arguments")
        if isinstance(args, str):
            call.arguments.append(args)

    def tool_calls(self) -> list[ToolCall]:
        """The accumulated calls in index order, with generated ids where none came."""
        return [
            ToolCall(
                id=c.id or f"call_{uuid.uuid4().hex[:24]}",
                name=c.name,
                arguments="".join(c.arguments),
            )
            for _, c in sorted(self.calls.items())
        ]
