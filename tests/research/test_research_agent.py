"""The research sub-agent end to end: a scripted model over real HTTP (LiteLLM included),
the papers tool against fixture servers, the store recording the sub-session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from fixture_server import FixtureServer
from test_papers_tool import MemoryState, servers  # noqa: F401  (fixture)

from openintern.agent.session import ResearchSession, SessionOptions
from openintern.config import Settings
from openintern.events import EventBase
from openintern.llm.script import Script, Step
from openintern.llm.scripted import ScriptedServer
from openintern.llm.tokens import estimate_request_tokens
from openintern.sandbox.base import Sandbox
from openintern.store import Store
from openintern.tools.base import ToolContext, ToolRegistry, ToolResult
from openintern.tools.research_agent import Research

PAPER = "arXiv:2401.00001"


def search(query: str = "transformer") -> dict[str, Any]:
    return {"name": "papers", "arguments": {"operation": "search", "query": query, "limit": 3}}


def read_method() -> dict[str, Any]:
    return {"name": "papers",
            "arguments": {"operation": "read", "paper": "2401.00001", "section": "method"}}


def submit(findings: list[dict[str, Any]], summary: str = "The recipe uses widget photos."
           ) -> dict[str, Any]:
    return {"name": "submit_brief", "arguments": {
        "summary": summary, "findings": findings,
        "open_questions": ["Which learning rate?"],
        "recommended_next_steps": ["Inspect the widget dataset."]}}


SOURCED = {"claim": "The method is trained on 1,000 widget photos.",
           "source": {"kind": "paper", "id_or_url": PAPER, "section": "2 Methodology"},
           "confidence": "high"}


@pytest.fixture
def settings(servers: dict[str, FixtureServer], tmp_path: Path) -> Settings:  # noqa: F811
    return Settings(
        arxiv_api_url=f"{servers['arxiv'].url}/api/query",
        arxiv_web_url=servers["arxiv"].url,
        semantic_scholar_url=servers["s2"].url,
        hf_endpoint=servers["hf"].url,
        workspace=tmp_path,
        model="openai/scripted",
        sandbox="none",
        context_window=64_000,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def client(server: ScriptedServer) -> Any:
    from openintern.llm.client import LiteLLMClient

    return LiteLLMClient("openai/scripted", api_base=server.base_url, api_key="x",
                         max_retries=0, context_window_override=64_000)


def parent_ctx(settings: Settings, store: Store, services: dict[str, Any]) -> ToolContext:
    parent = store.create_session(task="main task", model="openai/scripted",
                                  workspace=str(settings.workspace), headless=True)

    def emit(event: EventBase) -> EventBase:
        return event

    return ToolContext(settings=settings, workspace=settings.workspace,
                       sandbox=cast(Sandbox, None), state=MemoryState(),
                       session_id=parent.id, emit=emit, services=services)


async def research(ctx: ToolContext, **arguments: Any) -> ToolResult:
    tool, params = ToolRegistry([Research()]).parse("research", json.dumps(arguments))
    return await tool.run(params, ctx)


def tool_messages(store: Store, session_id: str) -> list[str]:
    return [m.content for m in store.load_messages(session_id) if m.role == "tool"]


async def test_searches_reads_a_section_and_returns_a_sourced_brief(
    settings: Settings, store: Store, servers: dict[str, FixtureServer],  # noqa: F811
) -> None:
    script = Script.from_steps([
        {"text": "Searching.", "tool_calls": [search()]},
        {"tool_calls": [read_method()]},
        {"tool_calls": [submit([SOURCED, {
            "claim": "Code is on GitHub.",
            "source": {"kind": "url", "id_or_url": "https://github.com/example/widgets"},
            "confidence": "low"}])]},
        # That URL was never opened: the brief is refused; without it, it is accepted.
        {"tool_calls": [submit([SOURCED])]},
    ])
    with ScriptedServer(script) as server:
        ctx = parent_ctx(settings, store, {"llm": client(server), "store": store})
        result = await research(ctx, question="What is the widget recipe?",
                                focus="dataset and method")
        requests = list(server.requests)
    assert result.ok
    brief = result.data
    assert brief["complete"] is True and brief["stop_reason"] == "submitted"
    assert brief["findings"][0]["source"] == {
        "kind": "paper", "id_or_url": PAPER, "section": "2 Methodology"}
    assert "1. The method is trained on 1,000 widget photos. [1] (high)" in result.text
    assert "[1] paper arXiv:2401.00001, 2 Methodology" in result.text
    assert "github.com/example/widgets" not in result.text
    refused = tool_messages(store, brief["session_id"])[2]
    assert "never appeared in anything you read" in refused
    assert "https://github.com/example/widgets" in refused
    # The model really read the section: its text was in the third request.
    assert len(requests) == 4
    assert "1,000 widget photos" in json.dumps(requests[2]["messages"])
    assert servers["arxiv"].requests_to("/html/2401.00001")
    # The run is its own recorded session, linked to the parent.
    sub = store.get_session(brief["session_id"])
    assert sub.task == "What is the widget recipe?"
    assert sub.config["parent_session"] == ctx.session_id
    assert sub.iterations == 4 and sub.prompt_tokens > 0
    assert brief["tokens_used"] == sub.prompt_tokens + sub.completion_tokens
    assert "Focus: dataset and method" in store.load_messages(sub.id)[0].content


async def test_unsourced_finding_is_rejected_then_fixed(settings: Settings,
                                                       store: Store) -> None:
    unsourced = {"claim": "Accuracy is 97%.", "confidence": "high"}
    bad_url = {**SOURCED, "source": {"kind": "url", "id_or_url": "the arxiv page"}}
    script = Script.from_steps([
        {"tool_calls": [read_method()]},
        {"tool_calls": [submit([unsourced])]},
        {"tool_calls": [submit([bad_url])]},
        {"tool_calls": [submit([SOURCED])]},
    ])
    with ScriptedServer(script) as server:
        ctx = parent_ctx(settings, store, {"llm": client(server), "store": store})
        result = await research(ctx, question="What accuracy does it reach?")
    assert result.data["complete"] is True
    assert [f["claim"] for f in result.data["findings"]] == [SOURCED["claim"]]
    errors = tool_messages(store, result.data["session_id"])[1:]
    assert "invalid arguments for submit_brief: findings.0.source: Field required" in errors[0]
    assert "a url source needs a full http(s) URL" in errors[1]
    assert errors[2].startswith("Brief received (1 findings)")


async def test_iteration_cap_returns_partial_brief_marked_incomplete(
    settings: Settings, store: Store
) -> None:
    script = Script.from_steps([
        {"text": "Looking for the landmark paper.", "tool_calls": [search()]},
        {"text": "So far: the method trains on 1,000 widget photos.",
         "tool_calls": [read_method()]},
        {"tool_calls": [submit([SOURCED])]},  # never reached
    ])
    with ScriptedServer(script) as server:
        ctx = parent_ctx(settings, store, {"llm": client(server), "store": store})
        result = await research(ctx, question="What is the widget recipe?", max_iterations=2)
        assert len(server.requests) == 2
    brief = result.data
    assert brief["complete"] is False and brief["findings"] == []
    assert brief["summary"] == "So far: the method trains on 1,000 widget photos."
    assert "iteration cap of 2 steps reached" in brief["stop_reason"]
    assert result.text.startswith("## Research brief — INCOMPLETE (iteration cap")
    assert brief["session_id"] in result.text


async def test_token_budget_stops_cleanly(settings: Settings, store: Store) -> None:
    loop_forever = Script.from_steps([{"text": f"step {i}", "tool_calls": [search(f"q{i}")]}
                                      for i in range(6)])
    with ScriptedServer(loop_forever) as server:
        ctx = parent_ctx(settings, store, {"llm": client(server), "store": store})
        probe = await research(ctx, question="What is the widget recipe?", max_iterations=1)
        first_prompt = estimate_request_tokens(server.requests[0]["messages"],
                                               server.requests[0]["tools"])
        assert probe.data["tokens_used"] >= first_prompt
        # Room for the first call and a short reply, not for a second request.
        budget = first_prompt + 300
        result = await research(ctx, question="What is the widget recipe?",
                                max_iterations=6, max_tokens=budget)
        assert len(server.requests) == 2  # one more call, then the budget stopped it
        sent_cap = server.requests[1].get("max_tokens") or server.requests[1].get(
            "max_completion_tokens")
        # The reply was capped to what the budget had left (estimates of the same prompt
        # on either side of the wire may differ by a few tokens of framing).
        assert sent_cap is not None and sent_cap <= budget - first_prompt + 10
    brief = result.data
    assert brief["complete"] is False and brief["tokens_used"] <= budget
    assert "token budget reached" in brief["stop_reason"]
    assert brief["summary"] == "step 1"


async def test_write_tools_are_unknown_to_the_sub_agent(settings: Settings, store: Store,
                                                      tmp_path: Path) -> None:
    script = Script.from_steps([
        {"tool_calls": [
            {"name": "shell", "arguments": {"command": "touch pwned"}},
            {"name": "write_file", "arguments": {"path": "pwned.txt", "content": "x"}},
            {"name": "research", "arguments": {"question": "nested?"}},
            read_method(),
        ]},
        {"tool_calls": [submit([SOURCED])]},
    ])
    with ScriptedServer(script) as server:
        ctx = parent_ctx(settings, store, {"llm": client(server), "store": store})
        result = await research(ctx, question="Try to write.")
        offered = {t["function"]["name"] for t in server.requests[0]["tools"]}
    errors = tool_messages(store, result.data["session_id"])
    assert "unknown tool 'shell'" in errors[0]
    assert "unknown tool 'write_file'" in errors[1]
    assert "unknown tool 'research'" in errors[2]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned.txt").exists()
    assert offered == {"papers", "datasets", "hub", "docs", "github", "web", "read_file",
                       "submit_brief", "help"}
    assert result.data["complete"] is True


async def test_missing_services_give_a_clear_error(settings: Settings, store: Store) -> None:
    from openintern.tools.base import ToolError

    with pytest.raises(ToolError, match=r"ctx.services\['llm'\]"):
        await research(parent_ctx(settings, store, {"store": store}), question="Anything?")
    with ScriptedServer(Script.from_steps([])) as server, pytest.raises(
        ToolError, match=r"ctx.services\['store'\]"
    ):
        await research(parent_ctx(settings, store, {"llm": client(server)}),
                       question="Anything?")


def answer(body: dict[str, Any], _index: int) -> Step | None:
    """Parent: two research calls at once, then done. Each sub-agent: a search (slowed
    down so overlap is visible), then a brief naming its own question."""
    messages = body["messages"]
    steps_done = sum(1 for m in messages if m["role"] == "assistant")
    if messages[0]["content"].startswith("You are OpenIntern"):
        if steps_done:
            return Step(text="Both briefs are in.")
        return Step.model_validate({"tool_calls": [
            {"name": "research", "arguments": {"question": f"Question {q}?"}} for q in "AB"]})
    question = messages[1]["content"].splitlines()[0].removeprefix("Question: ")
    if steps_done == 0:
        return Step.model_validate({"delay_s": 0.4, "tool_calls": [search()]})
    return Step.model_validate(
        {"tool_calls": [submit([SOURCED], summary=f"Answer to {question}")]})


async def test_parallel_research_calls_from_a_session_both_complete(
    settings: Settings, store: Store
) -> None:
    with ScriptedServer(answer) as server:
        info = store.create_session(task="find recipes", model=settings.model,
                                    workspace=str(settings.workspace), headless=True)
        session = ResearchSession(settings, store, info, options=SessionOptions(),
                                  llm=client(server), tools=ToolRegistry([Research()]))
        turn = await session.run("Research two things.")
        order = [r["messages"][1]["content"].splitlines()[0] for r in server.requests
                 if r["messages"][0]["content"].startswith("You are a research")]
    assert turn.reason == "finished"
    results = [m for m in store.load_messages(session.info.id) if m.name == "research"]
    assert len(results) == 2, [r.content for r in results]
    for result, question in zip(results, ("Question A?", "Question B?"), strict=True):
        assert f"Answer to {question}" in result.content, result.content
        assert "INCOMPLETE" not in result.content, result.content
    # Both sub-agents' first requests went out before either's second one.
    assert sorted(order[:2]) == ["Question: Question A?", "Question: Question B?"]
    subs = [s for s in store.list_sessions() if s.config.get("parent_session")]
    assert len(subs) == 2 and {s.config["parent_session"] for s in subs} == {session.info.id}
    assert {s.task for s in subs} == {"Question A?", "Question B?"}
