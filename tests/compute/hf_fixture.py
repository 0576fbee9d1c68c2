"""A stand-in Hugging Face Jobs API on 127.0.0.1 (stdlib ThreadingHTTPServer in a thread).

Formats, and where they come from:
- ``GET /api/jobs/hardware``: the recorded body in ``tests/fixtures/hf_jobs/
  jobs_hardware_first_entry_only.json`` (real, first entry only), unless a test replaces it.
- Job bodies (``JobInfo``), the SSE log stream (``data: {"timestamp": ..., "data": ...}``
  lines, the first being ``===== Job started ...``), the list, cancel and whoami endpoints:
  no recording exists (see SOURCES.md); their shapes follow what ``huggingface_hub``'s
  ``HfApi.run_job/inspect_job/fetch_job_logs/cancel_job/list_jobs/whoami`` send and parse.
- Errors: the Hub's ``{"error": "..."}`` JSON body, which the client's error formatter reads.

Each job walks through ``stages`` one step per inspect call (the last one sticks).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hf_jobs"


def recorded_hardware() -> list[dict[str, Any]]:
    """The real ``/api/jobs/hardware`` excerpt."""
    body: list[dict[str, Any]] = json.loads(
        (FIXTURES / "jobs_hardware_first_entry_only.json").read_text()
    )
    return body


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeJob:
    """A job the server knows: its spec as sent, scripted stages and log lines."""

    id: str
    spec: dict[str, Any]
    stages: list[tuple[str, str | None]]
    log_lines: list[str]
    inspections: int = 0
    cancelled: bool = False

    def stage(self) -> tuple[str, str | None]:
        if self.cancelled:
            return ("CANCELED", None)
        return self.stages[min(self.inspections, len(self.stages) - 1)]


@dataclass
class HfJobsFixture:
    """State shared with the handler; tests script jobs and failures through it."""

    user: str = "alice"
    hardware: list[dict[str, Any]] = field(default_factory=recorded_hardware)
    next_stages: list[tuple[str, str | None]] = field(
        default_factory=lambda: [("SCHEDULING", None), ("RUNNING", None), ("COMPLETED", None)]
    )
    next_logs: list[str] = field(default_factory=lambda: ["hello"])
    # path prefix -> (status, JSON body): answers every matching request with an error.
    failures: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    # path -> absolute URL: answers with a 307 redirect.
    redirects: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def job_info(self, job: FakeJob) -> dict[str, Any]:
        stage, message = job.stage()
        started = stage != "SCHEDULING"
        finished = stage in ("COMPLETED", "CANCELED", "ERROR", "DELETED")
        spec = job.spec
        return {
            "id": job.id,
            "createdAt": "2026-10-05T10:00:00.000Z",
            "startedAt": "2026-10-05T10:00:06.000Z" if started else None,
            "finishedAt": "2026-10-05T10:03:06.000Z" if finished else None,
            "dockerImage": spec.get("dockerImage"),
            "command": spec.get("command"),
            "arguments": spec.get("arguments", []),
            "environment": spec.get("environment", {}),
            "flavor": spec.get("flavor"),
            "labels": spec.get("labels"),
            "status": {"stage": stage, "message": message},
            "owner": {"id": "5e9ecfc04957053f60648a3e", "name": self.user, "type": "user"},
        }


class _Handler(BaseHTTPRequestHandler):
    fixture: HfJobsFixture

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        fx = self.fixture
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        with fx.lock:
            fx.requests.append(Recorded(method, url.path, parse_qs(url.query), headers, body))
        for prefix, (status, err) in fx.failures.items():
            if url.path.startswith(prefix):
                return self._send(status, err)
        if url.path in fx.redirects:
            self.send_response(307)
            self.send_header("Location", fx.redirects[url.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        parts = [p for p in url.path.split("/") if p]
        if parts == ["api", "whoami-v2"]:
            return self._send(200, {"type": "user", "name": fx.user})
        if parts == ["api", "jobs", "hardware"]:
            return self._send(200, fx.hardware)
        if len(parts) == 3 and parts[:2] == ["api", "jobs"]:
            if method == "POST":
                return self._create(body or {})
            labels = dict(v.split("=", 1) for v in parse_qs(url.query).get("label", []))
            listed = [fx.job_info(j) for j in fx.jobs.values()
                      if all((j.spec.get("labels") or {}).get(k) == v for k, v in labels.items())]
            return self._send(200, listed)
        if len(parts) >= 4 and parts[:2] == ["api", "jobs"] and parts[3] in fx.jobs:
            job = fx.jobs[parts[3]]
            if len(parts) == 4:
                info = fx.job_info(job)
                job.inspections += 1
                return self._send(200, info)
            if parts[4:] == ["cancel"] and method == "POST":
                job.cancelled = True
                return self._send(200, b"", "text/plain")
            if parts[4:] == ["logs"]:
                return self._logs(job, parse_qs(url.query).get("tail"))
        return self._send(404, {"error": f"no route for {method} {url.path}"})

    def _create(self, spec: dict[str, Any]) -> None:
        fx = self.fixture
        with fx.lock:
            job_id = f"68e2{len(fx.jobs):020x}"
            job = FakeJob(job_id, spec, list(fx.next_stages), list(fx.next_logs))
            fx.jobs[job_id] = job
        self._send(200, fx.job_info(job))

    def _logs(self, job: FakeJob, tail: list[str] | None) -> None:
        lines = ["===== Job started at 2026-10-05 10:00:06 =====", *job.log_lines]
        if tail:
            lines = lines[-int(tail[0]):]
        stamp = datetime(2026, 10, 5, 10, 0, 7, tzinfo=UTC).isoformat()
        events = "".join(
            f"data: {json.dumps({'timestamp': stamp, 'data': line})}\n\n" for line in lines
        )
        # A streamed body without a length, closed when done (as a finished job's stream is).
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b": keep-alive\n\n" + events.encode())
        self.close_connection = True

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


class HfJobsServer:
    """Starts the fixture on a free 127.0.0.1 port; ``url`` is its base."""

    def __init__(self, fixture: HfJobsFixture | None = None, host: str = "127.0.0.1") -> None:
        self.fixture = fixture or HfJobsFixture()
        handler = type("Handler", (_Handler,), {"fixture": self.fixture})
        self._server = ThreadingHTTPServer((host, 0), handler)
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> HfJobsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
