"""LiteLLMClient through LiteLLM's openai provider against the scripted server over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from openintern.config import Settings
from openintern.llm.client import FALLBACK_CONTEXT_WINDOW, LiteLLMClient
from openintern.llm.errors import (
    ContextWindowExceeded,
    LLMAuthError,
    LLMBadRequest,
    LLMUnavailable,
)
from openintern.llm.scripted import ScriptedServer
from openintern.llm.tokens import estimate_request_tokens
from openintern.llm.types import Message, ModelReply, RetryNotice, StreamItem, TextDelta

HISTORY = [
    Message(role="system", content="You are a careful ML researcher."),
    Message(role="user", content="Find the best classifier for digits."),
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "shell",
            "description": "Run a command.",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
        },
    }
]


def client_for(server: ScriptedServer, **options: Any) -> LiteLLMClient:
    options.setdefault("retry_base_delay_s", 0.01)
    options.setdefault("retry_max_delay_s", 0.05)
    return LiteLLMClient("openai/scripted", api_base=server.base_url, api_key="test", **options)


async def collect(
    client: LiteLLMClient,
    messages: list[Message] = HISTORY,
    tools: list[dict[str, Any]] | None = None,
) -> list[StreamItem]:
    return [item async for item in client.stream(messages, tools)]


def final(items: list[StreamItem]) -> ModelReply:
    replies = [i for i in items if isinstance(i, ModelReply)]
    assert len(replies) == 1 and items[-1] is replies[0]
    return replies[0]


async def test_streams_text_and_reports_usage(scripted: Any) -> None:
    text = "Let me start by looking at the data set and its class balance."
    server = scripted([{"text": text}])
    items = await collect(client_for(server))
    deltas = [i.text for i in items if isinstance(i, TextDelta)]
    assert len(deltas) > 1 and "".join(deltas) == text
    reply = final(items)
    assert reply.text == text and reply.tool_calls == []
    assert reply.finish_reason == "stop"
    assert reply.retries == 0 and reply.duration_s > 0
    wire = [m.to_openai() for m in HISTORY]
    assert reply.usage.prompt_tokens == estimate_request_tokens(wire)
    assert reply.usage.completion_tokens == (len(text) + 3) // 4
    assert reply.usage.cost_usd == 0.0  # "openai/scripted" has no price: no crash


async def test_accumulates_parallel_tool_calls(scripted: Any) -> None:
    server = scripted(
        [
            {
                "text": "Two things at once.",
                "tool_calls": [
                    {
                        "name": "shell",
                        "arguments": {"command": "nvidia-smi --query-gpu=name --format=csv"},
                    },
                    {"name": "shell", "arguments": '{"command": "ls", broken', "id": "call_given"},
                ],
            }
        ]
    )
    reply = final(await collect(client_for(server), tools=TOOLS))
    assert reply.finish_reason == "tool_calls"
    assert [c.name for c in reply.tool_calls] == ["shell", "shell"]
    assert reply.tool_calls[0].arguments == (
        '{"command": "nvidia-smi --query-gpu=name --format=csv"}'
    )
    assert reply.tool_calls[1].arguments == '{"command": "ls", broken'  # untouched
    assert reply.tool_calls[1].id == "call_given"
    assert reply.tool_calls[0].id and reply.tool_calls[0].id != reply.tool_calls[1].id
    assert server.requests[0]["tools"] == TOOLS


async def test_usage_includes_cached_prefix(scripted: Any) -> None:
    server = scripted([{"text": "one"}, {"text": "two"}])
    client = client_for(server)
    await collect(client)
    longer = [
        *HISTORY,
        Message(role="assistant", content="one"),
        Message(role="user", content="go on"),
    ]
    reply = final(await collect(client, longer))
    assert reply.usage.cached_tokens == estimate_request_tokens([m.to_openai() for m in HISTORY])


async def test_retries_429_honouring_retry_after(scripted: Any) -> None:
    server = scripted(
        [{"error": {"status": 429, "retry_after": 0.2, "times": 2}, "text": "after the rate limit"}]
    )
    items = await collect(client_for(server))
    notices = [i for i in items if isinstance(i, RetryNotice)]
    assert [n.attempt for n in notices] == [1, 2]
    assert all(n.delay_s == pytest.approx(0.2) for n in notices)  # not the 0.01 backoff
    assert "429" in notices[0].reason
    reply = final(items)
    assert reply.text == "after the rate limit" and reply.retries == 2
    assert reply.duration_s >= 0.4
    assert len(server.requests) == 3  # LiteLLM and the OpenAI SDK did not retry on their own


async def test_retries_500_with_capped_backoff(scripted: Any) -> None:
    server = scripted([{"error": {"status": 500, "times": 3}, "text": "recovered"}])
    items = await collect(client_for(server))
    notices = [i for i in items if isinstance(i, RetryNotice)]
    assert len(notices) == 3
    assert all(0 < n.delay_s <= 0.05 for n in notices)
    assert final(items).text == "recovered"


async def test_cut_stream_restarts_without_duplicating_text(scripted: Any) -> None:
    text = "The validation accuracy is 0.973 with a random forest of 300 trees."
    server = scripted([{"text": text, "cut_after_chars": 30}])
    items = await collect(client_for(server))
    notice_at = next(i for i, item in enumerate(items) if isinstance(item, RetryNotice))
    before = "".join(i.text for i in items[:notice_at] if isinstance(i, TextDelta))
    after = "".join(i.text for i in items[notice_at:] if isinstance(i, TextDelta))
    assert before == text[:30]  # the partial attempt, which a UI discards
    assert after == text
    reply = final(items)
    assert reply.text == text and reply.retries == 1
    assert "stream" in items[notice_at].reason  # type: ignore[union-attr]


async def test_401_raises_auth_error_without_retrying(scripted: Any) -> None:
    server = scripted([{"error": {"status": 401, "message": "bad key", "times": 5}}])
    with pytest.raises(LLMAuthError) as info:
        await collect(client_for(server))
    assert info.value.env_var == "OPENINTERN_API_KEY"
    assert "OPENINTERN_API_KEY" in str(info.value) and server.base_url in str(info.value)
    assert len(server.requests) == 1


async def test_auth_error_names_the_provider_variable() -> None:
    from openintern.llm.provider_errors import auth_error

    err = auth_error(401, model="anthropic/claude-sonnet-5-5", provider="anthropic", api_base=None)
    assert err.env_var == "ANTHROPIC_API_KEY" and "ANTHROPIC_API_KEY" in str(err)


async def test_context_window_exceeded_is_typed(scripted: Any) -> None:
    server = scripted([{"text": "never"}], context_window=10)
    with pytest.raises(ContextWindowExceeded, match="context window"):
        await collect(client_for(server))
    assert len(server.requests) == 1


async def test_400_is_a_bad_request_without_retry(scripted: Any) -> None:
    server = scripted([{"error": {"status": 400, "message": "tools[0] is invalid"}}])
    with pytest.raises(LLMBadRequest, match="tools\\[0\\] is invalid"):
        await collect(client_for(server))
    assert len(server.requests) == 1


async def test_retries_exhausted_raise_unavailable(scripted: Any) -> None:
    server = scripted([{"error": {"status": 503, "times": 10}}])
    with pytest.raises(LLMUnavailable) as info:
        await collect(client_for(server, max_retries=2))
    assert info.value.attempts == 3 and "3 attempts" in str(info.value)
    assert "503" in info.value.last_reason
    assert len(server.requests) == 3


async def test_dead_server_is_unavailable_after_retries() -> None:
    server = ScriptedServer(lambda body, i: None).start()
    base_url = server.base_url
    server.stop()
    client = LiteLLMClient(
        "openai/scripted", api_base=base_url, api_key="test", max_retries=1, retry_base_delay_s=0.01
    )
    with pytest.raises(LLMUnavailable, match="2 attempts"):
        await collect(client)


async def test_vllm_alias_and_keyless_local_server(
    scripted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = scripted([{"text": "served by a local OpenAI-compatible server"}])
    client = LiteLLMClient("vllm/my-model", api_base=server.base_url, retry_base_delay_s=0.01)
    reply = final(await collect(client))
    assert reply.text == "served by a local OpenAI-compatible server"
    assert server.requests[0]["model"] == "my-model"


def test_context_window_from_table_override_and_fallback() -> None:
    import litellm

    claude = LiteLLMClient("anthropic/claude-sonnet-5-5")
    expected = litellm.get_model_info("anthropic/claude-sonnet-5-5")["max_input_tokens"]
    assert claude.context_window() == expected >= 200_000
    assert (
        LiteLLMClient(
            "anthropic/claude-sonnet-5-5", context_window_override=50_000
        ).context_window()
        == 50_000
    )
    assert LiteLLMClient("openai/scripted").context_window() == FALLBACK_CONTEXT_WINDOW
    assert LiteLLMClient("nobody/knows-this-model").context_window() == FALLBACK_CONTEXT_WINDOW


def test_from_settings_carries_every_setting() -> None:
    settings = Settings(
        model="openai/local",
        api_base="http://127.0.0.1:9/v1",
        api_key="sk-secret",
        context_window=4096,
        max_retries=2,
        request_timeout_s=30,
        max_output_tokens=512,
    )
    client = LiteLLMClient.from_settings(settings)
    assert (client.model, client.api_base, client.api_key) == (
        "openai/local",
        "http://127.0.0.1:9/v1",
        "sk-secret",
    )
    assert client.context_window() == 4096
    assert (client.max_retries, client.timeout_s, client.max_output_tokens) == (2, 30, 512)


def test_cost_uses_the_price_table_for_known_models() -> None:
    client = LiteLLMClient("anthropic/claude-sonnet-5-5")
    full = client._cost(1_000_000, 0, 0)
    assert full > 0
    assert client._cost(1_000_000, 0, 900_000) < full  # cache reads are cheaper


async def test_litellm_prints_nothing_on_errors(
    scripted: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    server = scripted([{"error": {"status": 400, "message": "bad"}}])
    with pytest.raises(LLMBadRequest):
        await collect(client_for(server), tools=TOOLS)
    assert capfd.readouterr().out == ""


async def test_consumer_can_stop_early_and_stream_again(scripted: Any) -> None:
    server = scripted([{"text": "x" * 500}, {"text": "second"}])
    client = client_for(server)
    stream = client.stream(HISTORY)
    first = await anext(stream)
    assert isinstance(first, TextDelta)
    await stream.aclose()  # e.g. the user interrupted
    assert final(await collect(client)).text == "second"
