"""Server-rendered pages (Jinja2 templates shipped in the package) and static files.

Pages render what the store holds at load time; the session page then follows the
session's SSE stream with a small script (static/session.js). A session's report is the
same record read as a document: goal, plan, notes, experiments, conclusion. The routes
are plain ``def``: FastAPI runs them in worker threads, off the event loop."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from openintern.research.run_labels import run_names
from openintern.store import SessionInfo
from openintern.web.access import can_see, visible_sessions
from openintern.web.config_stats import config_rows
from openintern.web.lab import best_result
from openintern.web.report_text import conclusion, link_numbers
from openintern.web.runner import running_elsewhere
from openintern.web.templating import HERE, templates

MODEL_SUGGESTIONS = ["openai/gpt-5", "anthropic/claude-sonnet-4-5", "ollama/qwen3",
                     "hosted_vllm/your-model"]


def _session_or_404(request: Request, session_id: str) -> SessionInfo:
    if not can_see(request, session_id):
        raise HTTPException(404, f"no session {session_id!r}")
    info: SessionInfo = request.app.state.hub.store.get_session(session_id)
    return info


def mount_pages(app: FastAPI) -> None:
    """Add the session pages, /static and the favicon to ``app``."""
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        hub = request.app.state.hub
        settings = hub.settings
        ledger = hub.ledger
        sessions = visible_sessions(request, 100)
        best = {s.id: best_result(ledger.experiments(s.id)) for s in sessions}
        return templates.TemplateResponse(request, "index.html", {
            "sessions": sessions, "best": best, "settings": settings,
            "models": [settings.model, *MODEL_SUGGESTIONS],
        })

    @app.get("/sessions/{session_id}", response_class=HTMLResponse, include_in_schema=False)
    def session_page(request: Request, session_id: str) -> HTMLResponse:
        info = _session_or_404(request, session_id)
        runner = request.app.state.hub.runners.get(info.id)
        live = bool(runner and runner.running)
        return templates.TemplateResponse(request, "session.html", {
            "info": info, "budget": info.config.get("budget_usd"), "live": live,
            "elsewhere": not live and running_elsewhere(info.status, info.updated_at)})

    @app.get("/sessions/{session_id}/report", response_class=HTMLResponse,
             include_in_schema=False)
    def report_page(request: Request, session_id: str, baseline: str | None = None
                    ) -> HTMLResponse:
        info = _session_or_404(request, session_id)
        store = request.app.state.hub.store
        records = request.app.state.hub.ledger.experiments(session_id)
        configs = config_rows(records, baseline)
        text = conclusion(store.load_messages(session_id))
        return templates.TemplateResponse(request, "report.html", {
            "info": info, "plan": store.get_plan(session_id),
            "notes": store.list_notes(session_id), "experiments": records,
            "names": run_names(records), "configs": configs, "best": best_result(records),
            "conclusion": link_numbers(text, records, configs),
        })
