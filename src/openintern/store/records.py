"""Plain records the store hands out: session summaries and chat messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openintern.llm.types import Message, ToolCall
from openintern.store.models import MessageRow, SessionRow


@dataclass
class SessionInfo:
    """A session's summary as shown by ``intern sessions``."""

    id: str
    created_at: float
    updated_at: float
    task: str
    model: str
    status: str
    workspace: str
    headless: bool
    total_cost_usd: float
    compute_spent_usd: float
    iterations: int
    prompt_tokens: int
    completion_tokens: int
    config: dict[str, Any]


def session_info(row: SessionRow) -> SessionInfo:
    return SessionInfo(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        task=row.task,
        model=row.model,
        status=row.status,
        workspace=row.workspace,
        headless=row.headless,
        total_cost_usd=row.total_cost_usd,
        compute_spent_usd=row.compute_spent_usd or 0.0,
        iterations=row.iterations,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        config=dict(row.config or {}),
    )


def message_from_row(row: MessageRow) -> Message:
    calls = [
        ToolCall(id=c["id"], name=c["function"]["name"], arguments=c["function"]["arguments"])
        for c in row.tool_calls or []
    ]
    return Message(
        role=row.role,  # type: ignore[arg-type]
        content=row.content,
        tool_calls=calls,
        tool_call_id=row.tool_call_id,
        name=row.name,
        kind=row.kind,
        id=row.id,
    )
