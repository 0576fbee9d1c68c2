"""What a tool card in the session page shows beyond the raw event: the same one-line
summary the terminal prints (``jobs wait 3f2a…, 9b1c…``), computed once on the server so
the two never disagree."""

from __future__ import annotations

from typing import Any

from openintern.render import tool_summary

CARD_EVENT_TYPES = frozenset({"tool_call_started", "approval_requested"})


def card_fields(event: dict[str, Any]) -> dict[str, Any]:
    """Extra fields for a tool event's SSE message (none for other events)."""
    if event.get("type") in CARD_EVENT_TYPES:
        return {"summary": tool_summary(str(event.get("name", "")), event.get("arguments", {}))}
    return {}
