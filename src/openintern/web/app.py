"""The FastAPI application: JSON API, SSE stream, pages, and ``serve`` for the CLI."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import webbrowser
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Header, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from openintern.agent.session import open_store
from openintern.config import Settings
from openintern.store import Store
from openintern.web.access import can_see, current_user, visible_experiments, visible_sessions
from openintern.web.accounting_routes import router as accounting_router
from openintern.web.auth import TokenAuth, resolve_token
from openintern.web.experiment_pages import experiment_or_404, mount_experiment_pages
from openintern.web.runner import (
    ApprovalNotPending,
    InvalidEditedArguments,
    NewSession,
    RunnerError,
    SessionHub,
)
from openintern.web.sse import parse_after, session_events

# --- request bodies ---------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewSessionBody(_Body):
    """POST /api/sessions."""

    goal: str = Field(min_length=1, max_length=20_000)
    model: str | None = Field(None, min_length=1, max_length=200)
    budget_usd: float | None = Field(None, ge=0, allow_inf_nan=False)
    sandbox: Literal["bwrap", "none"] | None = None
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


def _hub(request: Request) -> SessionHub:
    hub: SessionHub = request.app.state.hub
    return hub


def _session_summary(hub: SessionHub, session_id: str) -> dict[str, Any]:
    info = hub.store.get_session(session_id)
    runner = hub.runners.get(session_id)
    return {
        "id": info.id, "goal": info.task, "model": info.model, "status": info.status,
        "cost_usd": info.total_cost_usd, "iterations": info.iterations,
        "budget_usd": info.config.get("budget_usd"), "created_at": info.created_at,
        "updated_at": info.updated_at, "live": bool(runner and runner.running),
        "queued": list(runner.queue) if runner else [],
    }


def _known(request: Request, session_id: str) -> SessionHub:
    """The hub, after checking the session exists and this user may see it (404 both
    ways, so another user's ids cannot be probed)."""
    if not can_see(request, session_id):
        raise HTTPException(404, f"no session {session_id!r}")
    return _hub(request)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


# --- API --------------------------------------------------------------------------------

api = APIRouter(prefix="/api")


@api.get("/sessions")
async def list_sessions(request: Request, limit: int = 50) -> list[dict[str, Any]]:
    """Sessions, newest first."""
    hub = _hub(request)
    return [_session_summary(hub, s.id) for s in visible_sessions(request, max(1, min(limit, 500)))]


@api.post("/sessions", status_code=201)
async def create_session(request: Request, body: NewSessionBody) -> dict[str, Any]:
    """Start a session; its first turn runs in the server."""
    hub = _hub(request)
    runner = hub.start(NewSession(**body.model_dump(), owner=current_user(request)))
    return _session_summary(hub, runner.session.info.id)


@api.get("/sessions/{session_id}")
async def get_session(request: Request, session_id: str) -> dict[str, Any]:
    """A session with its plan, notes, messages and pending approvals."""
    hub = _known(request, session_id)
    store = hub.store
    runner = hub.runners.get(session_id)
    pending = runner.approver.pending() if runner and runner.approver else []
    return {
        **_session_summary(hub, session_id),
        "plan": [item.model_dump() for item in store.get_plan(session_id)],
        "notes": [{"id": i, "text": t, "tags": tags}
                  for i, t, tags in store.list_notes(session_id)],
        "messages": [
            {"role": m.role, "content": m.content, "name": m.name,
             "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments}
                            for c in m.tool_calls]}
            for m in store.load_messages(session_id)
        ],
        "pending_approvals": [p.model_dump(mode="json") for p in pending],
    }


@api.post("/sessions/{session_id}/messages", status_code=202)
async def send_message(request: Request, session_id: str, body: MessageBody) -> dict[str, str]:
    """Send a message; queued for after the turn when one is running."""
    hub = _known(request, session_id)
    return {"status": hub.runner(session_id).send(body.text)}


@api.post("/sessions/{session_id}/interrupt")
async def interrupt(request: Request, session_id: str) -> dict[str, bool]:
    """Interrupt the running turn."""
    hub = _known(request, session_id)
    runner = hub.runners.get(session_id)
    return {"interrupted": bool(runner and await runner.interrupt())}


@api.post("/sessions/{session_id}/undo")
async def undo(request: Request, session_id: str) -> dict[str, int]:
    """Undo the last user turn."""
    hub = _known(request, session_id)
    try:
        return {"removed": hub.runner(session_id).undo()}
    except RunnerError as exc:
        raise HTTPException(409, str(exc)) from None


@api.post("/sessions/{session_id}/approvals/{request_id}")
async def resolve_approval(
    request: Request, session_id: str, request_id: str, body: ApprovalBody
) -> dict[str, bool]:
    """Approve (optionally with edited arguments) or reject a pending action. 404 when
    nothing waits; 422 when the edit does not fit the tool (the action stays pending)."""
    hub = _known(request, session_id)
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
    hub = _known(request, session_id)
    hub.runner(session_id).raise_budget(body.budget_usd)
    return {"budget_usd": body.budget_usd}


@api.get("/sessions/{session_id}/events")
async def events(
    request: Request, session_id: str, after: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The session's events as SSE: replayed after Last-Event-ID / ``?after=``, then live."""
    hub = _known(request, session_id)
    try:
        start = parse_after(last_event_id, after)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return StreamingResponse(
        session_events(hub, hub.store, session_id, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@api.get("/experiments")
async def experiments(request: Request, session: str | None = None) -> list[dict[str, Any]]:
    """The ledger's experiments (of one session, or all)."""
    return [dataclasses.asdict(e) for e in visible_experiments(request, session)]


@api.get("/experiments/{exp_id}/metrics")
async def metrics(request: Request, exp_id: str, name: str | None = None) -> dict[str, Any]:
    """Metric series of an experiment, by metric name, for charts."""
    from openintern.research.ledger import Ledger

    exp_id = experiment_or_404(request, exp_id).id
    ledger = Ledger(_hub(request).store)
    series: dict[str, list[dict[str, float | int | None]]] = {}
    for p in ledger.series(exp_id, name):
        series.setdefault(p.name, []).append({"step": p.step, "value": _finite(p.value)})
    return {"experiment_id": exp_id, "series": series}


# --- app and server -----------------------------------------------------------------------


def create_app(settings: Settings, token: str, *, store: Store | None = None,
               hub: SessionHub | None = None, users: Mapping[str, str] | None = None) -> FastAPI:
    """The web app guarded by ``token``; sessions share ``store`` (default: the
    configured one). ``users`` (token -> user name; default: the ``web_users`` setting,
    which maps name -> token) adds tokens whose holders see only their own sessions."""
    from openintern.web.pages import mount_pages

    store = store or (hub.store if hub else open_store(settings))
    hub = hub or SessionHub(settings, store)
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await hub.shutdown()  # stopping the server interrupts running turns cleanly

    app = FastAPI(title="OpenIntern", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.hub = hub
    app.include_router(api)
    app.include_router(accounting_router)
    mount_pages(app)
    mount_experiment_pages(app)

    if users is None and settings.web_users:
        # The setting maps user name -> token; the middleware wants token -> name.
        users = {tok.get_secret_value(): name for name, tok in settings.web_users.items()}
    app.add_middleware(TokenAuth, token=token, users=users)
    return app


def serve(settings: Settings, *, host: str | None, port: int | None,
          open_browser: bool = False) -> int:
    """Run the web app (blocking) and print its URL with the token; returns an exit code."""
    import uvicorn

    host = host or settings.web_host
    port = port or settings.web_port
    configured = settings.web_token.get_secret_value() if settings.web_token else None
    token = resolve_token(configured, host)  # WebConfigError for open hosts without one
    app = create_app(settings, token)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/?token={token}"
    print(f"OpenIntern is running at {url}", flush=True)
    if open_browser:
        webbrowser.open(url)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
