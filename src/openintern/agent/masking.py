"""Observation masking: old tool outputs become one-line stubs naming a spill file.

Masking is the cheap first step of context compaction (Lindenbauer et al. 2025). What
stays verbatim is decided by a token budget, not a count: the newest outputs whose sizes
add up to ``keep_tokens`` (the newest always), so a few large outputs are masked soon and
many small ones stay. Masking moves in batches: nothing changes until the verbatim
outputs exceed the budget by ``batch_tokens``, then the oldest are masked down to the
budget at once. Between those moves every request's prefix is byte-identical, so provider
prompt caching keeps hitting. Under pressure :meth:`ObservationMasker.deepen` masks all
but the newest output once; the boundary it sets is kept, again for a stable prefix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from openintern.agent.spill import display_path, mask_stub, safe_file_stem, spill_text
from openintern.llm.types import Message

# Outputs shorter than this stay verbatim: their stub would not be shorter.
MIN_MASK_CHARS = 240

ToolMessageKey = tuple[int | None, str | None]


def copy_message(message: Message) -> Message:
    """A copy the caller may change without touching the history's message.
    (Copies every field; ``dataclasses.replace`` would cost most of a 300-message build.)"""
    copy = Message.__new__(Message)
    copy.__dict__.update(message.__dict__)
    copy.tool_calls = list(message.tool_calls)
    return copy


def tool_message_key(message: Message) -> ToolMessageKey:
    """What identifies one tool result across builds: its store id and call id."""
    return (message.id, message.tool_call_id)


def spill_stem(message: Message, text: str, suffix: str = "") -> str:
    """The spill file stem for (part of) a message: its store id (short: every masked
    step names its file), else its call id, else a hash of the text. A name taken by
    other content never overwrites it (see ``spill.spill_text``)."""
    if message.id is not None:
        base = f"m{message.id}"
    elif message.tool_call_id:
        base = safe_file_stem(message.tool_call_id)
    else:
        base = "message-" + hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:12]
    return base + suffix


class ObservationMasker:
    """Builds the history view with old tool outputs masked; remembers its spill files.

    The state is one boundary: the last masked tool result. Results up to it are masked,
    later ones verbatim. ``tokens`` estimates a message (the builder's cached estimate)."""

    def __init__(
        self,
        *,
        spill_dir: Path,
        workspace: Path,
        keep_tokens: int,
        batch_tokens: int,
        tokens: Callable[[Message], int],
    ) -> None:
        self.spill_dir = spill_dir
        self.workspace = workspace
        self.keep_tokens = max(0, keep_tokens)
        self.batch_tokens = max(0, batch_tokens)
        self.tokens = tokens
        self._boundary: ToolMessageKey | None = None
        # (stem, text) -> workspace-relative path; avoids re-reading or re-writing files.
        self._spilled: dict[tuple[str, str], str] = {}
        self._stubs: dict[tuple[ToolMessageKey, str, str], str] = {}

    def spill(self, text: str, stem: str) -> str:
        """Write ``text`` to the spill folder (once) and return the path to show the agent."""
        key = (stem, text)
        shown = self._spilled.get(key)
        if shown is None:
            path = spill_text(text, spill_dir=self.spill_dir, stem=stem)
            shown = display_path(path, self.workspace)
            self._spilled[key] = shown
        return shown

    def _tool_positions(self, history: list[Message]) -> list[int]:
        return [i for i, m in enumerate(history) if m.role == "tool"]

    def _boundary_rank(self, history: list[Message], positions: list[int]) -> int:
        """Rank (among the tool results) of the boundary; -1 when none is in the history
        (none set yet, or summarised away)."""
        if self._boundary is None:
            return -1
        for rank in range(len(positions) - 1, -1, -1):
            if tool_message_key(history[positions[rank]]) == self._boundary:
                return rank
        return -1

    def _mask_down_to(
        self, history: list[Message], positions: list[int], rank: int, keep: int
    ) -> int:
        """The new boundary rank that leaves at most ``keep`` tokens of results verbatim
        after it (the newest result always verbatim)."""
        verbatim = 0
        first_kept = len(positions) - 1
        for r in range(len(positions) - 1, rank, -1):
            verbatim += self.tokens(history[positions[r]])
            if verbatim > keep and r < len(positions) - 1:
                break
            first_kept = r
        return max(rank, first_kept - 1)

    def _set_boundary(self, history: list[Message], positions: list[int], rank: int) -> None:
        self._boundary = tool_message_key(history[positions[rank]]) if rank >= 0 else None

    def masked_count(self, history: list[Message]) -> int:
        """How many of the oldest tool results the view masks, after moving the boundary
        when the verbatim ones exceed the budget by a batch."""
        positions = self._tool_positions(history)
        rank = self._boundary_rank(history, positions)
        verbatim = sum(self.tokens(history[i]) for i in positions[rank + 1 :])
        if verbatim > self.keep_tokens + self.batch_tokens:
            rank = self._mask_down_to(history, positions, rank, self.keep_tokens)
            self._set_boundary(history, positions, rank)
        return rank + 1

    def deepen(self, history: list[Message]) -> bool:
        """Mask every tool result but the newest from now on. Returns whether this masks
        more than the view already did."""
        positions = self._tool_positions(history)
        rank = self._boundary_rank(history, positions)
        target = len(positions) - 2
        if target <= rank:
            return False
        self._set_boundary(history, positions, target)
        return True

    def view(self, history: list[Message]) -> list[Message]:
        """``history`` with the masked tool results replaced by stubbed copies (one view
        message per history message, same order). Unmasked messages are the history's own
        objects: nothing downstream mutates a view message without copying it first
        (``fitting.cut_to_fit`` copies), and copying 300 messages per step was most of a
        build."""
        positions = self._tool_positions(history)
        count = self.masked_count(history)
        masked = set(positions[:count])
        names: dict[str, str] = {}
        if masked:
            for m in history:
                for call in m.tool_calls:
                    names[call.id] = call.name
        out: list[Message] = []
        for i, m in enumerate(history):
            if i in masked and len(m.content) >= MIN_MASK_CHARS:
                copy = copy_message(m)
                copy.content = self._stub(m, names)
                out.append(copy)
            else:
                out.append(m)
        return out

    def boundary_index(self, history: list[Message]) -> int | None:
        """Index in ``history`` (and its view) of the last masked tool result: the end of
        the part of the request that stays identical until masking moves again."""
        positions = self._tool_positions(history)
        rank = self._boundary_rank(history, positions)
        return positions[rank] if rank >= 0 else None

    def _stub(self, message: Message, names: dict[str, str]) -> str:
        name = message.name or names.get(message.tool_call_id or "", "") or "tool"
        key = (tool_message_key(message), name, message.content)
        stub = self._stubs.get(key)
        if stub is None:
            shown = self.spill(message.content, spill_stem(message, message.content))
            stub = mask_stub(name, message.content, shown)
            self._stubs[key] = stub
        return stub

    def forget_unused(self, history: list[Message]) -> None:
        """Drop cached stubs of messages no longer in the history (after a summary), so a
        long session's caches stay the size of its live history."""
        live = {tool_message_key(m) for m in history if m.role == "tool"}
        self._stubs = {k: v for k, v in self._stubs.items() if k[0] in live}
        texts = {m.content for m in history}
        self._spilled = {k: v for k, v in self._spilled.items() if k[1] in texts}
