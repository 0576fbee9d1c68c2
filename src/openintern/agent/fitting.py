"""The last resort of the window invariant: cut the largest fields of a request.

Used only when masking and summarising could not bring the request under the window
(one giant message, a huge tool-call argument, a tiny window). Each cut keeps the head
and tail of the text, and the full text is spilled to a file named in the cut text, so
nothing is lost: the agent can read it back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace

from openintern.agent.masking import copy_message, spill_stem
from openintern.agent.spill import clip_with_notice, safe_file_stem
from openintern.llm.tokens import CHARS_PER_TOKEN
from openintern.llm.types import Message

# Fields shorter than this are never cut.
MIN_FIELD_CHARS = 600


def _json_note(note: str) -> str:
    """A valid JSON object carrying ``note`` (providers parse tool-call arguments)."""
    return json.dumps({"_elided": note})


def cut_to_fit(
    messages: list[Message],
    *,
    limit: int,
    estimate: Callable[[list[Message]], int],
    factor: float,
    spill: Callable[[str, str], str],
    already_cut: set[tuple[str, int]],
) -> tuple[list[Message], bool]:
    """Cut the largest contents (and tool-call arguments) head+tail until ``estimate``
    of the messages is within ``limit`` or nothing is left to cut. System messages are
    never cut. ``spill(text, stem)`` stores a full text and returns the path to show;
    ``factor`` converts estimated tokens back to characters. Returns the (copied)
    messages and whether a field was cut that is not in ``already_cut`` (updated), so
    the caller reports a repeated identical cut only once."""
    out = list(messages)
    newly_cut = False
    while True:
        total = estimate(out)
        if total <= limit:
            break
        excess_chars = math.ceil((total - limit) / factor) * CHARS_PER_TOKEN
        target: tuple[int, int] | None = None  # (message index, call index or -1)
        size = MIN_FIELD_CHARS
        for i, m in enumerate(out):
            if m.role == "system":
                continue
            if len(m.content) > size:
                target, size = (i, -1), len(m.content)
            for j, call in enumerate(m.tool_calls):
                if len(call.arguments) > size:
                    target, size = (i, j), len(call.arguments)
        if target is None:
            break
        # 256 characters of slack for the notice and rounding; always strictly shorter.
        keep = max(MIN_FIELD_CHARS, size - excess_chars - 256)
        i, j = target
        message = copy_message(out[i])
        if j < 0:
            stem = spill_stem(message, message.content)
            shown = spill(message.content, stem)
            message.content = clip_with_notice(message.content, max_chars=keep, shown_path=shown)
        else:
            call = message.tool_calls[j]
            stem = safe_file_stem(call.id, fallback="call") + "-arguments"
            shown = spill(call.arguments, stem)
            note = (
                f"{len(call.arguments):,} characters of arguments elided to fit the "
                f"context window; full text: {shown}"
            )
            message.tool_calls[j] = replace(call, arguments=_json_note(note))
        out[i] = message
        if (stem, size) not in already_cut:
            already_cut.add((stem, size))
            newly_cut = True
    return out, newly_cut
