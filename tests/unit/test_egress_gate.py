"""The outbound gate: what the egress policy allows, and attacks on it (a redirect to a
refused destination, a request from a worker thread, a streamed upload), over real HTTP
to local fixture servers."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from openintern.egress import (
    Destination,
    EgressGate,
    EgressPolicy,
    EgressRecord,
    EgressRefused,
    egress_purpose,
    gate_active,
    local_allowlist,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "research"))

from fixture_server import FixtureServer, Route


class ListSink:
    """Records in memory."""

    def __init__(self) -> None:
        self.records: list[EgressRecord] = []

    def record(self, record: EgressRecord) -> None:
        self.records.append(record)


@pytest.fixture
def servers() -> Iterator[tuple[FixtureServer, FixtureServer]]:
    allowed = FixtureServer({"/ok": Route(body={"ok": True}),
                             ("POST", "/upload"): Route(body={"stored": True})}).start()
    other = FixtureServer({"/*": Route(body={"leaked": True})}).start()
    allowed.add("/redirect", Route(status=302, headers={"Location": f"{other.url}/steal"}))
    yield allowed, other
    allowed.stop()
    other.stop()


def dest(url: str) -> Destination:
    return Destination.of(url)


def test_policy_forms() -> None:
    policy = EgressPolicy("local-only", ("127.0.0.1:8000", "*.corp.example", "10.0.0.0/8",
                                         "models.example:443", "[::1]:9000"))
    assert policy.permits(dest("http://127.0.0.1:8000/v1"))
    assert not policy.permits(dest("http://127.0.0.1:8001/v1"))  # loopback, other port
    assert policy.permits(dest("https://wiki.corp.example/x"))
    assert policy.permits(dest("https://corp.example/x"))
    assert not policy.permits(dest("https://corp.example.evil.org/x"))
    assert policy.permits(dest("http://10.1.2.3:5000"))
    assert not policy.permits(dest("http://11.1.2.3:5000"))
    assert policy.permits(dest("https://models.example"))
    assert not policy.permits(dest("http://models.example"))  # port 80, not 443
    assert policy.permits(dest("http://[::1]:9000/"))
    assert EgressPolicy("local-only", ("loopback",)).permits(dest("http://localhost:1234"))
    assert not EgressPolicy("local-only").permits(dest("http://127.0.0.1:1"))
    assert EgressPolicy().permits(dest("https://anything.example"))


def test_local_allowlist_takes_only_loopback_endpoints() -> None:
    entries = local_allowlist(["http://127.0.0.1:8000/v1", "http://10.0.0.5:8265", None,
                              "localhost:11434"], ["models.corp"])
    assert entries == ("models.corp", "127.0.0.1:8000", "localhost:11434")


async def test_a_redirect_to_a_refused_destination_is_stopped_and_logged(
    servers: tuple[FixtureServer, FixtureServer],
) -> None:
    allowed, other = servers
    sink = ListSink()
    policy = EgressPolicy("local-only", (f"127.0.0.1:{allowed.port}",))
    with gate_active(EgressGate(policy, sink, "s1")):
        async with httpx.AsyncClient(follow_redirects=True) as client:
            assert (await client.get(f"{allowed.url}/ok")).json() == {"ok": True}
            with pytest.raises(EgressRefused, match="local-only refused"):
                await client.get(f"{allowed.url}/redirect")
    assert other.requests == []  # the hop never left
    assert [(r.destination.port, r.allowed, r.status) for r in sink.records] == [
        (allowed.port, True, 200), (allowed.port, True, 302), (other.port, False, None)]


async def test_requests_from_worker_threads_are_gated(
    servers: tuple[FixtureServer, FixtureServer],
) -> None:
    """Synchronous clients (huggingface_hub's) run in worker threads: same gate."""
    allowed, other = servers
    sink = ListSink()
    policy = EgressPolicy("local-only", (f"127.0.0.1:{allowed.port}",))

    def blocking() -> str:
        with httpx.Client() as client:
            client.get(f"{allowed.url}/ok")
            try:
                client.get(f"{other.url}/steal")
            except EgressRefused as exc:
                return str(exc)
        return "sent"

    with gate_active(EgressGate(policy, sink, "s1")), egress_purpose("hub lookup"):
        outcome = await asyncio.to_thread(blocking)
    assert "refused hub lookup" in outcome and other.requests == []
    assert [(r.purpose, r.allowed) for r in sink.records] == [("hub lookup", True),
                                                             ("hub lookup", False)]


async def test_streamed_uploads_are_counted_to_the_byte(
    servers: tuple[FixtureServer, FixtureServer],
) -> None:
    allowed, _ = servers
    sink = ListSink()
    chunks = [b"a" * 1000, b"b" * 2345, b"c"]

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    with gate_active(EgressGate(EgressPolicy(), sink, "s1")), \
            egress_purpose("push", "upload", files=["model.bin"]):
        async with httpx.AsyncClient() as client:
            await client.post(f"{allowed.url}/upload", content=body(),
                              headers={"Content-Length": "3346"})
    [record] = sink.records
    assert record.bytes_sent == 3346 == len(allowed.requests_to("/upload")[0].body)
    assert (record.kind, record.detail) == ("upload", {"files": ["model.bin"]})


async def test_outside_a_session_nothing_is_gated(
    servers: tuple[FixtureServer, FixtureServer],
) -> None:
    _allowed, other = servers
    sink = ListSink()
    gate = EgressGate(EgressPolicy("local-only"), sink, "s1")
    with gate_active(gate):
        pass
    async with httpx.AsyncClient() as client:
        await client.get(f"{other.url}/x")
    assert sink.records == [] and len(other.requests) == 1


async def test_secret_query_parameters_are_not_logged(
    servers: tuple[FixtureServer, FixtureServer],
) -> None:
    allowed, _ = servers
    sink = ListSink()
    with gate_active(EgressGate(EgressPolicy(), sink, "s1")):
        async with httpx.AsyncClient() as client:
            await client.get(f"{allowed.url}/ok", params={"q": "widgets",
                                                          "api_key": "sk-abcdef123456"})
    [record] = sink.records
    assert record.target == "/ok?q=widgets&api_key=%5BREDACTED%5D"


def test_background_threads_of_the_one_running_session_are_gated(
    servers: tuple[FixtureServer, FixtureServer],
) -> None:
    """An integration's own thread (threading.Thread: no inherited context) is covered
    by the gate of the session running in this process."""
    import threading

    _allowed, other = servers
    sink = ListSink()
    outcome: list[str] = []

    def send() -> None:
        try:
            httpx.get(f"{other.url}/webhook")
            outcome.append("sent")
        except EgressRefused:
            outcome.append("refused")

    with gate_active(EgressGate(EgressPolicy("local-only"), sink, "s1")):
        worker = threading.Thread(target=send)
        worker.start()
        worker.join()
    assert outcome == ["refused"] and other.requests == []
    assert [(r.destination.port, r.allowed) for r in sink.records] == [(other.port, False)]
