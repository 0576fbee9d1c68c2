"""``AccountedModel``: the session's model client, with every call accounted.

It wraps any :class:`~openintern.llm.types.LLMClient`. Each call

1. withholds private files' rows from the prompt (:mod:`.private_filter`);
2. reserves its cost with the session's :class:`~.accountant.CostAccountant`, which
   raises ``BudgetExhausted`` (nothing is sent) when the budget cannot afford it, and caps
   the reply's length to what the budget has left;
3. labels its request for the egress log: a prompt, how many characters of which files
   and tool outputs it carries;
4. records the reply's usage and dollars (the user's ``model_prices`` win; a failed
   attempt that had streamed text is recorded as a billed retry), and writes the cost it
   charged into the reply so every display agrees.

Who is spending (the main loop, a summary, a sub-agent, a synthesis or judge call) comes
from :func:`~.scope.spending_as`. Everything that calls a model in a session goes through
one of these: the loop, the summariser, sub-agents (they get the parent's client) and
tools that call models (:func:`accounted`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from openintern.accounting.accountant import CostAccountant
from openintern.accounting.prices import ModelPrice, resolve_model_price
from openintern.accounting.private_filter import PrivateDataFilter
from openintern.accounting.prompt_content import describe_prompt
from openintern.accounting.scope import SpendKind, current_scope, spending_as
from openintern.egress import egress_purpose, endpoint, is_loopback
from openintern.llm.tokens import CHARS_PER_TOKEN, estimate_request_tokens
from openintern.llm.types import (
    LLMClient,
    Message,
    ModelReply,
    RetryNotice,
    StreamItem,
    TextDelta,
)

DEFAULT_MAX_OUTPUT_TOKENS = 8192
CALL_LABELS = {"model": "main loop", "subagent": "sub-agent"}
_UNSET = object()


class AccountedModel:
    """See the module docstring. Attributes it does not define come from the wrapped
    client (``api_base``, ``litellm_model``, ...)."""

    def __init__(
        self,
        inner: LLMClient,
        accountant: CostAccountant,
        *,
        model_prices: dict[str, ModelPrice] | None = None,
        private: PrivateDataFilter | None = None,
        kind: SpendKind | None = None,
    ) -> None:
        self.inner = inner
        self.model = inner.model
        self.accountant = accountant
        self.model_prices = dict(model_prices or {})
        self.private = private
        self.kind = kind  # fixed kind (a tool's own model), else the current scope's
        self._price: Any = _UNSET
        self._price_lock = asyncio.Lock()

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes this class does not have: the wrapped client's.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def context_window(self) -> int:
        """The wrapped model's window."""
        return self.inner.context_window()

    async def price(self) -> ModelPrice | None:
        """The model's price (looked up once, in a worker thread: LiteLLM loads slowly).
        A model served from this machine that no table prices is taken as free, with a
        warning; any other unpriced model has no price (None)."""
        async with self._price_lock:
            if self._price is _UNSET:
                api_base = getattr(self.inner, "api_base", None)
                litellm_model = getattr(self.inner, "litellm_model", None)
                found = await asyncio.to_thread(
                    resolve_model_price, self.model, self.model_prices,
                    litellm_model=litellm_model() if callable(litellm_model) else None,
                    api_base=api_base if isinstance(api_base, str) else None)
                where = endpoint(api_base) if isinstance(api_base, str) else None
                if found is None and where and is_loopback(where.rsplit(":", 1)[0]):
                    found = ModelPrice(input_per_mtok=0.0, output_per_mtok=0.0,
                                       source="assumed free: served from this machine")
                    self.accountant.warn_once(
                        f"free:{self.model}",
                        f"model {self.model} at {where} has no price; served from this "
                        "machine, it is counted as free ($0, tokens counted). Set "
                        "model_prices if it forwards to a paid API.")
                self._price = found
            price: ModelPrice | None = self._price
            return price

    async def stream(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        *,
        max_tokens: int | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Stream from the wrapped model within the budget (see the module docstring)."""
        scope = current_scope()
        kind: SpendKind = self.kind or scope.kind
        session_id = scope.session_id or self.accountant.root_session_id
        price = await self.price()
        withheld: dict[str, int] = {}
        if self.private is not None and self.private.active:
            # A tool's own calls (fixed kind) carry no words a person typed.
            messages, found = self.private.filter_messages(messages,
                                                           keep_typed=self.kind is None)
            withheld = found.lines
        estimate = estimate_request_tokens([m.to_openai() for m in messages], tools)
        wanted = max_tokens or int(getattr(self.inner, "max_output_tokens", 0)
                                   or DEFAULT_MAX_OUTPUT_TOKENS)
        reservation = self.accountant.reserve(self.model, price, estimate, wanted)
        settled = False
        streamed = 0
        detail = describe_prompt(messages, withheld, tools)
        try:
            purpose = f"model call ({CALL_LABELS.get(kind, kind)})"
            with egress_purpose(purpose, "prompt", model=self.model, **detail):
                async for item in self.inner.stream(messages, tools,
                                                    max_tokens=reservation.completion_cap):
                    if isinstance(item, TextDelta):
                        streamed += len(item.text)
                    elif isinstance(item, RetryNotice):
                        if streamed:
                            await asyncio.to_thread(
                                self.accountant.record_failed_attempt, reservation,
                                session_id=session_id,
                                streamed_tokens=-(-streamed // CHARS_PER_TOKEN),
                                reason=item.reason)
                        streamed = 0
                    elif isinstance(item, ModelReply):
                        usage = item.usage
                        usage.cost_usd = await asyncio.to_thread(
                            self.accountant.record_call, reservation, kind=kind,
                            session_id=session_id, prompt_tokens=usage.prompt_tokens,
                            completion_tokens=usage.completion_tokens,
                            cached_tokens=usage.cached_tokens,
                            provider_cost_usd=usage.cost_usd, retries=item.retries,
                            detail={"withheld_private_lines": withheld} if withheld else None)
                        settled = True
                    yield item
        finally:
            if not settled:
                self.accountant.release(reservation)


def accounted(services: dict[str, Any], client: LLMClient, kind: SpendKind) -> LLMClient:
    """``client`` with its calls counted as ``kind`` against the session's budget (the
    one call a tool that makes its own model calls needs, e.g. synthesis or a judge):
    budget checked before each call, usage recorded, requests labelled for the egress
    log, private rows withheld. Without an accountant in ``services`` (a bare tool
    context) the client is returned as it is."""
    session_model = services.get("llm")
    if not isinstance(session_model, AccountedModel):
        return client
    return AccountedModel(client, session_model.accountant,
                          model_prices=session_model.model_prices,
                          private=session_model.private, kind=kind)


__all__ = ["AccountedModel", "accounted", "spending_as"]
