"""The FastAPI application: API routers, pages, security headers, and ``serve`` for the
CLI. Starting the app warms the model client in a worker thread, so the first session
does not wait for LiteLLM's import."""

from __future__ import annotations

import asyncio
import contextlib
import webbrowser
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI

from openintern.agent.session import open_store
from openintern.config import Settings
from openintern.store import Store
from openintern.web.accounting_routes import router as accounting_router
from openintern.web.auth import TokenAuth, resolve_token
from openintern.web.experiment_api import experiment_api
from openintern.web.headers import SecurityHeaders
from openintern.web.runner import SessionHub
from openintern.web.session_api import api


def create_app(settings: Settings, token: str, *, store: Store | None = None,
               hub: SessionHub | None = None, users: Mapping[str, str] | None = None) -> FastAPI:
    """The web app guarded by ``token``; sessions share ``store`` (default: the
    configured one). ``users`` (token -> user name; default: the ``web_users`` setting,
    which maps name -> token) adds tokens whose holders see only their own sessions."""
    from openintern.web.experiment_pages import mount_experiment_pages
    from openintern.web.pages import mount_pages

    store = store or (hub.store if hub else open_store(settings))
    session_hub = hub or SessionHub(settings, store)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Store reads of SSE streams and steering run in the loop's default executor;
        # its default size (cores + 4) is too small for many open pages and a writer
        # waiting on a lock. The work is I/O: threads are cheap here.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=64, thread_name_prefix="openintern-web"))
        # LiteLLM's import in a worker thread; requests are served meanwhile.
        warming = asyncio.create_task(session_hub.warm())
        yield
        warming.cancel()
        await session_hub.shutdown()  # stopping the server interrupts running turns cleanly

    app = FastAPI(title="OpenIntern", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.hub = session_hub
    app.include_router(api)
    app.include_router(accounting_router)
    app.include_router(experiment_api)
    mount_pages(app)
    mount_experiment_pages(app)

    if users is None and settings.web_users:
        # The setting maps user name -> token; the middleware wants token -> name.
        users = {tok.get_secret_value(): name for name, tok in settings.web_users.items()}
    app.add_middleware(TokenAuth, token=token, users=users)
    app.add_middleware(SecurityHeaders)  # outermost: refusals carry the headers too
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
