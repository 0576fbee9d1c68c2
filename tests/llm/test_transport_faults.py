"""Broken HTTP 200s and dead endpoints, through the scripted server's fault injection and
the real client (LiteLLM's openai provider over a socket)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest

from openintern.llm.client import LiteLLMClient
from openintern.llm.errors import LLMUnavailable
from openintern.llm.scripted import ScriptedServer
from openintern.llm.types import Message, ModelReply, RetryNotice, StreamItem

USER = [{"role": "user", "content": "Train a classifier on digits."}]
HISTORY = [Message(role="user", content="Train a classifier on digits.")]
TEXT = "The random forest reaches 0.973 validation accuracy with 300 trees."


def post(server: ScriptedServer, **body: Any) -> httpx.Response:
    body.setdefault("model", "scripted")
    body.setdefault("messages", USER)
    return httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10)


async def collect(client: LiteLLMClient) -> list[StreamItem]:
    return [item async for item in client.stream(HISTORY)]


def client_for(server: ScriptedServer, **options: Any) -> LiteLLMClient:
    options.setdefault("retry_base_delay_s", 0.01)
    return LiteLLMClient("openai/scripted", api_base=server.base_url, api_key="t", **options)


# --- the server side: what each fault puts on the wire ----------------------------------


def test_non_json_fault_is_a_200_html_page_then_the_reply(scripted: Any) -> None:
    server = scripted([{"text": TEXT, "fault": {"kind": "non_json"}}])
    for stream in (True, False):
        r = post(server, stream=stream)
        assert r.status_code == 200 and r.headers["content-type"] == "text/html"
        with pytest.raises(ValueError):
            json.loads(r.text)
        assert server.steps_used == 0
        server._faults_served.clear()  # the same fault again, the other way
    server._faults_served[0] = 1
    assert post(server).json()["choices"][0]["message"]["content"] == TEXT
    assert server.steps_used == 1


def test_no_choices_fault_sends_completion_objects_without_choices(scripted: Any) -> None:
    server = scripted([{"text": TEXT, "fault": {"kind": "no_choices", "times": 2}}])
    plain = post(server).json()
    assert plain["object"] == "chat.completion" and "choices" not in plain
    streamed = post(server, stream=True)
    events = [line.removeprefix("data: ") for line in streamed.text.splitlines()
              if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and "choices" not in json.loads(events[0])
    assert post(server).json()["choices"][0]["message"]["content"] == TEXT


def test_truncated_stream_fault_ends_cleanly_after_the_first_chunks(scripted: Any) -> None:
    server = scripted([{"text": TEXT, "fault": {"kind": "truncated_stream"}}])
    r = post(server, stream=True)  # a clean end of body: no protocol error to notice
    events = [json.loads(line.removeprefix("data: ")) for line in r.text.splitlines()
              if line.startswith("data: ")]
    assert len(events) == 2 and "[DONE]" not in r.text
    assert all(e["choices"][0]["finish_reason"] is None for e in events)
    assert events[1]["choices"][0]["delta"]["content"] == TEXT[:24]
    assert server.steps_used == 0


def test_fault_recorded_with_its_kind(scripted: Any, tmp_path: Any) -> None:
    record = tmp_path / "requests.jsonl"
    server = scripted([{"text": TEXT, "fault": {"kind": "non_json"}}], record_path=record)
    post(server)
    post(server)
    kinds = [json.loads(line)["kind"] for line in record.read_text().splitlines()]
    assert kinds == ["fault", "step"]


# --- the client side: every broken 200 is retried, never taken as an answer --------------


@pytest.mark.parametrize("kind", ["non_json", "no_choices", "truncated_stream"])
async def test_broken_200_is_retried_not_taken_as_the_answer(scripted: Any, kind: str) -> None:
    server = scripted([{"text": TEXT, "fault": {"kind": kind, "times": 2}}])
    items = await collect(client_for(server))
    notices = [i for i in items if isinstance(i, RetryNotice)]
    assert [n.attempt for n in notices] == [1, 2]
    assert all(0 < n.delay_s <= 0.01 * 2 ** (n.attempt - 1) for n in notices)  # backoff
    reply = items[-1]
    assert isinstance(reply, ModelReply)
    assert reply.text == TEXT and reply.finish_reason == "stop" and reply.retries == 2
    assert len(server.requests) == 3


async def test_broken_200s_that_never_stop_exhaust_the_retries(scripted: Any) -> None:
    server = scripted([{"text": TEXT, "fault": {"kind": "non_json", "times": 10}}])
    with pytest.raises(LLMUnavailable) as info:
        await collect(client_for(server, max_retries=2))
    assert "without a usable reply" in info.value.last_reason
    assert len(server.requests) == 3


async def test_an_empty_but_finished_reply_is_passed_on(scripted: Any) -> None:
    # Well-formed on the wire (finish_reason "stop"): the loop, not the client, decides
    # what an empty answer means.
    server = scripted([{"text": ""}])
    items = await collect(client_for(server))
    assert not any(isinstance(i, RetryNotice) for i in items)
    reply = items[-1]
    assert isinstance(reply, ModelReply) and reply.text == "" and reply.finish_reason == "stop"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_refused_connection_is_named_and_not_retried_for_a_minute() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    # The production defaults: 6 retries, backoff from 1 s up to 60 s.
    client = LiteLLMClient("openai/scripted", api_base=url, api_key="t")
    started = time.monotonic()
    with pytest.raises(LLMUnavailable) as info:
        await collect(client)
    elapsed = time.monotonic() - started
    message = str(info.value)
    assert f"cannot connect to {url} (connection refused)" in message
    assert "HTTP 500" not in message and "InternalServerError" not in message
    assert info.value.attempts <= 2 and elapsed < 10
