"""Anthropic prompt-caching breakpoints."""

from __future__ import annotations

import copy
from typing import Any

from openintern.llm.client import apply_cache_markers
from openintern.llm.tokens import estimate_request_tokens

EPHEMERAL = {"type": "ephemeral"}


def conversation() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are a researcher."},
        {"role": "user", "content": "Go."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "shell", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "exit 0"},
    ]


def markers(messages: list[dict[str, Any]]) -> list[int]:
    return [
        i
        for i, m in enumerate(messages)
        if isinstance(m.get("content"), list) and any("cache_control" in b for b in m["content"])
    ]


def test_claude_gets_system_and_last_message_markers() -> None:
    original = conversation()
    marked = apply_cache_markers(original, "anthropic/claude-sonnet-5-5")
    assert marked[0]["content"] == [
        {"type": "text", "text": "You are a researcher.", "cache_control": EPHEMERAL}
    ]
    assert marked[3]["content"] == [{"type": "text", "text": "exit 0", "cache_control": EPHEMERAL}]
    assert marked[3]["tool_call_id"] == "c1"
    assert markers(marked) == [0, 3]
    assert original == conversation()  # input untouched
    # Token accounting sees the same text either way.
    assert estimate_request_tokens(marked) == estimate_request_tokens(original)


def test_claude_on_other_providers_is_marked_too() -> None:
    assert markers(apply_cache_markers(conversation(), "bedrock/anthropic.claude-x")) == [0, 3]


def test_other_models_are_unchanged() -> None:
    for model in ("openai/gpt-5", "ollama/llama3", "openai/scripted"):
        assert apply_cache_markers(conversation(), model) == conversation()


def test_never_more_than_four_markers() -> None:
    messages = conversation()
    for i in (1, 2, 3):
        messages[i] = {
            **messages[i],
            "content": [{"type": "text", "text": f"block {i}", "cache_control": EPHEMERAL}],
        }
    messages.append({"role": "user", "content": "next"})
    marked = apply_cache_markers(copy.deepcopy(messages), "anthropic/claude-opus")
    total = sum(
        1
        for m in marked
        if isinstance(m.get("content"), list)
        for b in m["content"]
        if "cache_control" in b
    )
    assert total == 4


def test_empty_last_message_is_not_marked() -> None:
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": ""}]
    marked = apply_cache_markers(messages, "anthropic/claude-sonnet-5-5")
    assert marked[1]["content"] == ""
    assert markers(marked) == [0]


def test_stable_points_named_by_the_context_get_markers_within_the_limit() -> None:
    messages = [
        *conversation(),
        {"role": "assistant", "content": "next"},
        {"role": "tool", "tool_call_id": "c2", "content": "exit 1"},
    ]
    marked = apply_cache_markers(messages, "anthropic/claude-sonnet", stable=[1, 3])
    # System prompt, both stable points (pinned block, last masked output), last message.
    assert markers(marked) == [0, 1, 3, 5]
    # With the limit reached, the newest stable point and the last message come first.
    taken = copy.deepcopy(messages)
    taken[2] = {**taken[2], "content": [{"type": "text", "text": "t", "cache_control": EPHEMERAL}]}
    assert markers(apply_cache_markers(taken, "anthropic/claude-x", stable=[1, 3])) == [0, 2, 3, 5]
    # Out-of-range points are ignored; other models stay untouched.
    assert markers(apply_cache_markers(messages, "anthropic/claude-x", stable=[99])) == [0, 5]
    assert apply_cache_markers(messages, "openai/gpt-5", stable=[1, 3]) == messages
