"""The request the loop sends: system prompt, pinned research state, history view.

Requests are kept near a token budget (not the window: a 200k window is not filled just
because it can be, every token of it is paid at every step) by, in this order:

1. observation masking — old tool outputs become one-line stubs naming a spill file;
   what stays verbatim is a token budget of the newest outputs, and masking moves in
   batches so the prompt prefix stays byte-identical between moves (prompt caching);
2. a model-written summary of an older range of the history, only when masking cannot
   keep the request under the threshold, and at most once per ``summary_min_steps``
   builds unless the window itself forces it; a deterministic fallback when the call
   fails;
3. the pinned research state re-rendered after each summary (stable in between).

Cache breakpoints (for providers that need them) go on the parts that stay identical:
the pinned block and the last masked output (see ``llm/cache_markers.py``).

Hard invariant: the estimated request never exceeds the model's window minus the reply
reserve; as a last resort the largest messages are cut (head and tail, full text
spilled), and if even that cannot fit, :class:`ContextOverflowError` is raised.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from openintern.agent.fitting import cut_to_fit
from openintern.agent.masking import ObservationMasker, copy_message, spill_stem
from openintern.agent.spill import clip_with_notice, truncate_tool_output
from openintern.agent.summary import (
    SUMMARY_PREFIX,
    ModelSummarizer,
    fallback_summary,
)
from openintern.config import Settings
from openintern.llm.tokens import (
    CHARS_PER_TOKEN,
    estimate_openai_message_tokens,
    estimate_request_tokens,
)
from openintern.llm.types import Message

__all__ = [
    "SUMMARY_PREFIX",
    "BuiltContext",
    "CompactionOutcome",
    "ContextBuilder",
    "ContextLimits",
    "ContextOverflowError",
    "ModelSummarizer",
    "Summarizer",
    "truncate_tool_output",
]

log = logging.getLogger(__name__)

Summarizer = Callable[[list[Message]], Awaitable[str]]

# Share of the compaction budget a summary's verbatim tail may take at most.
_TAIL_SHARE = 0.4
# Share of the compaction budget a summary may take, and its absolute cap (about the
# 1,200 words the summary instructions ask for).
_SUMMARY_SHARE = 0.15
_SUMMARY_MAX_CHARS = 12_000
_MAX_CALIBRATION = 4.0
# Masking alone is enough when it brings the request under this share of the budget.
_MASK_ENOUGH = 0.8
# The verbatim outputs and a masking batch each take at most this share of the room the
# budget leaves beyond the system prompt and tool specs (small windows).
_KEEP_SHARE = 0.25


class ContextOverflowError(Exception):
    """The request cannot fit the model's window even after every compaction."""


@dataclass
class ContextLimits:
    """Token limits of the request."""

    window: int  # model input window, tokens
    threshold: float = 0.75  # never let the estimated prompt grow past this share of it
    reserve_output: int = 4096  # tokens kept free for the reply (capped at window // 4)
    # Conversation tokens (beyond system prompt and tool specs) requests are kept near;
    # None: fill the window up to the threshold.
    budget: int | None = 16_000
    keep_tokens: int = 3_000  # newest tool outputs kept verbatim (the newest always)
    batch_tokens: int = 4_000  # mask once the verbatim outputs exceed keep by this much
    summary_min_steps: int = 20  # builds between summaries unless the window forces one
    tool_output_max_chars: int = 16000

    @classmethod
    def from_settings(cls, settings: Settings, window: int) -> ContextLimits:
        """The limits the settings ask for, for a model with this ``window``."""
        return cls(
            window=window,
            threshold=settings.compaction_threshold,
            reserve_output=min(settings.max_output_tokens, window // 4),
            budget=settings.context_budget_tokens or None,
            keep_tokens=settings.mask_keep_tokens,
            batch_tokens=settings.mask_batch_tokens,
            summary_min_steps=settings.summary_min_steps,
            tool_output_max_chars=settings.tool_output_max_chars,
        )

    @property
    def reserve(self) -> int:
        """Tokens kept free for the reply."""
        return max(0, min(self.reserve_output, self.window // 4))

    @property
    def limit(self) -> int:
        """The most tokens a request may take."""
        return self.window - self.reserve

    def compact_at(self, fixed: int) -> int:
        """Above this many tokens the builder compacts: ``fixed`` (system prompt and tool
        specs) plus the budget, within the threshold share of the window."""
        at = min(int(self.threshold * self.window), self.limit)
        if self.budget:
            at = min(at, fixed + self.budget)
        return at


@dataclass
class CompactionOutcome:
    """What a compaction did; the loop emits it and stores ``summary`` in place of the
    history messages whose store ids are ``replaced_ids``."""

    method: Literal["mask", "summary", "fallback", "truncate"]
    tokens_before: int
    tokens_after: int
    replaced_ids: list[int] = field(default_factory=list)
    summary: Message | None = None  # role "user", kind "summary"
    messages_summarised: int = 0
    error: str | None = None  # why the model summary failed (method "fallback")


@dataclass
class BuiltContext:
    """Exactly what to send: system + pinned + history view, and its token estimate."""

    messages: list[Message]
    estimated_tokens: int
    compaction: CompactionOutcome | None


@dataclass
class _Summarised:
    history: list[Message]
    outcome: CompactionOutcome


class ContextBuilder:
    """Builds each request of a session, compacting inside the turn when needed."""

    def __init__(
        self,
        *,
        system_prompt: str,
        limits: ContextLimits,
        spill_dir: Path,
        workspace: Path,
        pinned_state: Callable[[], str],
        summarizer: Summarizer | None = None,
        summary_timeout_s: float = 300.0,
    ) -> None:
        self.system_prompt = system_prompt
        self.limits = limits
        self.spill_dir = spill_dir
        self.workspace = workspace
        self.pinned_state = pinned_state
        self.summarizer = summarizer
        self.summary_timeout_s = summary_timeout_s
        self.masker = ObservationMasker(
            spill_dir=spill_dir,
            workspace=workspace,
            keep_tokens=limits.keep_tokens,
            batch_tokens=limits.batch_tokens,
            tokens=self._message_tokens,
        )
        self._system = Message(role="system", content=system_prompt)
        self._pinned: Message | None = None
        self._pinned_dirty = True
        self._ratios: deque[float] = deque(maxlen=5)
        self._factor = 1.0
        self._recent_builds: deque[tuple[int, int]] = deque(maxlen=8)  # (scaled, raw)
        self._token_cache: dict[tuple[Any, ...], int] = {}
        self._tools_ref: list[dict[str, Any]] | None = None
        self._tools_tokens = 0
        self._truncated: set[tuple[str, int]] = set()
        self._forced = False
        self._builds_since_summary = limits.summary_min_steps  # the first may come any time

    # ----- calibration and estimates -------------------------------------------------

    @property
    def calibration(self) -> float:
        """Factor (>= 1) applied to the character-based estimates."""
        return self._factor

    def observe_usage(self, estimated_tokens: int, reported_prompt_tokens: int) -> None:
        """Calibrate against what the provider counted. Pass the ``estimated_tokens`` of
        the :class:`BuiltContext` that was sent and the reply's reported prompt tokens."""
        if estimated_tokens <= 0 or reported_prompt_tokens <= 0:
            return
        raw = estimated_tokens
        for scaled, raw_tokens in self._recent_builds:
            if scaled == estimated_tokens:
                raw = raw_tokens
        self._ratios.append(reported_prompt_tokens / max(1, raw))
        self._factor = min(_MAX_CALIBRATION, max(1.0, *self._ratios))

    def request_compaction(self) -> None:
        """Summarise on the next build even under the threshold (the /compact command),
        keeping a recent tail of at most 40% of the current request verbatim."""
        self._forced = True

    def refresh_pinned(self) -> None:
        """Re-render the pinned research state on the next build."""
        self._pinned_dirty = True

    def _scale(self, raw: int) -> int:
        return math.ceil(raw * self._factor)

    def _message_tokens(self, message: Message) -> int:
        key = (
            message.role,
            message.content,
            message.tool_call_id,
            message.name,
            tuple((c.id, c.name, c.arguments) for c in message.tool_calls),
        )
        tokens = self._token_cache.get(key)
        if tokens is None:
            tokens = estimate_openai_message_tokens(message.to_openai())
            self._token_cache[key] = tokens
        return tokens

    def _tool_spec_tokens(self, tools: list[dict[str, Any]]) -> int:
        # The loop passes the same list every step; re-serialising it is wasted work.
        if tools is not self._tools_ref:
            self._tools_ref = tools
            self._tools_tokens = estimate_request_tokens([], tools) if tools else 0
        return self._tools_tokens

    def _raw_total(self, fixed_raw: int, messages: list[Message]) -> int:
        return fixed_raw + sum(self._message_tokens(m) for m in messages)

    # ----- pinned state ----------------------------------------------------------------

    def _render_pinned(self) -> None:
        self._pinned_dirty = False
        try:
            text = self.pinned_state().strip()
        except Exception as exc:  # a store hiccup must not end the session
            log.warning("rendering the pinned research state failed: %s", exc)
            text = f"[pinned research state unavailable this step: {exc}]"
            self._pinned_dirty = True  # try again next build
        self._pinned = Message(role="user", content=text, kind="pinned") if text else None

    def _head(self) -> list[Message]:
        head = [copy_message(self._system)]
        if self._pinned is not None:
            head.append(copy_message(self._pinned))
        return head

    # ----- build ------------------------------------------------------------------------

    async def build(self, history: list[Message], tools: list[dict[str, Any]]) -> BuiltContext:
        """The request for the next model call, compacted to fit (see the module doc).
        ``history`` is not modified. Raises :class:`ContextOverflowError` when the system
        prompt and tools alone, or the request after every compaction, cannot fit."""
        limits = self.limits
        # Tool specs are part of every request; the messages are estimated one by one.
        base_raw = self._tool_spec_tokens(tools)
        fixed = self._scale(base_raw + self._message_tokens(self._system))
        if fixed > limits.limit:
            raise ContextOverflowError(
                f"the system prompt and tool specs alone take ~{fixed} tokens, "
                f"more than the model's window of {limits.window} tokens minus "
                f"{limits.reserve} reserved for the reply; use a model with a larger "
                "context window or offer fewer tools"
            )
        if self._pinned_dirty:
            self._render_pinned()
        if len(self._token_cache) > 8 * len(history) + 512:
            self._token_cache.clear()  # stale keys of messages gone from the history
        compact_at = limits.compact_at(fixed)
        self._size_masker(compact_at - fixed)
        self._builds_since_summary += 1

        def estimate(msgs: list[Message]) -> int:
            return self._scale(self._raw_total(base_raw, msgs))

        head = self._head()
        view = self.masker.view(history)
        total = estimate(head + view)
        outcome: CompactionOutcome | None = None
        forced, self._forced = self._forced, False
        if forced or total > compact_at:
            before = total
            # The pinned block is not re-rendered for masking: masking loses no facts, and
            # keeping the block unchanged keeps the whole prefix before the stubs cached.
            if self.masker.deepen(history):
                head, view = self._head(), self.masker.view(history)
                total = estimate(head + view)
                outcome = CompactionOutcome("mask", before, total)
            # Masking that leaves little headroom would run again at every step (each
            # time changing the prefix); then it is "not enough" and a summary follows,
            # unless one was made recently and the window still holds the request.
            recent = self._builds_since_summary <= limits.summary_min_steps
            if forced or (
                total > int(compact_at * _MASK_ENOUGH) and (not recent or total > limits.limit)
            ):
                done = await self._summarise(history, view, before, compact_at, forced=forced)
                if done is not None:
                    outcome = done.outcome
                    history = done.history
                    self._builds_since_summary = 0
                    self.masker.forget_unused(history)
                    self._render_pinned()
                    head, view = self._head(), self.masker.view(history)
                    total = estimate(head + view)

        messages = head + view
        if total > limits.limit:
            before = total
            messages, newly_cut = cut_to_fit(
                messages,
                limit=limits.limit,
                estimate=estimate,
                factor=self._factor,
                spill=self.masker.spill,
                already_cut=self._truncated,
            )
            total = estimate(messages)
            if outcome is None and newly_cut:
                outcome = CompactionOutcome("truncate", before, total)
        if total > limits.limit:
            raise ContextOverflowError(
                f"the request still needs ~{total} tokens after compaction, more than the "
                f"model's window of {limits.window} tokens minus {limits.reserve} reserved "
                "for the reply; shorten the system prompt or pinned notes, or use a model "
                "with a larger context window"
            )
        if outcome is not None:
            outcome.tokens_after = total
        self._mark_stable_parts(messages, len(head), history)
        self._recent_builds.append((total, math.floor(total / self._factor)))
        return BuiltContext(messages=messages, estimated_tokens=total, compaction=outcome)

    def _size_masker(self, room: int) -> None:
        """Verbatim outputs and masking batches sized for the room the budget leaves."""
        cap = max(0, int(room * _KEEP_SHARE))
        self.masker.keep_tokens = min(self.limits.keep_tokens, cap)
        self.masker.batch_tokens = min(self.limits.batch_tokens, cap)

    def _mark_stable_parts(self, messages: list[Message], head_len: int,
                           history: list[Message]) -> None:
        """Cache breakpoints on what stays byte-identical for many requests: the pinned
        block (until the next summary) and the last masked output (until masking moves).
        Marked on copies: the history's messages are never changed."""
        stable = [i for i, m in enumerate(messages[:head_len]) if m.kind == "pinned"]
        boundary = self.masker.boundary_index(history)
        if boundary is not None and head_len + boundary < len(messages) - 1:
            stable.append(head_len + boundary)
        for i in stable:
            copy = copy_message(messages[i])
            copy.cache_breakpoint = True
            messages[i] = copy

    # ----- summary ------------------------------------------------------------------------

    def _summary_max_chars(self, compact_at: int) -> int:
        return min(_SUMMARY_MAX_CHARS,
                   max(1200, int(compact_at * _SUMMARY_SHARE) * CHARS_PER_TOKEN))

    def _choose_cut(
        self, history: list[Message], view: list[Message], tail_budget: int
    ) -> tuple[int, int] | None:
        """(start, end) of the range to summarise: after the task, before a recent tail of
        about 40% of the budget that holds at least the last assistant step whole."""
        start = next((i + 1 for i, m in enumerate(history) if m.role == "user" and not m.kind), 0)
        last_assistant = max(
            (i for i, m in enumerate(history) if m.role == "assistant"), default=-1
        )
        if last_assistant <= start:
            return None
        budget = tail_budget
        cut = last_assistant
        acc = 0
        for i in range(len(view) - 1, start, -1):
            acc += self._message_tokens(view[i])
            if self._scale(acc) > budget:
                break
            # A cut never separates tool results from the assistant call before them.
            if history[i].role != "tool":
                cut = min(cut, i)
        return start, cut

    async def _summarise(
        self,
        history: list[Message],
        view: list[Message],
        before: int,
        compact_at: int,
        *,
        forced: bool = False,
    ) -> _Summarised | None:
        # The tail kept verbatim: what masking keeps (the outputs after the last masked
        # one, with their calls); everything older is masked already: the summary
        # replaces it.
        boundary = self.masker.boundary_index(history)
        unmasked = view[boundary + 1 :] if boundary is not None else view
        keep = sum(self._message_tokens(m) for m in unmasked)
        tail_budget = min(int(compact_at * _TAIL_SHARE), max(self._scale(keep), 1))
        if forced:
            tail_budget = min(tail_budget, int(before * _TAIL_SHARE))
        bounds = self._choose_cut(history, view, tail_budget)
        if bounds is None:
            return None
        start, cut = bounds
        range_raw = sum(self._message_tokens(m) for m in view[start:cut])
        # Re-summarising little more than the previous summary gains nothing.
        if range_raw == 0 or (
            not forced
            and range_raw * CHARS_PER_TOKEN < self._summary_max_chars(compact_at) // 2 + 800
        ):
            return None
        folded = history[start:cut]
        max_chars = self._summary_max_chars(compact_at)
        text: str | None = None
        error: str | None = None
        if self.summarizer is not None:
            try:
                answer = await asyncio.wait_for(self.summarizer(folded), self.summary_timeout_s)
                text = answer.strip() if isinstance(answer, str) else None
                if not text:
                    error = "the summariser returned an empty text"
            except Exception as exc:  # any failure -> deterministic fallback
                error = f"{type(exc).__name__}: {exc}".strip(": ")
                log.warning("model summary failed, using the fallback summary: %s", error)
        else:
            error = "no summariser configured"
        method: Literal["summary", "fallback"] = "summary"
        if not text:
            method = "fallback"
            text = fallback_summary(folded, max_chars=max_chars)
        if text.startswith(SUMMARY_PREFIX):
            text = text[len(SUMMARY_PREFIX) :].lstrip()
        if len(text) > max_chars:  # an over-long model summary: keep it all on disk
            shown = self.masker.spill(text, "summary-" + spill_stem(folded[0], text))
            text = clip_with_notice(text, max_chars=max_chars, shown_path=shown)
        summary = Message(role="user", content=f"{SUMMARY_PREFIX}\n{text}", kind="summary")
        outcome = CompactionOutcome(
            method=method,
            tokens_before=before,
            tokens_after=before,  # set by build() once the new view is estimated
            replaced_ids=[m.id for m in folded if m.id is not None],
            summary=summary,
            messages_summarised=len(folded),
            error=error if method == "fallback" else None,
        )
        return _Summarised([*history[:start], summary, *history[cut:]], outcome)
