"""The session record and the three export formats.

The record is every message that happened, in order — those later folded into a summary
included, undone ones and the summaries themselves left out — each redacted again with
the secrets known now (the store redacted with those known when it wrote them).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, select

from openintern.secrets import Redactor
from openintern.store import SessionInfo, Store
from openintern.store.models import MessageRow

Format = Literal["claude-code-jsonl", "openai-messages", "parquet"]
FORMATS: tuple[Format, ...] = ("claude-code-jsonl", "openai-messages", "parquet")
EXTENSIONS: dict[Format, str] = {"claude-code-jsonl": "jsonl", "openai-messages": "jsonl",
                                 "parquet": "parquet"}


@dataclass
class TraceMessage:
    """One message of the record, redacted."""

    position: int
    role: str
    content: str
    tool_calls: list[dict[str, Any]]
    tool_call_id: str | None
    name: str | None
    kind: str
    created_at: float


@dataclass
class Trace:
    """A session and its messages, ready to be written in any format."""

    session: SessionInfo
    messages: list[TraceMessage]


def load_trace(store: Store, session_id: str, redactor: Redactor) -> Trace:
    """The whole record of one session, redacted with ``redactor`` on top of the store's."""
    info = store.get_session(session_id)
    with store.db() as db:
        rows = db.scalars(
            select(MessageRow)
            .where(MessageRow.session_id == info.id, MessageRow.deleted.is_(False),
                   MessageRow.kind != "summary")
            .order_by(func.coalesce(MessageRow.position, MessageRow.id), MessageRow.id)
        ).all()
        messages = [
            TraceMessage(
                position=i, role=r.role, content=redactor.text(r.content or ""),
                tool_calls=redactor.deep(list(r.tool_calls or [])),
                tool_call_id=r.tool_call_id, name=r.name, kind=r.kind or "",
                created_at=r.created_at)
            for i, r in enumerate(rows)
        ]
    return Trace(info, messages)


def render(trace: Trace, fmt: Format, system_prompt: str,
           tools: list[dict[str, Any]]) -> bytes:
    """The trace in ``fmt`` (``tools``: specs of the tools the session used)."""
    if fmt == "claude-code-jsonl":
        return "".join(json.dumps(line, ensure_ascii=False) + "\n"
                       for line in claude_code_lines(trace)).encode()
    if fmt == "openai-messages":
        return (json.dumps(openai_record(trace, system_prompt, tools), ensure_ascii=False)
                + "\n").encode()
    return parquet_bytes(trace)


# --- Claude Code ---------------------------------------------------------------------------


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _arguments(call: dict[str, Any]) -> Any:
    raw = call.get("function", {}).get("arguments", "")
    try:
        return json.loads(raw) if raw.strip() else {}
    except (ValueError, AttributeError):
        return {"_raw_arguments": raw}  # malformed model output is kept, not dropped


def claude_code_lines(trace: Trace) -> Iterator[dict[str, Any]]:
    """Lines of a Claude Code session transcript: ``user``/``assistant`` entries chained
    by ``parentUuid``; tool calls as ``tool_use`` blocks, results as ``tool_result``
    blocks of user entries."""
    session_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"openintern:{trace.session.id}"))
    parent: str | None = None
    for m in trace.messages:
        if m.role == "system":
            continue
        entry_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{session_uuid}:{m.position}"))
        common = {"parentUuid": parent, "isSidechain": False, "userType": "external",
                  "cwd": trace.session.workspace, "sessionId": session_uuid,
                  "uuid": entry_id, "timestamp": _iso(m.created_at)}
        if m.role == "assistant":
            blocks: list[dict[str, Any]] = []
            if m.content:
                blocks.append({"type": "text", "text": m.content})
            for call in m.tool_calls:
                blocks.append({"type": "tool_use", "id": call.get("id", ""),
                               "name": call.get("function", {}).get("name", ""),
                               "input": _arguments(call)})
            message: dict[str, Any] = {
                "role": "assistant", "model": trace.session.model, "content": blocks,
                "stop_reason": "tool_use" if m.tool_calls else "end_turn"}
            yield {**common, "type": "assistant", "message": message}
        elif m.role == "tool":
            result = {"type": "tool_result", "tool_use_id": m.tool_call_id or "",
                      "content": m.content, "is_error": m.content.startswith("ERROR")}
            yield {**common, "type": "user",
                   "message": {"role": "user", "content": [result]}}
        else:
            yield {**common, "type": "user", "message": {"role": "user", "content": m.content}}
        parent = entry_id


# --- OpenAI chat messages --------------------------------------------------------------------


def openai_record(trace: Trace, system_prompt: str, tools: list[dict[str, Any]]
                  ) -> dict[str, Any]:
    """One JSONL record in the chat fine-tuning shape: ``messages`` (system prompt first)
    and the ``tools`` offered."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}]
    for m in trace.messages:
        out: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            out["tool_calls"] = m.tool_calls
            if not m.content:
                out["content"] = None
        if m.role == "tool":
            out["tool_call_id"] = m.tool_call_id
            if m.name:
                out["name"] = m.name
        messages.append(out)
    return {"messages": messages, "tools": tools}


# --- Parquet ---------------------------------------------------------------------------------


def parquet_bytes(trace: Trace) -> bytes:
    """One row per message (tool calls as JSON text), for DuckDB, pandas or the Hub."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    m = trace.messages
    table = pa.table({
        "session_id": [trace.session.id] * len(m),
        "position": [x.position for x in m],
        "role": [x.role for x in m],
        "kind": [x.kind for x in m],
        "content": [x.content for x in m],
        "tool_calls": [json.dumps(x.tool_calls, ensure_ascii=False) for x in m],
        "tool_call_id": [x.tool_call_id for x in m],
        "name": [x.name for x in m],
        "created_at": [x.created_at for x in m],
        "model": [trace.session.model] * len(m),
    })
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def used_tool_specs(trace: Trace, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The specs of the tools the session called (others were offered but never used)."""
    used = {c.get("function", {}).get("name") for m in trace.messages for c in m.tool_calls}
    return [s for s in specs if s["function"]["name"] in used]
