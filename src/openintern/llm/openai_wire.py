"""Bodies of the OpenAI chat-completions wire format, as the scripted server sends them.

Kept exactly to OpenAI's shapes (``chat.completion``, ``chat.completion.chunk`` and the
``{"error": {...}}`` body) so that LiteLLM's openai provider parses them as it would a
real provider's.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

TEXT_CHUNK_CHARS = 24
ARGUMENT_CHUNK_CHARS = 32

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def message_text(message: dict[str, Any]) -> str:
    """The text of an OpenAI message whose content is a string or a list of blocks."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)
        )
    return ""


@dataclass
class WireReply:
    """What the server decided to answer one request with."""

    status: int
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    error: dict[str, Any] | None = None
    retry_after: float | None = None
    cut_after_chars: int | None = None
    delay_s: float = 0.0
    step: int | None = None
    kind: str = "step"
    fault: str | None = None  # a ``ScriptedFault`` kind: send a broken 200 instead


def error_reply(status: int, message: str, code: str | None = None) -> WireReply:
    """An HTTP error with OpenAI's ``{"error": {message, type, param, code}}`` body."""
    err_type, default_code = _ERROR_TYPES.get(status, ("server_error", None))
    error = {"message": message, "type": err_type, "param": None, "code": code or default_code}
    return WireReply(status, error={"error": error}, kind="error")


def completion_body(
    body: dict[str, Any], reply: WireReply, usage: dict[str, Any]
) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for c in reply.tool_calls
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
        "usage": usage,
    }


def stream_events(
    body: dict[str, Any], reply: WireReply, usage: dict[str, Any] | None
) -> list[dict[str, Any] | None]:
    """The chunk objects of a streamed reply; ``None`` marks where to cut the connection."""
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events: list[dict[str, Any] | None] = [chunk({"role": "assistant", "content": ""})]
    text = reply.text if reply.cut_after_chars is None else reply.text[: reply.cut_after_chars]
    for i in range(0, len(text), TEXT_CHUNK_CHARS):
        events.append(chunk({"content": text[i : i + TEXT_CHUNK_CHARS]}))
    if reply.cut_after_chars is not None:
        return [*events, None]
    for index, call in enumerate(reply.tool_calls):
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        args = call["arguments"]
        for i in range(0, len(args), ARGUMENT_CHUNK_CHARS):
            piece = args[i : i + ARGUMENT_CHUNK_CHARS]
            delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
            events.append(chunk(delta))
    events.append(chunk({}, reply.finish_reason))
    if usage is not None:
        events.append({**base, "choices": [], "usage": usage})
    return events


# What a misbehaving proxy or gateway sends with a 200: an HTML error page.
NON_JSON_BODY = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center></body></html>\n"
)


def no_choices_body(body: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    """A ``chat.completion`` (or chunk) object with every field but ``choices``."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion.chunk" if body.get("stream") else "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "usage": usage,
    }
