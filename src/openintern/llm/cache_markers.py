"""Anthropic prompt-caching breakpoints on OpenAI-format messages.

Anthropic caches a prompt prefix only up to explicit ``cache_control`` breakpoints;
LiteLLM passes markers on content blocks through to Anthropic (and Claude on other
providers). Other providers cache automatically, so their messages stay untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
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


def apply_cache_markers(
    openai_messages: list[dict[str, Any]], model: str, stable: Iterable[int] = ()
) -> list[dict[str, Any]]:
    """Add Anthropic prompt-caching breakpoints; other models get the messages unchanged.

    Breakpoints, in order of priority: the last system message (tools and system prompt),
    the ``stable`` indexes the context builder names (the pinned block, stable until the
    next summary; the last masked output, stable until masking moves: when masking moves
    or a summary lands, the prefix up to the previous one is still read from the cache),
    and the last message (a rolling cache: the next request extends this one). Existing
    markers count toward Anthropic's limit of four. The input list is not modified.
    """
    if not is_anthropic_model(model):
        return openai_messages
    out = copy.deepcopy(openai_messages)
    budget = MAX_CACHE_MARKERS - sum(_count_markers(m) for m in out)
    targets: list[int] = []
    system_indexes = [i for i, m in enumerate(out) if m.get("role") == "system"]
    if system_indexes:
        targets.append(system_indexes[-1])
    last = len(out) - 1
    middle = [i for i in stable if 0 <= i < last and i not in targets]
    # The last message outranks all but the newest stable point: the rolling cache is
    # what consecutive requests share most.
    targets += middle[-1:]
    if out and last not in targets:
        targets.append(last)
    targets += [i for i in reversed(middle[:-1]) if i not in targets]
    for i in targets:
        if budget <= 0:
            break
        if _count_markers(out[i]) == 0 and _mark(out[i]):
            budget -= 1
    return out
