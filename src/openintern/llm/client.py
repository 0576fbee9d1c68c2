"""``LiteLLMClient``: the one model client, any provider LiteLLM knows.

It streams (text deltas as they arrive, then one ``ModelReply``), retries what is worth
retrying itself (so it can tell the UI before each retry, and restart cut streams from
scratch), prices every call, and knows the model's context window.

LiteLLM takes seconds to import, so it is imported lazily, on the first call.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from openintern.llm.cache_markers import apply_cache_markers, is_anthropic_model
from openintern.llm.errors import LLMUnavailable
from openintern.llm.provider_errors import Retryable, classify_failure
from openintern.llm.stream_state import StreamState, field_of
from openintern.llm.tokens import estimate_request_tokens, estimate_tokens
from openintern.llm.types import (
    Message,
    ModelReply,
    RetryNotice,
    StreamItem,
    TextDelta,
    ToolCall,
    Usage,
)

if TYPE_CHECKING:
    from openintern.config import Settings

# Unknown models (a local server, a new fine-tune) have no entry in LiteLLM's table. 32k
# is what nearly every current open model serves at least, so assuming it keeps requests
# valid; a larger real window only means compacting earlier than needed. Users with a
# bigger (or smaller) window set ``context_window`` explicitly.
FALLBACK_CONTEXT_WINDOW = 32_768

# Retries of a connection that could not be opened at all (refused, unknown host), and
# the longest wait between them.
CONNECT_RETRIES = 1
CONNECT_RETRY_MAX_DELAY_S = 2.0

__all__ = ["FALLBACK_CONTEXT_WINDOW", "LiteLLMClient", "apply_cache_markers"]


def _provider_finish_reason(response: Any, state: StreamState) -> str | None:
    """The finish reason the provider really sent. LiteLLM's stream wrapper invents
    ``stop`` when a stream ends without one (a cut, a proxy's error page, a body without
    ``choices``); its ``received_finish_reason`` keeps what actually arrived."""
    if not hasattr(response, "received_finish_reason"):
        return state.finish_reason  # not LiteLLM's wrapper: trust the chunks
    received = response.received_finish_reason or getattr(
        response, "intermittent_finish_reason", None
    )
    state.provider_finish_reason = str(received) if received else None
    return state.provider_finish_reason


def incomplete_reply(state: StreamState, provider_finish: str | None) -> Retryable | None:
    """Why a stream that ended normally still did not carry a complete reply (None when
    it did): only a reply the provider finished is an answer."""
    if provider_finish is not None:
        return None
    if not state.text and not state.calls:
        return Retryable(
            "the server answered HTTP 200 without a usable reply (a body that is not a "
            "chat completion, or one without choices)"
        )
    return Retryable("the reply stream ended before the reply was complete (no finish reason)")


def _litellm() -> Any:
    """Import LiteLLM once, quietly, with the bundled (offline) price table."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


async def _close_quietly(response: Any) -> None:
    close = getattr(response, "aclose", None)
    if close is None:
        return
    try:
        await close()
    except Exception:  # closing a broken stream may fail again; nothing left to save
        return


class LiteLLMClient:
    """Streams chat completions through LiteLLM with retries, usage and cost.

    Model ids are LiteLLM's (``anthropic/...``, ``openai/...``, ``openrouter/...``, ...).
    Local servers: ``openai/<name>`` or ``vllm/<name>`` with ``api_base`` (the latter is
    sent as LiteLLM's ``hosted_vllm``, the OpenAI-compatible vLLM server), and
    ``ollama/<name>`` (sent as ``ollama_chat``, Ollama's chat endpoint with tool calls).
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 600,
        max_retries: int = 6,
        retry_base_delay_s: float = 1.0,
        retry_max_delay_s: float = 60.0,
        context_window_override: int | None = None,
        max_output_tokens: int = 8192,
    ) -> None:
        self.model = model
        self.api_base = api_base
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.retry_base_delay_s = retry_base_delay_s
        self.retry_max_delay_s = retry_max_delay_s
        self.context_window_override = context_window_override
        self.max_output_tokens = max_output_tokens
        self._window: int | None = None
        self._unpriced = False

    @classmethod
    def from_settings(cls, settings: Settings) -> LiteLLMClient:
        """A client configured from the program's settings."""
        return cls(
            settings.model,
            api_base=settings.api_base,
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            timeout_s=settings.request_timeout_s,
            max_retries=settings.max_retries,
            retry_base_delay_s=settings.retry_base_delay_s,
            retry_max_delay_s=settings.retry_max_delay_s,
            context_window_override=settings.context_window,
            max_output_tokens=settings.max_output_tokens,
        )

    # --- identity ------------------------------------------------------------------------
    @property
    def provider(self) -> str:
        """The provider prefix of the model id (``openai`` when there is none)."""
        if "/" in self.model:
            return self.model.split("/", 1)[0]
        return "anthropic" if is_anthropic_model(self.model) else "openai"

    def litellm_model(self) -> str:
        """The id handed to LiteLLM (local-server aliases resolved)."""
        if self.model.startswith("vllm/"):
            return "hosted_vllm/" + self.model.removeprefix("vllm/")
        if self.model.startswith("ollama/"):
            return "ollama_chat/" + self.model.removeprefix("ollama/")
        return self.model

    def _key(self) -> str | None:
        if self.api_key:
            return self.api_key
        # Local OpenAI-compatible servers rarely check keys, but the OpenAI SDK refuses
        # to send a request without one.
        if (
            self.api_base
            and self.provider in ("openai", "vllm")
            and not os.environ.get("OPENAI_API_KEY")
        ):
            return "no-key-required"
        return None

    # --- window -------------------------------------------------------------------------
    def context_window(self) -> int:
        """The override if set, else LiteLLM's table, else ``FALLBACK_CONTEXT_WINDOW``."""
        if self.context_window_override:
            return self.context_window_override
        if self._window is None:
            self._window = self._lookup_window()
        return self._window

    def _lookup_window(self) -> int:
        try:
            info = _litellm().get_model_info(self.litellm_model(), api_base=self.api_base)
        except Exception:  # unknown id, or a local server that can't be asked
            return FALLBACK_CONTEXT_WINDOW
        for key in ("max_input_tokens", "max_tokens"):
            value = field_of(info, key)
            if isinstance(value, int) and value > 0:
                return value
        return FALLBACK_CONTEXT_WINDOW

    # --- streaming ----------------------------------------------------------------------
    async def stream(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        *,
        max_tokens: int | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Yield text deltas (and a ``RetryNotice`` before each retry), then one reply.

        After a ``RetryNotice`` the call restarts from scratch: text streamed before it
        belongs to the failed attempt and should be discarded by the consumer.
        """
        litellm = _litellm()
        wire = apply_cache_markers(
            [m.to_openai() for m in messages],
            self.model,
            stable=[i for i, m in enumerate(messages) if m.cache_breakpoint],
        )
        kwargs: dict[str, Any] = {
            "model": self.litellm_model(),
            "messages": wire,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max_tokens or self.max_output_tokens,
            "timeout": self.timeout_s,
            "num_retries": 0,  # we retry ourselves (to notify and to restart cut streams)
            "max_retries": 0,  # ... and the OpenAI SDK underneath must not retry either
            # LiteLLM routes any request with tools through its MCP gateway check, which
            # imports the optional `mcp` package (absent: every tool call would fail) and
            # its proxy machinery. Our tools are plain functions: skip that check.
            "_skip_mcp_handler": True,
        }
        if tools:
            kwargs["tools"] = tools
        if self.api_base:
            kwargs["api_base"] = self.api_base
        key = self._key()
        if key:
            kwargs["api_key"] = key
        started = time.monotonic()
        retries = 0
        while True:
            state = StreamState()
            failure: Retryable | None = None
            try:
                response = await litellm.acompletion(**kwargs)
            except Exception as exc:
                failure = self._classify(exc)
            else:
                try:
                    async for chunk in response:
                        text = state.add(chunk)
                        if text:
                            yield TextDelta(text)
                    failure = incomplete_reply(state, _provider_finish_reason(response, state))
                except Exception as exc:
                    failure = self._classify(exc, mid_stream=True)
                finally:
                    # Release the HTTP connection also when the consumer stops early
                    # (user interrupt) or the stream broke.
                    await _close_quietly(response)
            if failure is None:
                yield self._reply(state, wire, tools, retries, time.monotonic() - started)
                return
            if retries >= self._retry_limit(failure):
                raise self._unavailable(failure, retries + 1)
            retries += 1
            delay = self._delay(retries, failure.retry_after)
            if failure.connect_failure:
                delay = min(delay, CONNECT_RETRY_MAX_DELAY_S)
            yield RetryNotice(reason=failure.reason, attempt=retries, delay_s=delay)
            await asyncio.sleep(delay)

    def _retry_limit(self, failure: Retryable) -> int:
        # A refused connection or an unknown host rarely heals within a minute: a quick
        # second try covers a server that is restarting, more only wastes the user's time.
        if failure.connect_failure:
            return min(self.max_retries, CONNECT_RETRIES)
        return self.max_retries

    def _unavailable(self, failure: Retryable, attempts: int) -> LLMUnavailable:
        if failure.connect_failure:
            where = self.api_base or f"the {self.provider} API"
            return LLMUnavailable(
                f"cannot connect to {where} ({failure.connect_failure}) after {attempts} "
                "attempts. Is the model server running, and is --api-base right?",
                attempts=attempts,
                last_reason=failure.reason,
            )
        return LLMUnavailable(
            f"model {self.model} failed after {attempts} attempts; last error: "
            f"{failure.reason}. Check the provider's status page or the server at "
            f"{self.api_base or 'the provider'}, or raise max_retries.",
            attempts=attempts,
            last_reason=failure.reason,
        )

    def _delay(self, retry: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, capped; a provider's Retry-After wins."""
        if retry_after is not None:
            # Honour the provider, but a wait longer than a whole call's timeout is
            # no better than giving up on this attempt's budget.
            return min(retry_after, self.timeout_s)
        backoff = min(self.retry_max_delay_s, self.retry_base_delay_s * 2.0 ** (retry - 1))
        return backoff * random.uniform(0.5, 1.0)

    def _classify(self, exc: Exception, *, mid_stream: bool = False) -> Retryable:
        return classify_failure(
            exc,
            model=self.model,
            provider=self.provider,
            api_base=self.api_base,
            mid_stream=mid_stream,
        )

    def _reply(
        self,
        state: StreamState,
        wire: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        retries: int,
        duration_s: float,
    ) -> ModelReply:
        text = "".join(state.text)
        calls = state.tool_calls()
        usage = self._usage(state.usage, wire, tools, text, calls)
        return ModelReply(
            text=text,
            tool_calls=calls,
            usage=usage,
            finish_reason=state.provider_finish_reason or state.finish_reason,
            model=self.model,
            retries=retries,
            duration_s=duration_s,
        )

    def _usage(
        self,
        raw: Any,
        wire: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        text: str,
        calls: list[ToolCall],
    ) -> Usage:
        prompt = field_of(raw, "prompt_tokens")
        completion = field_of(raw, "completion_tokens")
        if not isinstance(prompt, int) or not isinstance(completion, int):
            # Some local servers report no usage: estimate so budgets still move.
            prompt = estimate_request_tokens(wire, tools)
            completion = estimate_tokens(text) + sum(
                estimate_tokens(c.name) + estimate_tokens(c.arguments) for c in calls
            )
        cached = field_of(field_of(raw, "prompt_tokens_details"), "cached_tokens")
        if not isinstance(cached, int):
            cached = field_of(raw, "cache_read_input_tokens")
        cached = cached if isinstance(cached, int) else 0
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_tokens=cached,
            cost_usd=self._cost(prompt, completion, cached),
        )

    def _cost(self, prompt: int, completion: int, cached: int) -> float:
        """Dollar cost from LiteLLM's price table; 0.0 for models it does not price."""
        if self._unpriced:
            return 0.0
        try:
            prompt_cost, completion_cost = _litellm().cost_per_token(
                model=self.litellm_model(),
                prompt_tokens=prompt,
                completion_tokens=completion,
                cache_read_input_tokens=cached,
            )
            return float(prompt_cost) + float(completion_cost)
        except Exception:  # unknown model (local server, new id): never crash on price
            # The table will not learn it mid-session; skip the slow failing lookup.
            self._unpriced = True
            return 0.0
