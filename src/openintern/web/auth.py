"""Token access to the web app (the Jupyter convention).

The server prints a URL carrying ``?token=...``; the first visit with it sets an HttpOnly,
SameSite=Strict cookie and redirects to the same page without the token, so the token
does not linger in the address bar. Every request (pages, API, SSE, static files) needs
the cookie, an ``Authorization: Bearer`` header, or the ``token`` query parameter.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Mapping
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME = "openintern_token"


class WebConfigError(RuntimeError):
    """The server cannot start as configured; the message says what to change."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(configured: str | None, host: str) -> str:
    """The access token: the configured one, or a fresh random one on loopback hosts.

    Binding another address with a token nobody chose is refused: a generated token
    printed to a terminal is fine for one's own machine, not for a network.
    """
    if configured:
        return configured
    if not is_loopback(host):
        raise WebConfigError(
            f"refusing to listen on {host} without a configured token; set "
            "OPENINTERN_WEB_TOKEN (or web_token in the config file), or bind 127.0.0.1"
        )
    return secrets.token_urlsafe(32)


def _presented_tokens(scope: Scope) -> tuple[str | None, str | None, str | None]:
    """(cookie, bearer, query) tokens of a request."""
    cookie = bearer = None
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is just no cookie
                continue
            if COOKIE_NAME in jar:
                cookie = jar[COOKIE_NAME].value
        elif name == b"authorization":
            text = value.decode("latin-1")
            if text.lower().startswith("bearer "):
                bearer = text[7:].strip()
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    return cookie, bearer, query.get("token")


class TokenAuth:
    """ASGI middleware refusing requests without the token."""

    def __init__(self, app: ASGIApp, token: str, users: Mapping[str, str] | None = None) -> None:
        """``token`` is the server's (sees everything); ``users`` maps more tokens to user
        names, whose requests carry ``scope["state"]["user"]``."""
        self.app = app
        self.token = token
        self.users = dict(users or {})

    def _match(self, presented: str | None) -> tuple[bool, str | None]:
        """(accepted, user name) of a presented token; every known token is compared, in
        constant time, so timing does not tell which one nearly matched."""
        if presented is None:
            return False, None
        given = presented.encode()
        found, user = False, None
        for known, name in [(self.token, None), *self.users.items()]:
            if secrets.compare_digest(given, known.encode()):
                found, user = True, name
        return found, user

    def _cookie_header(self, token: str) -> tuple[bytes, bytes]:
        value = f"{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/"
        return b"set-cookie", value.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass authorised requests on; answer the others with 401 (or a redirect)."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        cookie, bearer, query = _presented_tokens(scope)
        for presented in (cookie, bearer):
            ok, user = self._match(presented)
            if ok:
                await self.app(self._as_user(scope, user), receive, send)
                return
        path: str = scope.get("path", "/")
        is_api = path.startswith("/api/")
        ok, user = self._match(query)
        if ok and query is not None:
            if not is_api and scope.get("method") == "GET":
                await self._redirect_without_token(scope, send, query)
                return
            await self.app(self._as_user(scope, user), receive, self._with_cookie(send, query))
            return
        await self._refuse(send, is_api)

    @staticmethod
    def _as_user(scope: Scope, user: str | None) -> Scope:
        state = dict(scope.get("state") or {})
        state["user"] = user
        return {**scope, "state": state}

    def _with_cookie(self, send: Send, token: str) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  self._cookie_header(token)]}
            await send(message)

        return wrapped

    async def _redirect_without_token(self, scope: Scope, send: Send, token: str) -> None:
        query = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
                 if k != "token"]
        location = scope.get("path", "/") + (f"?{urlencode(query)}" if query else "")
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", location.encode("latin-1")),
                                self._cookie_header(token), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    async def _refuse(self, send: Send, is_api: bool) -> None:
        if is_api:
            body = b'{"detail":"missing or wrong token; send Authorization: Bearer <token>"}'
            ctype = b"application/json"
        else:
            body = (
                b"<!doctype html><html lang=en><meta charset=utf-8><title>Token needed</title>"
                b"<main><h1>Token needed</h1><p>Open the URL printed by <code>intern serve"
                b"</code>; it ends with <code>?token=...</code>.</p></main></html>"
            )
            ctype = b"text/html; charset=utf-8"
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", ctype),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
