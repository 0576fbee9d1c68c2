"""The outbound gate: every HTTP request this process sends is checked and recorded here.

Every HTTP client in the process — OpenIntern's own service client, the Ray and HF Jobs
backends, LiteLLM and the OpenAI SDK under it, ``huggingface_hub`` — is an ``httpx``
client, and each one sends every request (redirect hops included) through
``_send_single_request``. :func:`install` wraps that one method on ``httpx.Client`` and
``httpx.AsyncClient``: the only place that sees all of them without each library's
cooperation. With no gate active in the current context the wrapper passes straight
through; with one (:func:`gate_active`, per session, a context variable so concurrent web
sessions keep their own), it

- refuses what the :class:`EgressPolicy` forbids (``local-only``: loopback endpoints the
  session was configured with, and the allowlist) with :class:`EgressRefused`, recording
  the refusal;
- records every request that went: destination, purpose, bytes of body sent, status, and
  what kind of content it carried (:func:`egress_purpose` labels the requests made inside
  it: a model prompt and which files and tool outputs it holds, a job's code package and
  its file list, a Hub upload).

What code *inside* the sandbox sends is not seen here; the sandbox's network policy
governs it (``local-only`` turns it off).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from openintern.secrets import REDACTED, looks_secret

log = logging.getLogger(__name__)

EgressMode = Literal["open", "local-only"]
EGRESS_MODES: tuple[EgressMode, ...] = ("open", "local-only")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_TARGET_CHARS = 500


class EgressRefused(httpx.TransportError):
    """The egress policy refused a request. A transport error, so every client treats it
    like an unreachable host (no crash); the message says which policy and what to do."""

    def __init__(self, message: str, *, destination: Destination, purpose: str) -> None:
        super().__init__(message)
        self.destination = destination
        self.purpose = purpose


@dataclass(frozen=True)
class Destination:
    """Where a request goes: scheme, host and port."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: httpx.URL | str) -> Destination:
        """The destination of ``url`` (default ports filled in)."""
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme, 0)
        return cls(parsed.scheme, parsed.host.lower(), port)

    @property
    def loopback(self) -> bool:
        """Whether the host is this machine (127.0.0.0/8, ::1, localhost)."""
        return is_loopback(self.host)

    @property
    def label(self) -> str:
        """``host:port``, the key the egress log groups by."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine."""
    host = host.strip("[]").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint(url: str | None) -> str | None:
    """``host:port`` of a configured URL (None when there is none or it is not a URL)."""
    if not url:
        return None
    if "://" not in url:
        url = "http://" + url
    try:
        return Destination.of(url).label
    except (httpx.InvalidURL, ValueError):
        return None


def _split_entry(entry: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return name, int(port) if port.isdigit() else None
    name, sep, port = entry.rpartition(":")
    if sep and entry.count(":") == 1 and port.isdigit():
        return name, int(port)
    return entry, None


def _host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host == pattern[2:] or host.endswith(pattern[1:])
    return host == pattern


@dataclass(frozen=True)
class EgressPolicy:
    """Which destinations may be reached.

    ``open`` (default): every destination. ``local-only``: only entries of ``allow``:
    ``host`` (any port), ``host:port``, ``*.example.org``, a CIDR (``10.0.0.0/8``) or the
    word ``loopback`` (this machine, any port). Loopback is not allowed by default on
    every port, because a local proxy or tunnel would carry data out: the session adds
    the loopback endpoints it was configured with (the model server, the Ray dashboard).
    """

    mode: EgressMode = "open"
    allow: tuple[str, ...] = ()

    def permits(self, dest: Destination) -> bool:
        """Whether a request to ``dest`` may go."""
        if self.mode == "open":
            return True
        host = dest.host.strip("[]")
        for raw in self.allow:
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "loopback":
                if dest.loopback:
                    return True
                continue
            if "/" in entry:
                with contextlib.suppress(ValueError):
                    if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                        return True
                continue
            name, port = _split_entry(entry)
            if _host_matches(name, host) and port in (None, dest.port):
                return True
        return False

    def refusal(self, dest: Destination, purpose: str) -> str:
        """The error text for a refused request."""
        allowed = ", ".join(self.allow) or "nothing"
        return (
            f"egress policy local-only refused {purpose} to {dest.label}: only these "
            f"destinations may be reached: {allowed}. Work with local files and tools "
            "instead, or ask the user to add the host to egress_allowlist (or to run "
            "without --local-only)."
        )


@dataclass
class EgressLabel:
    """What the requests made inside :func:`egress_purpose` carry.

    ``kind``: ``prompt`` (a model call: ``detail`` says how many characters of which
    files and tool outputs it holds), ``job_package`` (code shipped to a job: the file
    list), ``upload`` (files pushed to a hub), ``api`` (a lookup: search words, ids).
    """

    purpose: str
    kind: str = "api"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class EgressRecord:
    """One request that was sent (or refused)."""

    ts: float
    session_id: str
    destination: Destination
    method: str
    target: str  # path and query, secret-looking parameters redacted
    purpose: str
    kind: str
    bytes_sent: int  # the request body as sent (headers not counted)
    allowed: bool
    status: int | None = None
    error: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


class EgressSink(Protocol):
    """Where records go (the accounting package's egress log, a list in tests)."""

    def record(self, record: EgressRecord) -> None:
        """Persist one record (may block briefly: async callers run it in a thread)."""
        ...


class EgressGate:
    """The policy and the log of one root session (see the module docstring)."""

    def __init__(self, policy: EgressPolicy, sink: EgressSink, session_id: str, *,
                 services: dict[str, str] | None = None) -> None:
        self.policy = policy
        self.sink = sink
        self.session_id = session_id
        # host:port -> service name, for requests nobody labelled (e.g. "arXiv API").
        self.services = dict(services or {})



_GATE: ContextVar[EgressGate | None] = ContextVar("openintern_egress_gate", default=None)
_LABEL: ContextVar[EgressLabel | None] = ContextVar("openintern_egress_label", default=None)
# Gates of the sessions running in this process. Threads started with threading.Thread
# (an integration's background sender) do not inherit context variables: while exactly
# one session runs (the CLI), its gate also covers them; with several (a web server) such
# requests cannot be attributed and pass ungated (docs/data-handling.md says so).
_RUNNING: list[EgressGate] = []
_RUNNING_LOCK = threading.Lock()


def current_gate() -> EgressGate | None:
    """The gate for a request made here: this context's, else the one running session's."""
    gate = _GATE.get()
    if gate is not None:
        return gate
    with _RUNNING_LOCK:
        return _RUNNING[0] if len(_RUNNING) == 1 else None


@contextlib.contextmanager
def gate_active(gate: EgressGate | None) -> Iterator[None]:
    """Route the requests made inside through ``gate`` (None: leave things as they are).
    Tasks and threads started inside inherit it."""
    if gate is None:
        yield
        return
    install()
    token = _GATE.set(gate)
    with _RUNNING_LOCK:
        _RUNNING.append(gate)
    try:
        yield
    finally:
        with _RUNNING_LOCK:
            _RUNNING.remove(gate)
        with contextlib.suppress(ValueError):  # closed from another context
            _GATE.reset(token)


@contextlib.contextmanager
def egress_purpose(purpose: str, kind: str = "api", **detail: Any) -> Iterator[EgressLabel]:
    """Label the requests made inside (what they are for and what they carry). The label
    is yielded so a caller can add to ``detail`` once it knows more."""
    label = EgressLabel(purpose, kind, dict(detail))
    token = _LABEL.set(label)
    try:
        yield label
    finally:
        with contextlib.suppress(ValueError):
            _LABEL.reset(token)


def _safe_target(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, REDACTED if looks_secret(k) else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    target = parts.path or "/"
    if query:
        target += "?" + urlencode(query)
    return target[:_MAX_TARGET_CHARS]


def _default_label(gate: EgressGate, request: Any, dest: Destination) -> EgressLabel:
    service = gate.services.get(dest.label)
    if service is not None:
        return EgressLabel(f"{service} request", "api")
    agent = request.headers.get("user-agent", "").split(" ", 1)[0] or "httpx"
    return EgressLabel(f"request by {agent}", "api")


def _counting_streams(mod: Any) -> tuple[type[Any], type[Any]]:
    """Request-body streams (of the httpx-like module ``mod``) that count what they send."""

    class CountingSync(mod.SyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.count = 0

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.inner:
                self.count += len(chunk)
                yield chunk

        def close(self) -> None:
            close = getattr(self.inner, "close", None)
            if callable(close):
                close()

    class CountingAsync(mod.AsyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.count = 0

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for chunk in self.inner:
                self.count += len(chunk)
                yield chunk

        async def aclose(self) -> None:
            close = getattr(self.inner, "aclose", None)
            if callable(close):
                await close()

    return CountingSync, CountingAsync


@dataclass
class _Pending:
    gate: EgressGate
    record: EgressRecord
    counter: Any = None  # the counting stream of a streamed body

    def finish(self, status: int | None, error: str = "") -> EgressRecord:
        if self.counter is not None:
            self.record.bytes_sent = self.counter.count
        self.record.status = status
        self.record.error = error[:300]
        return self.record


_installed: set[str] = set()


def install() -> None:
    """Wrap the per-request send of httpx (and of httpx2, which the MCP SDK uses, when it
    is installed) once per process (idempotent)."""
    import importlib

    for name in ("httpx", "httpx2"):
        if name in _installed:
            continue
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        _wrap(mod)
        _installed.add(name)


def _wrap(mod: Any) -> None:
    sync_send = mod.Client._send_single_request
    async_send = mod.AsyncClient._send_single_request
    counting_sync, counting_async = _counting_streams(mod)
    # A refusal this library's callers recognise as one of its own transport errors.
    refused_type: type[EgressRefused] = (
        EgressRefused if mod is httpx
        else type("EgressRefused", (EgressRefused, mod.TransportError), {}))

    def begin(gate: EgressGate, request: Any, *, is_async: bool) -> _Pending:
        """Prepare the record (a streamed body is counted as it is sent)."""
        dest = Destination.of(str(request.url))
        label = _LABEL.get() or _default_label(gate, request, dest)
        record = EgressRecord(
            ts=time.time(), session_id=gate.session_id, destination=dest,
            method=request.method, target=_safe_target(str(request.url)),
            purpose=label.purpose, kind=label.kind, bytes_sent=0, allowed=True,
            detail=dict(label.detail))
        pending = _Pending(gate, record)
        try:
            record.bytes_sent = len(request.content)
        except mod.RequestNotRead:  # a streamed body (file upload)
            pending.counter = (counting_async if is_async else counting_sync)(request.stream)
            request.stream = pending.counter
        return pending

    def refusal(pending: _Pending) -> EgressRefused | None:
        dest, purpose = pending.record.destination, pending.record.purpose
        if pending.gate.policy.permits(dest):
            return None
        pending.record.allowed = False
        message = pending.gate.policy.refusal(dest, purpose)
        pending.record.error = message[:300]
        return refused_type(message, destination=dest, purpose=purpose)

    def gated_send(self: Any, request: Any) -> Any:
        gate = current_gate()
        if gate is None:
            return sync_send(self, request)
        pending = begin(gate, request, is_async=False)
        refused = refusal(pending)
        if refused is not None:
            gate.sink.record(pending.record)
            raise refused
        try:
            response = sync_send(self, request)
        except Exception as exc:
            gate.sink.record(pending.finish(None, f"{type(exc).__name__}: {exc}"))
            raise
        gate.sink.record(pending.finish(response.status_code))
        return response

    async def gated_async_send(self: Any, request: Any) -> Any:
        gate = current_gate()
        if gate is None:
            return await async_send(self, request)
        pending = begin(gate, request, is_async=True)
        refused = refusal(pending)
        if refused is not None:
            await asyncio.to_thread(gate.sink.record, pending.record)
            raise refused
        try:
            response = await async_send(self, request)
        except BaseException as exc:
            # Recorded even when cancelled (the body may already have left), and without
            # an await, which a cancelled task could not finish.
            gate.sink.record(pending.finish(None, f"{type(exc).__name__}: {exc}"))
            raise
        await asyncio.to_thread(gate.sink.record, pending.finish(response.status_code))
        return response

    mod.Client._send_single_request = gated_send
    mod.AsyncClient._send_single_request = gated_async_send


def local_allowlist(configured: Iterable[str | None], extra: Iterable[str]) -> tuple[str, ...]:
    """The allowlist of a local-only session: ``extra`` (the user's entries) plus the
    configured endpoints (URLs) that are on this machine."""
    entries = [e for e in extra if e]
    for url in configured:
        label = endpoint(url)
        if label is not None and is_loopback(label.rsplit(":", 1)[0]) and label not in entries:
            entries.append(label)
    return tuple(entries)
