"""Server-rendered pages (Jinja2 templates shipped in the package) and static files.

Pages render what the store holds at load time; the session page then follows the
session's SSE stream with a small script (static/session.js)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from openintern.store import StoreError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescapes .html

MODEL_SUGGESTIONS = ["openai/gpt-5", "anthropic/claude-sonnet-4-5", "ollama/qwen3",
                     "hosted_vllm/your-model"]


def mount_pages(app: FastAPI) -> None:
    """Add the HTML pages and /static to ``app``."""
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request) -> HTMLResponse:
        hub = request.app.state.hub
        settings = hub.settings
        return templates.TemplateResponse(request, "index.html", {
            "sessions": hub.store.list_sessions(100), "settings": settings,
            "models": [settings.model, *MODEL_SUGGESTIONS],
        })

    @app.get("/sessions/{session_id}", response_class=HTMLResponse, include_in_schema=False)
    async def session_page(request: Request, session_id: str) -> HTMLResponse:
        hub = request.app.state.hub
        try:
            info = hub.store.get_session(session_id)
        except StoreError:
            raise HTTPException(404, f"no session {session_id!r}") from None
        budget = info.config.get("budget_usd")
        return templates.TemplateResponse(request, "session.html",
                                          {"info": info, "budget": budget})

    @app.get("/experiments", response_class=HTMLResponse, include_in_schema=False)
    async def experiments_page(request: Request, session: str | None = None) -> HTMLResponse:
        from openintern.research.ledger import Ledger

        rows = Ledger(request.app.state.hub.store).experiments(session)
        return templates.TemplateResponse(request, "experiments.html",
                                          {"experiments": rows, "session": session})
