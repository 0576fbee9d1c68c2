"""Anthropic prompt-caching breakpoints on OpenAI-format messages.

Anthropic caches a prompt prefix only up to explicit ``cache_control`` breakpoints;
LiteLLM passes markers on content blocks through to Anthropic (and Claude on other
providers). Other providers cache automatically, so their messages stay untouched.
"""

from __future__ import annotations

import copy
from typing import Any

# Anthropic allows at most four cache breakpoints per request.
MAX_CACHE_MARKERS = 4
_EPHEMERAL = {"type": "ephemeral"}


def is_anthropic_model(model: str) -> bool:
    """Whether prompt-caching markers apply (Anthropic API or Claude on any provider)."""
    return model.startswith("anthropic/") or "claude" in model.lower()


def _count_markers(message: dict[str, Any]) -> int:
    content = message.get("content")
    blocks = content if isinstance(content, list) else []
    return int("cache_control" in message) + sum(
        1 for b in blocks if isinstance(b, dict) and "cache_control" in b
    )


def _mark(message: dict[str, Any]) -> bool:
    """Put a cache breakpoint on the message's last text block; False if it has no text."""
    content = message.get("content")
    if isinstance(content, str) and content:
        message["content"] = [{"type": "text", "text": content, "cache_control": dict(_EPHEMERAL)}]
        return True
    if isinstance(content, list) and content and isinstance(content[-1], dict):
        content[-1]["cache_control"] = dict(_EPHEMERAL)
        return True
    return False  # empty text blocks are rejected by Anthropic, so nothing to mark


def apply_cache_markers(openai_messages: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """Add Anthropic prompt-caching breakpoints; other models get the messages unchanged.

    Two breakpoints: the last system message (the stable prefix: system prompt and pinned
    state) and the last message of the request (a rolling cache: the next request, which
    extends this one, reads everything up to here from the cache). Existing markers count
    toward Anthropic's limit of four. The input list is not modified.
    """
    if not is_anthropic_model(model):
        return openai_messages
    out = copy.deepcopy(openai_messages)
    budget = MAX_CACHE_MARKERS - sum(_count_markers(m) for m in out)
    targets: list[int] = []
    system_indexes = [i for i, m in enumerate(out) if m.get("role") == "system"]
    if system_indexes:
        targets.append(system_indexes[-1])
    if out and (len(out) - 1) not in targets:
        targets.append(len(out) - 1)
    for i in targets:
        if budget <= 0:
            break
        if _count_markers(out[i]) == 0 and _mark(out[i]):
            budget -= 1
    return out
