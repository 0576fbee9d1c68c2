"""The scripted server over real HTTP: OpenAI wire format, script features, recording."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from openintern.llm.markers import SUMMARY_REQUEST_MARKER
from openintern.llm.script import Script, ScriptError, Step
from openintern.llm.scripted import FINISHED_TEXT, ScriptedServer
from openintern.llm.tokens import estimate_request_tokens

USER = [{"role": "user", "content": "Train a classifier on digits."}]


def post(server: ScriptedServer, **body: Any) -> httpx.Response:
    body.setdefault("model", "scripted")
    body.setdefault("messages", USER)
    return httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10)


def sse_chunks(response: httpx.Response) -> list[dict[str, Any] | str]:
    """Parse an SSE body into chunk objects, keeping the final ``[DONE]`` as a string."""
    out: list[dict[str, Any] | str] = []
    for line in response.text.split("\n"):
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_non_stream_reply_is_a_chat_completion(scripted: Any) -> None:
    server = scripted([{"text": "Hello there."}])
    r = post(server)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello there."}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == estimate_request_tokens(USER)
    assert body["usage"]["completion_tokens"] == 3  # 12 chars at 4 chars/token
    assert server.steps_used == 1


def test_stream_sends_chunks_finish_usage_and_done(scripted: Any) -> None:
    text = "A fairly long answer that spans several streamed chunks."
    server = scripted([{"text": text}])
    r = post(server, stream=True, stream_options={"include_usage": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    chunks = sse_chunks(r)
    assert chunks[-1] == "[DONE]"
    objects = [c for c in chunks if isinstance(c, dict)]
    assert all(c["object"] == "chat.completion.chunk" for c in objects)
    streamed = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in objects if c["choices"]
    )
    assert streamed == text
    assert len([c for c in objects if c["choices"] and c["choices"][0]["delta"].get("content")]) > 1
    finishes = [c["choices"][0]["finish_reason"] for c in objects if c["choices"]]
    assert finishes[-1] == "stop"
    assert objects[-1]["choices"] == []
    assert objects[-1]["usage"]["prompt_tokens"] == estimate_request_tokens(USER)


def test_stream_without_include_usage_has_no_usage_chunk(scripted: Any) -> None:
    server = scripted([{"text": "hi"}])
    objects = [c for c in sse_chunks(post(server, stream=True)) if isinstance(c, dict)]
    assert all("usage" not in c for c in objects)


def test_parallel_tool_calls_and_raw_malformed_arguments(scripted: Any) -> None:
    calls = [
        {"name": "shell", "arguments": {"command": "ls -la /workspace/data"}, "id": "call_a"},
        {"name": "read_file", "arguments": '{"path": "train.py", '},  # deliberately broken
    ]
    server = scripted([{"text": "Looking.", "tool_calls": calls}] * 2)
    # Streaming: deltas by index, arguments split over several chunks.
    objects = [c for c in sse_chunks(post(server, stream=True)) if isinstance(c, dict)]
    by_index: dict[int, dict[str, str]] = {}
    for c in objects:
        for tc in (c["choices"][0]["delta"].get("tool_calls") or []) if c["choices"] else []:
            entry = by_index.setdefault(tc["index"], {"id": "", "name": "", "args": ""})
            entry["id"] += tc.get("id") or ""
            entry["name"] += tc.get("function", {}).get("name") or ""
            entry["args"] += tc.get("function", {}).get("arguments") or ""
    assert by_index[0] == {
        "id": "call_a",
        "name": "shell",
        "args": json.dumps({"command": "ls -la /workspace/data"}),
    }
    assert by_index[1]["name"] == "read_file"
    assert by_index[1]["args"] == '{"path": "train.py", '
    assert by_index[1]["id"].startswith("call_")
    assert objects[-1]["choices"][0]["finish_reason"] == "tool_calls"
    # Non-streaming: the same calls in one message.
    message = post(server).json()["choices"][0]["message"]
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["shell", "read_file"]
    assert message["tool_calls"][1]["function"]["arguments"] == '{"path": "train.py", '


def test_context_window_rejects_larger_prompts_and_records_them(
    scripted: Any, tmp_path: Path
) -> None:
    record = tmp_path / "requests.jsonl"
    server = scripted([{"text": "fits"}], context_window=50, record_path=record)
    big = [{"role": "user", "content": "x" * 400}]
    r = post(server, messages=big)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "context_length_exceeded"
    assert "maximum context length" in r.json()["error"]["message"]
    assert server.steps_used == 0  # a rejected request consumes no step
    assert post(server).json()["choices"][0]["message"]["content"] == "fits"
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(x["status"], x["kind"]) for x in lines] == [(400, "context_exceeded"), (200, "step")]
    assert lines[0]["body"]["messages"] == big
    assert lines[1]["step"] == 0
    assert len(server.requests) == 2


def test_exhausted_script_says_finished(scripted: Any) -> None:
    server = scripted([{"text": "only step"}])
    post(server)
    body = post(server).json()
    assert body["choices"][0]["message"]["content"] == FINISHED_TEXT
    assert "tool_calls" not in body["choices"][0]["message"]
    assert server.steps_used == 1


def test_summary_request_answered_without_consuming_a_step(scripted: Any) -> None:
    server = scripted([{"text": "step one"}])
    history = [
        {"role": "system", "content": "You are a researcher."},
        {"role": "user", "content": "Find the best classifier."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "shell", "arguments": '{"command": "python train.py"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "accuracy 0.97"},
        {"role": "user", "content": f"Summarise the above. {SUMMARY_REQUEST_MARKER}"},
    ]
    first = post(server, messages=history).json()["choices"][0]["message"]["content"]
    again = post(server, messages=history).json()["choices"][0]["message"]["content"]
    assert first == again  # deterministic
    assert "Summary of 3 earlier messages" in first
    assert "shell x1" in first and "accuracy 0.97" in first
    assert server.steps_used == 0
    assert post(server).json()["choices"][0]["message"]["content"] == "step one"


def test_failing_summaries_return_500(scripted: Any) -> None:
    server = scripted([{"text": "step one"}], fail_summaries=True)
    r = post(server, messages=[{"role": "user", "content": SUMMARY_REQUEST_MARKER}])
    assert r.status_code == 500
    assert server.steps_used == 0


def test_error_step_repeats_then_replies_with_retry_after_header(scripted: Any) -> None:
    server = scripted([{"error": {"status": 429, "retry_after": 1.5, "times": 2}, "text": "ok"}])
    for _ in range(2):
        r = post(server)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1.5"
        assert r.headers["retry-after-ms"] == "1500"
        assert r.json()["error"]["code"] == "rate_limit_exceeded"
    assert post(server).json()["choices"][0]["message"]["content"] == "ok"


def test_cut_stream_drops_connection_once(scripted: Any) -> None:
    server = scripted([{"text": "0123456789abcdef", "cut_after_chars": 6}])
    with pytest.raises(httpx.RemoteProtocolError):
        post(server, stream=True)
    assert server.steps_used == 0
    objects = [c for c in sse_chunks(post(server, stream=True)) if isinstance(c, dict)]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in objects) == (
        "0123456789abcdef"
    )


def test_callable_responder_sees_body_and_index(scripted: Any) -> None:
    seen: list[int] = []

    def respond(body: dict[str, Any], index: int) -> Step | None:
        seen.append(index)
        return None if index >= 3 else Step(text=f"reply {index} to {len(body['messages'])}")

    server = scripted(respond)
    texts = [post(server).json()["choices"][0]["message"]["content"] for _ in range(4)]
    assert texts == ["reply 0 to 1", "reply 1 to 1", "reply 2 to 1", FINISHED_TEXT]
    assert seen == [0, 1, 2, 3]


def test_cached_tokens_count_the_repeated_prefix(scripted: Any) -> None:
    server = scripted([{"text": "a"}, {"text": "b"}])
    first = [{"role": "system", "content": "s" * 40}, {"role": "user", "content": "u" * 40}]
    second = [*first, {"role": "assistant", "content": "a"}, {"role": "user", "content": "more"}]
    assert post(server, messages=first).json()["usage"]["prompt_tokens_details"] == {
        "cached_tokens": 0
    }
    usage = post(server, messages=second).json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == estimate_request_tokens(first)


def test_models_endpoint_and_bad_requests(scripted: Any) -> None:
    server = scripted([])
    models = httpx.get(f"{server.base_url}/models").json()
    assert models["data"][0]["id"] == "scripted"
    bad = httpx.post(f"{server.base_url}/chat/completions", content=b"{not json")
    assert bad.status_code == 400
    assert httpx.post(f"{server.base_url}/nowhere", json={}).status_code == 404
    assert post(server, messages="not a list").status_code == 400


def test_script_load_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="cannot read"):
        Script.load(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"steps": [')
    with pytest.raises(ScriptError, match="not valid JSON"):
        Script.load(broken)
    typo = tmp_path / "typo.json"
    typo.write_text('{"steps": [{"txt": "hello"}]}')
    with pytest.raises(ScriptError, match="txt"):
        Script.load(typo)
    good = tmp_path / "good.json"
    good.write_text('{"steps": [{"text": "hi", "tool_calls": [{"name": "x", "arguments": "{"}]}]}')
    assert Script.load(good).steps[0].tool_calls[0].arguments_text() == "{"


def test_standalone_command_serves_a_script(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"steps": [{"text": "from the command line"}]}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "openintern.llm.scripted", "--script", str(script)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        r = httpx.post(
            f"{base_url}/chat/completions", json={"model": "m", "messages": USER}, timeout=10
        )
        assert r.json()["choices"][0]["message"]["content"] == "from the command line"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_standalone_command_rejects_a_bad_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    proc = subprocess.run(
        [sys.executable, "-m", "openintern.llm.scripted", "--script", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "does not match the format" in proc.stderr
