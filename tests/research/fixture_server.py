"""A real HTTP server on 127.0.0.1 that replays recorded service responses.

Usage::

    # tests/research/ has no __init__.py: pytest puts this folder on sys.path.
    from fixture_server import FixtureServer, Route

    routes = {
        # GET is implied by a bare path; bodies come from tests/fixtures/<file>.
        "/api/query": [
            Route(fixture="arxiv/query_search_start10.atom.xml", query={"start": "10"}),
            Route(fixture="arxiv/query_search.atom.xml"),
        ],
        # A scripted sequence: one 429 (with Retry-After), then 200 forever.
        ("GET", "/graph/v1/paper/search"): [
            Route(status=429, times=1, headers={"Retry-After": "0"},
                  fixture="semanticscholar/rate_limited_429.json"),
            Route(fixture="semanticscholar/paper_search.json"),
        ],
        # Inline bodies: bytes, str, or any JSON-able value (dict/list -> JSON).
        ("POST", "/graph/v1/paper/batch"): Route(body=[None, {"paperId": "x"}]),
    }
    with FixtureServer(routes) as server:        # started on a free port
        base_url = server.url                   # "http://127.0.0.1:<port>"
        ...
        server.requests                         # list[RecordedRequest], in arrival order
        server.requests[0].headers["x-api-key"] # header names are lower-cased
        server.stop()                           # now connections are refused ("offline")

Routing: a key is ``"/path"`` (GET) or ``("METHOD", "/path")``; the value is one
:class:`Route` or a list. For a list, the first route whose ``query`` matches (every given
parameter equal; unspecified ones ignored) and which is not exhausted answers; a route with
``times=n`` answers n times and is then skipped, which scripts sequences. A path ending in
``*`` matches by prefix (``"/html/*"``). Unmatched requests get a 404 JSON body naming the
request, and are recorded too. ``delay_s`` sleeps before answering (to test timeouts).

Content types are guessed from the fixture's extension (.json, .xml/.atom.xml -> Atom,
.html, .pdf, .txt) unless ``content_type`` is given. The ``fixtures_dir()`` is
``tests/fixtures`` in the repository (its SOURCES.md says where each body was recorded).
``tests/research/conftest.py`` offers a ``serve`` fixture that starts a server and stops
it at teardown: ``server = serve(routes)``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

RouteKey = tuple[str, str] | str


def fixtures_dir() -> Path:
    """``tests/fixtures`` in this repository (recorded bodies; see its SOURCES.md)."""
    return Path(__file__).resolve().parents[1] / "fixtures"


def load_fixture(name: str) -> bytes:
    """The bytes of ``tests/fixtures/<name>`` (e.g. ``"arxiv/query_search.atom.xml"``)."""
    return (fixtures_dir() / name).read_bytes()


_CONTENT_TYPES = {
    ".json": "application/json",
    ".xml": "application/atom+xml; charset=UTF-8",
    ".html": "text/html; charset=utf-8",
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass
class Route:
    """One canned answer. Give ``fixture`` (a file under tests/fixtures) or ``body``."""

    status: int = 200
    fixture: str | None = None
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    query: dict[str, str] | None = None
    times: int | None = None
    delay_s: float = 0.0
    served: int = 0

    def matches(self, query: dict[str, str]) -> bool:
        """True when every expected query parameter is present with the same value."""
        if self.times is not None and self.served >= self.times:
            return False
        return all(query.get(k) == v for k, v in (self.query or {}).items())

    def payload(self) -> tuple[bytes, str]:
        """The body bytes and content type to send."""
        if self.fixture is not None:
            data = load_fixture(self.fixture)
            suffix = Path(self.fixture).suffix
            return data, self.content_type or _CONTENT_TYPES.get(suffix, "text/plain")
        if isinstance(self.body, bytes):
            return self.body, self.content_type or "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain; charset=utf-8"
        if self.body is None:
            return b"", self.content_type or "text/plain"
        return json.dumps(self.body).encode(), self.content_type or "application/json"


@dataclass
class RecordedRequest:
    """A request the server received. ``query`` keeps the last value of each name."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The request body decoded as JSON."""
        return json.loads(self.body)


class FixtureServer:
    """See the module docstring."""

    def __init__(self, routes: dict[RouteKey, Route | list[Route]] | None = None) -> None:
        self._routes: dict[tuple[str, str], list[Route]] = {}
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        for key, value in (routes or {}).items():
            self.add(key, value)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- configuration ---------------------------------------------------------------
    def add(self, key: RouteKey, route: Route | list[Route]) -> None:
        """Add (or replace) the routes for ``key``."""
        method, path = ("GET", key) if isinstance(key, str) else (key[0].upper(), key[1])
        with self._lock:
            self._routes[(method, path)] = route if isinstance(route, list) else [route]

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://127.0.0.1:{self.port}"

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests whose path equals ``path``."""
        return [r for r in self.requests if r.path == path]

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> FixtureServer:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._handle(self)

            do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

            def log_message(self, format: str, *args: Any) -> None:  # quiet tests
                return

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket: later connections are refused."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- request handling ------------------------------------------------------------
    def _pick(self, method: str, path: str, query: dict[str, str]) -> Route | None:
        with self._lock:
            candidates = self._routes.get((method, path))
            if candidates is None:
                for (m, p), routes in self._routes.items():
                    if m == method and p.endswith("*") and path.startswith(p[:-1]):
                        candidates = routes
                        break
            for route in candidates or []:
                if route.matches(query):
                    route.served += 1
                    return route
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        method = handler.command.upper()
        with self._lock:
            self.requests.append(RecordedRequest(
                method=method, path=parts.path, query=query,
                headers={k.lower(): v for k, v in handler.headers.items()}, body=body,
            ))
        route = self._pick(method, parts.path, query)
        if route is None:
            payload = json.dumps({"error": f"no fixture route for {method} {handler.path}"})
            status, data, ctype, headers = 404, payload.encode(), "application/json", {}
        else:
            if route.delay_s:
                time.sleep(route.delay_s)
            data, ctype = route.payload()
            status, headers = route.status, route.headers
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if method != "HEAD":
                handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (e.g. a timeout test)


# The type of the ``serve`` fixture in tests/research/conftest.py (for annotations).
ServeFactory = Callable[[dict[RouteKey, "Route | list[Route]"]], FixtureServer]
