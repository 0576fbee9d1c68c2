"""The pinned research-state block: durable facts re-rendered from the store.

Compaction may summarise the conversation however it likes; the task, the plan and the
notes survive because they are regenerated from the store, not kept in the transcript.
"""

from __future__ import annotations

from collections.abc import Callable

from openintern.store import Store
from openintern.tools.plan import render_plan

PINNED_HEADER = "# Research state (kept up to date by the harness)"
MAX_NOTES = 40
MAX_NOTE_CHARS = 600

# Extra sections (e.g. the experiment table) registered by later layers: session id -> text.
Section = Callable[[str], str]


def render_pinned_state(store: Store, session_id: str, extra: list[Section] | None = None) -> str:
    """Task, plan, notes and any extra sections as one markdown block."""
    info = store.get_session(session_id)
    parts = [PINNED_HEADER, "## Task", info.task.strip()]
    plan = store.get_plan(session_id)
    parts += ["## Plan", render_plan(plan)]
    notes = store.list_notes(session_id)
    if notes:
        shown = notes[-MAX_NOTES:]
        lines = [
            f"- ({nid}) {text[:MAX_NOTE_CHARS]}" + (f" [{', '.join(tags)}]" if tags else "")
            for nid, text, tags in shown
        ]
        if len(notes) > len(shown):
            lines.insert(0, f"(showing the last {len(shown)} of {len(notes)} notes)")
        parts += ["## Notes", "\n".join(lines)]
    for section in extra or []:
        text = section(session_id).strip()
        if text:
            parts.append(text)
    return "\n\n".join(parts)
