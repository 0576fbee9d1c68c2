"""The sessions' JSON API and SSE stream: start, steer (message, interrupt, undo, approve,
budget) and follow a session.

Store reads and writes never run on the event loop: plain ``def`` routes run in
FastAPI's worker threads, and the async ones (they steer tasks on the loop) hand their
store work to :func:`asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from openintern.store import SessionInfo, StoreError
from openintern.tools.live_output import full_log_path
from openintern.web.access import can_see, current_user, visible_sessions
from openintern.web.runner import (
    ApprovalNotPending,
    InvalidEditedArguments,
    NewSession,
    RunnerError,
    SessionHub,
    running_elsewhere,
)
from openintern.web.sse import parse_after, session_events

# --- request bodies ---------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewSessionBody(_Body):
    """POST /api/sessions. There is no sandbox field: the sandbox policy is the server's
    setting (a request naming one is refused, as every unknown field is)."""

    goal: str = Field(min_length=1, max_length=20_000)
    model: str | None = Field(None, min_length=1, max_length=200)
    budget_usd: float | None = Field(None, ge=0, allow_inf_nan=False)
    job_backend: Literal["local", "ray", "hf"] | None = None


class MessageBody(_Body):
    """POST /api/sessions/{id}/messages."""

    text: str = Field(min_length=1, max_length=20_000)


class ApprovalBody(_Body):
    """POST /api/sessions/{id}/approvals/{request_id}. ``arguments``: the user's edit of
    the pending call's arguments (a JSON object), sent with an approval."""

    approved: bool
    arguments: dict[str, Any] | None = None


class BudgetBody(_Body):
    """POST /api/sessions/{id}/budget."""

    budget_usd: float = Field(ge=0, allow_inf_nan=False)


# --- helpers ----------------------------------------------------------------------------


def hub_of(request: Request) -> SessionHub:
    """The app's session hub."""
    hub: SessionHub = request.app.state.hub
    return hub


def session_summary(hub: SessionHub, session: str | SessionInfo) -> dict[str, Any]:
    """What a session list or page shows of a session (blocking: reads the store when
    given an id)."""
    info = hub.store.get_session(session) if isinstance(session, str) else session
    runner = hub.runners.get(info.id)
    live = bool(runner and runner.running)
    return {
        "id": info.id, "goal": info.task, "model": info.model, "status": info.status,
        "cost_usd": info.total_cost_usd, "iterations": info.iterations,
        "budget_usd": info.config.get("budget_usd"), "created_at": info.created_at,
        "updated_at": info.updated_at, "live": live,
        # A turn in another process (a terminal, another server): watch, do not steer.
        "elsewhere": not live and running_elsewhere(info.status, info.updated_at),
        "queued": list(runner.queue) if runner else [],
    }


def _check(request: Request, session_id: str) -> None:
    """404 unless the session exists and this user may see it (the same answer both
    ways, so another user's ids cannot be probed). Blocking."""
    if not can_see(request, session_id):
        raise HTTPException(404, f"no session {session_id!r}")


async def known(request: Request, session_id: str) -> SessionHub:
    """The hub, after :func:`_check` (run off the event loop)."""
    await asyncio.to_thread(_check, request, session_id)
    return hub_of(request)


async def _runner_or_409(hub: SessionHub, session_id: str) -> Any:
    try:
        return await hub.runner(session_id)
    except RunnerError as exc:
        raise HTTPException(409, str(exc)) from None


# --- routes -----------------------------------------------------------------------------

api = APIRouter(prefix="/api")


@api.get("/sessions")
def list_sessions(request: Request, limit: int = 50) -> list[dict[str, Any]]:
    """Sessions, newest first."""
    hub = hub_of(request)
    return [session_summary(hub, s) for s in visible_sessions(request, max(1, min(limit, 500)))]


@api.post("/sessions", status_code=201)
async def create_session(request: Request, body: NewSessionBody) -> dict[str, Any]:
    """Start a session; its first turn runs in the server."""
    hub = hub_of(request)
    runner = await hub.start(NewSession(**body.model_dump(), owner=current_user(request)))
    return await asyncio.to_thread(session_summary, hub, runner.session.info.id)


@api.get("/status")
def server_status(request: Request) -> dict[str, Any]:
    """What a starting session would wait for (the model client's first import)."""
    return {"model_client_ready": hub_of(request).warmed}


@api.get("/sessions/{session_id}")
def get_session(request: Request, session_id: str, messages: bool = True) -> dict[str, Any]:
    """A session with its plan, notes, pending approvals and (unless ``messages=false``,
    what the session page asks: a long history is large) its messages."""
    _check(request, session_id)
    hub = hub_of(request)
    store = hub.store
    runner = hub.runners.get(session_id)
    pending = runner.approver.pending() if runner and runner.approver else []
    out: dict[str, Any] = {
        **session_summary(hub, session_id),
        "plan": [item.model_dump() for item in store.get_plan(session_id)],
        "notes": [{"id": i, "text": t, "tags": tags}
                  for i, t, tags in store.list_notes(session_id)],
        "pending_approvals": [p.model_dump(mode="json") for p in pending],
    }
    if messages:
        out["messages"] = [
            {"role": m.role, "content": m.content, "name": m.name,
             "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments}
                            for c in m.tool_calls]}
            for m in store.load_messages(session_id)
        ]
    return out


@api.post("/sessions/{session_id}/messages", status_code=202)
async def send_message(request: Request, session_id: str, body: MessageBody) -> dict[str, str]:
    """Send a message; queued for after the turn when one is running. 409 while the
    session's turn runs in another process."""
    hub = await known(request, session_id)
    runner = await _runner_or_409(hub, session_id)
    return {"status": runner.send(body.text)}


@api.post("/sessions/{session_id}/interrupt")
async def interrupt(request: Request, session_id: str) -> dict[str, bool]:
    """Interrupt the running turn."""
    hub = await known(request, session_id)
    runner = hub.runners.get(session_id)
    return {"interrupted": bool(runner and await runner.interrupt())}


@api.post("/sessions/{session_id}/undo")
async def undo(request: Request, session_id: str) -> dict[str, int]:
    """Undo the last user turn."""
    hub = await known(request, session_id)
    runner = await _runner_or_409(hub, session_id)
    try:
        return {"removed": await runner.undo()}
    except RunnerError as exc:
        raise HTTPException(409, str(exc)) from None


@api.post("/sessions/{session_id}/approvals/{request_id}")
async def resolve_approval(
    request: Request, session_id: str, request_id: str, body: ApprovalBody
) -> dict[str, bool]:
    """Approve (optionally with edited arguments) or reject a pending action. 404 when
    nothing waits; 422 when the edit does not fit the tool (the action stays pending)."""
    hub = await known(request, session_id)
    runner = hub.runners.get(session_id)
    if runner is None:
        raise HTTPException(404, f"no pending approval {request_id!r} in this session")
    try:
        runner.resolve_approval(request_id, body.approved, body.arguments)
    except ApprovalNotPending as exc:
        raise HTTPException(404, str(exc)) from None
    except InvalidEditedArguments as exc:
        raise HTTPException(422, str(exc)) from None
    return {"approved": body.approved}


@api.post("/sessions/{session_id}/budget")
async def raise_budget(request: Request, session_id: str, body: BudgetBody) -> dict[str, float]:
    """Set the session's dollar cap."""
    hub = await known(request, session_id)
    runner = await _runner_or_409(hub, session_id)
    await runner.raise_budget(body.budget_usd)
    return {"budget_usd": body.budget_usd}


@api.get("/sessions/{session_id}/events")
async def events(
    request: Request, session_id: str, after: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The session's events as SSE: replayed after Last-Event-ID / ``?after=``, then
    followed in the store (whichever process runs the session)."""
    hub = await known(request, session_id)
    try:
        start = parse_after(last_event_id, after)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return StreamingResponse(
        session_events(hub, hub.store, session_id, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@api.get("/sessions/{session_id}/calls/{call_id}/output.txt", include_in_schema=False)
def call_output(request: Request, session_id: str, call_id: str) -> FileResponse:
    """The whole output of a shell call (the card shows a bounded live tail)."""
    _check(request, session_id)
    try:
        path: Path = full_log_path(session_id, call_id)
    except (StoreError, ValueError):
        raise HTTPException(404, "no such call") from None
    if not path.is_file():
        raise HTTPException(404, "no output was recorded for this call")
    return FileResponse(path, media_type="text/plain; charset=utf-8")
