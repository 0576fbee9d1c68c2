"""Fast token estimates for context accounting.

Exact tokenisers differ per provider and are slow on a 300-step history; the harness
estimates with a fixed characters-per-token ratio and the context builder calibrates it
against the prompt_tokens the provider reports. The scripted server uses the same
estimator, so tests of the window invariant are exact against it.
"""

from __future__ import annotations

import json
from typing import Any

CHARS_PER_TOKEN = 4
PER_MESSAGE_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    """Tokens in ``text`` at the fixed ratio (rounded up)."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def estimate_openai_message_tokens(message: dict[str, Any]) -> int:
    """Tokens of one OpenAI-format message dict (content, tool calls, ids)."""
    total = PER_MESSAGE_OVERHEAD
    content = message.get("content")
    if isinstance(content, str):
        total += estimate_tokens(content)
    elif isinstance(content, list):  # content blocks (e.g. with cache_control markers)
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                total += estimate_tokens(block["text"])
    for call in message.get("tool_calls") or []:
        fn = call.get("function", {})
        total += estimate_tokens(str(fn.get("name", ""))) + estimate_tokens(
            str(fn.get("arguments", ""))
        )
        total += PER_MESSAGE_OVERHEAD
    return total


def estimate_request_tokens(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
) -> int:
    """Tokens of a whole chat request: every message plus the tool specs."""
    total = sum(estimate_openai_message_tokens(m) for m in messages)
    if tools:
        total += estimate_tokens(json.dumps(tools, separators=(",", ":")))
    return total
