"""A real HTTP server speaking the OpenAI chat-completions protocol, answering from a script.

Tests, benchmarks and ``intern demo`` drive the whole stack (LiteLLM included) through it,
so nothing about the model layer is faked: requests go over a socket on 127.0.0.1 and
replies are exactly the OpenAI wire format (``chat.completion`` objects, or server-sent
``chat.completion.chunk`` events ending in ``data: [DONE]``).

Script format (full description in ``docs/scripted-server.md`` and ``script.py``): a JSON
file ``{"steps": [Step, ...]}``; a step has optional ``text``, ``tool_calls`` (name,
arguments as an object or a raw, possibly malformed, string, optional id), ``error``
(status, message, retry_after, times), ``fault`` (kind, times: a broken HTTP 200),
``cut_after_chars``, ``delay_s``, ``finish_reason``::

    {"steps": [
      {"text": "Let me look.", "tool_calls": [{"name": "shell", "arguments": {"command": "ls"}}]},
      {"error": {"status": 429, "retry_after": 0.1, "times": 2}, "text": "after two 429s"},
      {"text": "a long answer", "cut_after_chars": 5},
      {"tool_calls": [{"name": "shell", "arguments": "{not json"}]},
      {"text": "Done."}
    ]}

Behaviour:

- Every request's prompt is counted with ``estimate_request_tokens`` (the harness's own
  estimator); with ``context_window`` set, a larger prompt gets the OpenAI
  ``context_length_exceeded`` HTTP 400, and is recorded, so tests can prove the request
  never exceeds the window.
- A request whose last message contains ``SUMMARY_REQUEST_MARKER`` gets a deterministic
  summary built from its messages, without consuming a step (HTTP 500 instead when
  ``fail_summaries`` is set, to test the fallback).
- An exhausted script answers ``(scripted session finished)`` with no tool calls.
- A callable responder ``(request_body, call_index) -> Step | None`` may replace the
  script; ``call_index`` is the number of steps completed so far, so retries of a failed
  step see the same index. ``None`` means the session is finished.
- ``usage.prompt_tokens_details.cached_tokens`` counts the leading messages identical to
  the previous request's, mimicking provider prefix caching.
- ``record_path`` gets one JSON line per request: body, status, step index.

Run standalone: ``python -m openintern.llm.scripted --script FILE [--port N]
[--context-window N] [--record FILE]``.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from openintern.llm.markers import SUMMARY_REQUEST_MARKER
from openintern.llm.openai_wire import (
    NON_JSON_BODY,
    WireReply,
    completion_body,
    error_reply,
    message_text,
    no_choices_body,
    stream_events,
)
from openintern.llm.script import Script, ScriptError, Step
from openintern.llm.tokens import (
    estimate_openai_message_tokens,
    estimate_request_tokens,
    estimate_tokens,
)

Responder = Callable[[dict[str, Any], int], Step | None]

FINISHED_TEXT = "(scripted session finished)"


def is_summary_request(messages: list[dict[str, Any]]) -> bool:
    """Whether the last message carries the summarisation marker."""
    return bool(messages) and SUMMARY_REQUEST_MARKER in message_text(messages[-1])


def deterministic_summary(messages: list[dict[str, Any]]) -> str:
    """A reproducible summary of a summarisation request's earlier messages."""
    earlier = [m for m in messages[:-1] if m.get("role") != "system"]
    calls: Counter[str] = Counter()
    for m in earlier:
        for call in m.get("tool_calls") or []:
            calls[str(call.get("function", {}).get("name", "?"))] += 1
    results = [m for m in earlier if m.get("role") == "tool"][-3:]
    calls_text = ", ".join(f"{name} x{n}" for name, n in calls.items()) or "none"
    results_text = " | ".join(" ".join(message_text(m).split())[:160] for m in results) or "none"
    task = next((message_text(m) for m in earlier if m.get("role") == "user"), "")
    task_text = " ".join(task.split())[:200]
    return (
        f"Summary of {len(earlier)} earlier messages: task: {task_text or 'unknown'}; "
        f"tool calls made: {calls_text}; last results: {results_text}"
    )


class ScriptedServer:
    """An OpenAI-compatible chat-completions server on 127.0.0.1 that replays a script."""

    def __init__(
        self,
        script: Script | Responder,
        *,
        context_window: int | None = None,
        record_path: Path | None = None,
        fail_summaries: bool = False,
        port: int = 0,
    ) -> None:
        self._script = script
        self.context_window = context_window
        self.record_path = record_path
        self.fail_summaries = fail_summaries
        self._port = port
        self.requests: list[dict[str, Any]] = []
        self.steps_used = 0
        self._errors_served: Counter[int] = Counter()
        self._faults_served: Counter[int] = Counter()
        self._cuts_served: set[int] = set()
        self._previous_messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Body bytes of every POST received, in order (what the egress log must match).
        self.received_body_bytes: list[int] = []

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> ScriptedServer:
        """Bind (port 0 picks a free one) and serve in a daemon thread."""
        handler = _make_handler(self)
        self._httpd = _QuietServer(("127.0.0.1", self._port), handler)
        self._httpd.daemon_threads = True
        # A short poll interval makes stop() quick (shutdown waits for the next poll).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="scripted-llm",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        if self._httpd is None:
            raise RuntimeError("ScriptedServer is not started; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI base URL to give a client, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # --- decisions -----------------------------------------------------------------------
    def _next_step(self, body: dict[str, Any], index: int) -> Step | None:
        if isinstance(self._script, Script):
            return self._script.steps[index] if index < len(self._script.steps) else None
        return self._script(body, index)

    def decide(self, body: dict[str, Any]) -> tuple[WireReply, dict[str, Any]]:
        """Choose the reply to one request and account its usage (thread-safe)."""
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            reply = error_reply(400, "'messages' must be a list of message objects")
            with self._lock:
                self._record(body, reply)
            return reply, {}
        tools = body.get("tools") if isinstance(body.get("tools"), list) else None
        prompt_tokens = estimate_request_tokens(messages, tools)
        with self._lock:
            cached = 0
            for new, old in zip(messages, self._previous_messages, strict=False):
                if new != old:
                    break
                cached += estimate_openai_message_tokens(new)
            self._previous_messages = messages
            if self.context_window is not None and prompt_tokens > self.context_window:
                reply = error_reply(
                    400,
                    f"This model's maximum context length is {self.context_window} tokens. "
                    f"However, your messages resulted in {prompt_tokens} tokens.",
                    code="context_length_exceeded",
                )
                reply.kind = "context_exceeded"
            elif is_summary_request(messages):
                if self.fail_summaries:
                    reply = error_reply(500, "scripted failure of a summary request")
                else:
                    reply = WireReply(200, text=deterministic_summary(messages))
                reply.kind = "summary"
            else:
                reply = self._step_reply(body, self.steps_used)
            self._record(body, reply)
        completion = estimate_tokens(reply.text) + sum(
            estimate_tokens(c["name"]) + estimate_tokens(c["arguments"]) for c in reply.tool_calls
        )
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
        return reply, usage

    def _step_reply(self, body: dict[str, Any], index: int) -> WireReply:
        # Called with the lock held: error and cut counters must not race.
        step = self._next_step(body, index)
        if step is None:
            return WireReply(200, text=FINISHED_TEXT, kind="finished")
        if step.error is not None and self._errors_served[index] < step.error.times:
            self._errors_served[index] += 1
            reply = error_reply(step.error.status, step.error.message)
            reply.retry_after = step.error.retry_after
            reply.step, reply.delay_s = index, step.delay_s
            return reply
        if step.fault is not None and self._faults_served[index] < step.fault.times:
            self._faults_served[index] += 1
            return WireReply(200, text=step.text, fault=step.fault.kind, kind="fault",
                             step=index, delay_s=step.delay_s)
        calls = [
            {
                "id": c.id or f"call_{uuid.uuid4().hex[:24]}",
                "name": c.name,
                "arguments": c.arguments_text(),
            }
            for c in step.tool_calls
        ]
        reply = WireReply(
            200,
            text=step.text,
            tool_calls=calls,
            finish_reason=step.effective_finish_reason(),
            delay_s=step.delay_s,
            step=index,
        )
        cut = step.cut_after_chars
        if body.get("stream") and cut is not None and index not in self._cuts_served:
            self._cuts_served.add(index)
            reply.cut_after_chars = step.cut_after_chars
            reply.kind = "cut"
            return reply
        self.steps_used += 1
        return reply

    def _record(self, body: dict[str, Any], reply: WireReply) -> None:
        self.requests.append(body)
        if self.record_path is None:
            return
        line = {"body": body, "status": reply.status, "step": reply.step, "kind": reply.kind}
        with self.record_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a retrying or killed agent) is no server error: no
    traceback on stderr for it; any other failure is still printed."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _make_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 so streams use chunked encoding, like real providers: a dropped
        # connection is then a protocol error the client sees, not a clean end of body.
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the per-request stderr log."""

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                data = {
                    "object": "list",
                    "data": [
                        {
                            "id": "scripted",
                            "object": "model",
                            "created": 0,
                            "owned_by": "openintern",
                        }
                    ],
                }
                self._send_json(200, data)
            else:
                self._send_json(404, error_reply(404, f"no route {self.path}").error or {})

        def do_POST(self) -> None:
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._send_json(404, error_reply(404, f"no route {self.path}").error or {})
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            with server._lock:
                server.received_body_bytes.append(len(raw))
            try:
                body = json.loads(raw)
                if not isinstance(body, dict):
                    raise ValueError("body is not an object")
            except ValueError:
                reply = error_reply(400, "request body is not a JSON object")
                self._send_json(400, reply.error or {})
                return
            try:
                reply, usage = server.decide(body)
            except Exception as exc:  # a broken responder: say so, as a real server would
                failed = error_reply(500, f"scripted responder failed: {type(exc).__name__}: {exc}")
                self._send_json(500, failed.error or {})
                return
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.error is not None:
                headers = {}
                if reply.retry_after is not None:
                    headers["retry-after"] = f"{reply.retry_after:g}"
                    headers["retry-after-ms"] = str(int(reply.retry_after * 1000))
                self._send_json(reply.status, reply.error, headers)
            elif reply.fault is not None:
                self._send_fault(body, reply, usage)
            elif body.get("stream"):
                options = body.get("stream_options") or {}
                self._send_stream(body, reply, usage if options.get("include_usage") else None)
            else:
                self._send_json(200, completion_body(body, reply, usage))

        def _send_json(
            self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def _send_bytes(self, content_type: str, payload: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _send_fault(self, body: dict[str, Any], reply: WireReply,
                        usage: dict[str, Any]) -> None:
            """A broken HTTP 200 (see ``ScriptedFault``)."""
            streaming = bool(body.get("stream"))
            if reply.fault == "non_json":
                self._send_bytes("text/html", NON_JSON_BODY)
            elif reply.fault == "no_choices" and not streaming:
                self._send_json(200, no_choices_body(body, usage))
            elif reply.fault == "no_choices":
                self._start_stream()
                self._write_chunk(f"data: {json.dumps(no_choices_body(body, usage))}\n\n".encode())
                self._write_chunk(b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
            elif streaming:  # truncated_stream: the first chunks, then a clean end of body
                # The role chunk and the first piece of text: what a proxy that cut the
                # upstream passes on before it ends the response as if it were complete.
                first = [e for e in stream_events(body, reply, None)[:2] if e is not None]
                self._start_stream()
                for event in first:
                    self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.write(b"0\r\n\r\n")
            else:  # truncated_stream, not streaming: half a JSON body
                whole = json.dumps(completion_body(body, reply, usage)).encode()
                self._send_bytes("application/json", whole[: len(whole) // 2])

        def _start_stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

        def _write_chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        def _send_stream(
            self, body: dict[str, Any], reply: WireReply, usage: dict[str, Any] | None
        ) -> None:
            self._start_stream()
            for event in stream_events(body, reply, usage):
                if event is None:  # the scripted cut: drop the connection mid-body
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self._write_chunk(f"data: {json.dumps(event)}\n\n".encode())
            self._write_chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    """Serve a script file until Ctrl+C."""
    parser = argparse.ArgumentParser(
        prog="python -m openintern.llm.scripted",
        description="OpenAI-compatible chat-completions server answering from a script.",
    )
    parser.add_argument("--script", required=True, type=Path, help="JSON script file")
    parser.add_argument("--port", type=int, default=0, help="port (0 = any free port)")
    parser.add_argument("--context-window", type=int, default=None, help="reject larger prompts")
    parser.add_argument("--record", type=Path, default=None, help="append requests (JSONL)")
    args = parser.parse_args(argv)
    try:
        script = Script.load(args.script)
    except ScriptError as exc:
        parser.exit(2, f"error: {exc}\n")
    server = ScriptedServer(
        script, context_window=args.context_window, record_path=args.record, port=args.port
    ).start()
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
