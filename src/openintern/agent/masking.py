"""Observation masking: old tool outputs become one-line stubs naming a spill file.

Masking is the cheap first step of context compaction (Lindenbauer et al. 2025). Outputs
are masked oldest first, in batches, so the request's prefix stays byte-identical for
``batch`` steps at a time and provider prompt caching keeps hitting. A deeper "floor"
(everything but the last few outputs) is set when the context runs over its threshold and
then kept, again so the prefix stays stable.
"""

from __future__ import annotations

import hashlib
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
    """The spill file stem for (part of) a message: its call id, else its store id, else
    a hash of the text."""
    if message.tool_call_id:
        base = safe_file_stem(message.tool_call_id)
    elif message.id is not None:
        base = f"message-{message.id}"
    else:
        base = "message-" + hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:12]
    return base + suffix


class ObservationMasker:
    """Builds the history view with old tool outputs masked; remembers its spill files."""

    def __init__(self, *, spill_dir: Path, workspace: Path, keep_last: int, batch: int) -> None:
        self.spill_dir = spill_dir
        self.workspace = workspace
        self.keep_last = max(0, keep_last)
        self.batch = max(1, batch)
        self._floor: ToolMessageKey | None = None  # last tool result of the deeper floor
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

    def masked_count(self, history: list[Message], tool_positions: list[int] | None = None) -> int:
        """How many of the oldest tool results the view masks: whole batches beyond the
        last ``keep_last``, or the deeper floor when it is set and still in the history."""
        positions = self._tool_positions(history) if tool_positions is None else tool_positions
        count = (max(0, len(positions) - self.keep_last) // self.batch) * self.batch
        if self._floor is not None:
            for rank in range(len(positions) - 1, -1, -1):
                if tool_message_key(history[positions[rank]]) == self._floor:
                    count = max(count, rank + 1)
                    break
        return count

    def deepen(self, history: list[Message]) -> bool:
        """Mask every tool result but the last ``keep_last`` from now on. Returns whether
        this masks more than the view already did."""
        positions = self._tool_positions(history)
        target = len(positions) - self.keep_last
        if target <= 0 or target <= self.masked_count(history, positions):
            return False
        self._floor = tool_message_key(history[positions[target - 1]])
        return True

    def view(self, history: list[Message]) -> list[Message]:
        """``history`` with the masked tool results replaced by stubbed copies (one view
        message per history message, same order). Unmasked messages are the history's own
        objects: nothing downstream mutates a view message without copying it first
        (``fitting.cut_to_fit`` copies), and copying 300 messages per step was most of a
        build."""
        positions = self._tool_positions(history)
        count = self.masked_count(history, positions)
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
