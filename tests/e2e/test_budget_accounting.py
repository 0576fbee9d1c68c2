"""The budget over a whole session, through the `intern` command and the scripted model
server: an unpriced model warns and is stopped by a token budget or by the price the user
gives it; a sub-agent's spend counts against its parent's budget and stops it; nothing
passes the budget; `intern cost` reports every category."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from e2e_helpers import intern_env, run_intern, store

from openintern.accounting.cost_ledger import CostLedger
from openintern.llm.script import Script, Step
from openintern.llm.scripted import ScriptedServer
from openintern.llm.tokens import estimate_request_tokens


def _read_steps(n: int = 30) -> Script:
    return Script.from_steps([
        {"text": f"Reading part {i}.",
         "tool_calls": [{"name": "read_file", "arguments": {"path": "big.txt",
                                                            "offset": 1 + i}}]}
        for i in range(n)])


def _big_file(workspace: Path) -> None:
    (workspace / "big.txt").write_text("0123456789 abcdefghij\n" * 800)


def _server_prompt_tokens(requests: list[dict[str, Any]]) -> int:
    """Prompt tokens the scripted server billed (its usage rule is the harness estimate)."""
    return sum(estimate_request_tokens(b["messages"], b.get("tools")) for b in requests)


def _cost_json(env: dict[str, str], workspace: Path) -> dict[str, Any]:
    result = run_intern("cost", "last", "--json", env=env, cwd=workspace)
    assert result.code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def test_unpriced_model_warns_and_stops_at_the_token_budget(workspace: Path) -> None:
    _big_file(workspace)
    with ScriptedServer(_read_steps()) as server:
        env = intern_env(server.base_url)
        result = run_intern("read it all", "--budget", "0.01", "--token-budget", "30000",
                            env=env, cwd=workspace)
        requests = list(server.requests)
    assert result.code == 3, result.output
    # Warned at the start: the scripted model has no price (never a silent $0).
    assert "openai/scripted" in result.output and "has no price" in result.output
    assert "budget reached" in result.output and "30,000-token budget" in result.output
    [session] = store().list_sessions()
    assert session.status == "budget" and 1 < len(requests) < 30
    totals = CostLedger(store()).totals(session.id)
    # Every token the server counted is in the ledger, and none past the budget.
    prompts = _server_prompt_tokens(requests)
    assert prompts < totals.tokens <= 30_000
    assert totals.tokens - prompts < 400 * len(requests)  # the rest are short replies
    cost = _cost_json(env, workspace)
    [row] = cost["rows"]
    assert row["category"] == "model" and row["calls"] == len(requests)
    assert row["prompt_tokens"] == prompts


PRICES_TOML = """
[model_prices."openai/scripted"]
input_per_mtok = 1000.0
output_per_mtok = 4000.0
"""


def test_a_given_price_is_charged_and_the_dollar_budget_never_passed(workspace: Path,
                                                                     tmp_path: Path) -> None:
    _big_file(workspace)
    config = tmp_path / "prices.toml"
    config.write_text(PRICES_TOML)
    with ScriptedServer(_read_steps()) as server:
        env = intern_env(server.base_url, OPENINTERN_CONFIG=str(config))
        result = run_intern("read it all", "--budget", "40", env=env, cwd=workspace)
        requests = list(server.requests)
    assert result.code == 3, result.output
    assert "has no price" not in result.output
    [session] = store().list_sessions()
    entries = CostLedger(store()).entries(session.id)
    assert len(entries) == len(requests) > 1
    for entry, body in zip(entries, requests, strict=True):
        prompt = estimate_request_tokens(body["messages"], body.get("tools"))
        assert entry.prompt_tokens == prompt and entry.priced
        cached = entry.cached_tokens
        expected = ((prompt - cached) * 1000 + cached * 1000
                    + entry.completion_tokens * 4000) / 1e6
        assert abs(entry.cost_usd - expected) < 1e-9
    spent = sum(e.cost_usd for e in entries)
    assert abs(store().get_session(session.id).total_cost_usd - spent) < 1e-9
    # Never past the cap, and stopped only when the next call could not fit.
    assert spent <= 40
    # The stop names the next call's estimate: its prompt (no smaller than the last one
    # sent) plus a short reply would have passed the cap.
    events = store().events_after(session.id)
    [stop] = [e for e in events if e.type == "guard_triggered" and e.guard == "budget"]
    prompt_usd, reply_usd = (float(x) for x in re.findall(r"\$([0-9.,]+) for", stop.detail))
    last = requests[-1]
    last_usd = estimate_request_tokens(last["messages"], last["tools"]) * 1000 / 1e6
    assert prompt_usd >= last_usd - 0.01
    assert spent + prompt_usd + reply_usd > 40


def test_an_unpriced_remote_model_cannot_take_a_dollar_budget(workspace: Path) -> None:
    # 192.0.2.0/24 is reserved for documentation: nothing is ever sent there, because the
    # accountant refuses before the first call.
    env = intern_env("http://192.0.2.1:9/v1", OPENINTERN_MODEL="openai/some-new-model")
    result = run_intern("anything", "--budget", "1", env=env, cwd=workspace, timeout=120)
    assert result.code == 3, result.output
    assert "cannot be enforced" in result.output and "model_prices" in result.output
    assert "--token-budget" in result.output
    [session] = store().list_sessions()
    assert session.iterations == 0 and session.status == "budget"


def _parent_and_researcher(body: dict[str, Any], _index: int) -> Step | None:
    """The parent asks one research question; the sub-agent reads forever (it never
    submits), so only the budget can stop it."""
    messages = body["messages"]
    steps = sum(1 for m in messages if m["role"] == "assistant")
    if messages[0]["content"].startswith("You are OpenIntern"):
        if steps == 0:
            return Step.model_validate({"tool_calls": [{"name": "research", "arguments": {
                "question": "What is in big.txt?", "max_iterations": 40}}]})
        return Step.model_validate({"text": "The research came back; one more look.",
                                    "tool_calls": [{"name": "read_file",
                                                    "arguments": {"path": "big.txt"}}]})
    return Step.model_validate({"tool_calls": [{"name": "read_file", "arguments": {
        "path": "big.txt", "offset": 1 + steps}}]})


def test_a_sub_agent_spends_from_the_parent_budget_and_stops_it(workspace: Path) -> None:
    _big_file(workspace)
    with ScriptedServer(_parent_and_researcher) as server:
        env = intern_env(server.base_url)
        result = run_intern("research the file", "--token-budget", "60000", env=env,
                            cwd=workspace, timeout=300)
        requests = list(server.requests)
    assert result.code == 3, result.output
    [parent] = [s for s in store().list_sessions() if not s.config.get("parent_session")]
    [child] = [s for s in store().list_sessions() if s.config.get("parent_session")]
    assert child.config["parent_session"] == parent.id and parent.status == "budget"
    sub_calls = [r for r in requests
                 if r["messages"][0]["content"].startswith("You are a research")]
    assert len(sub_calls) > 3  # the sub-agent did the spending
    ledger = CostLedger(store())
    totals = ledger.totals(parent.id)
    assert totals.tokens <= 60_000
    kinds = [e.kind for e in ledger.entries(parent.id)]
    assert kinds.count("subagent") == len(sub_calls) and kinds.count("model") >= 1
    # The sub-agent was stopped by the parent's budget (its brief says so), and then
    # the parent could not make another call either.
    research = next(m for m in store().load_messages(parent.id) if m.name == "research")
    assert "INCOMPLETE" in research.content and "budget" in research.content
    cost = _cost_json(env, workspace)
    by_category = {r["category"]: r for r in cost["rows"]}
    assert by_category["subagent"]["calls"] == len(sub_calls)
    assert [s["session_id"] for s in cost["sub_sessions"]] == [child.id]
    # The table and the plot, asked for the sub-session: its root session's spend.
    png = workspace / "spend.png"
    shown = run_intern("cost", child.id, "--png", str(png), env=env, cwd=workspace)
    assert shown.code == 0, shown.output
    assert "sub-agents" in shown.output and parent.id in shown.output
    assert "This session required" in shown.output
    assert png.read_bytes().startswith(b"\x89PNG")


def test_summaries_are_counted_as_spend(workspace: Path, tmp_path: Path) -> None:
    """A forced compaction's model summary is a model call like any other: recorded as a
    summary, priced, and added to the session's total."""
    import asyncio

    from openintern.agent.session import ResearchSession, SessionOptions
    from openintern.config import ModelPrice, Settings
    from openintern.llm.client import LiteLLMClient
    from openintern.store import Store

    script = Script.from_steps([
        {"text": "Looking.", "tool_calls": [{"name": "read_file",
                                             "arguments": {"path": "big.txt"}}]},
        {"text": "First turn done."},
        {"text": "Second turn done."},
    ])
    _big_file(workspace)
    settings = Settings(workspace=workspace, sandbox="none", model="openai/scripted",
                        context_window=64_000,
                        model_prices={"openai/scripted": ModelPrice(input_per_mtok=2.0,
                                                                    output_per_mtok=8.0)})
    db = Store(f"sqlite:///{tmp_path / 'store.db'}")

    async def run() -> str:
        with ScriptedServer(script) as server:
            llm = LiteLLMClient("openai/scripted", api_base=server.base_url, api_key="x",
                                max_retries=0, context_window_override=64_000)
            session = ResearchSession.create(settings, "read the file", store=db,
                                             options=SessionOptions(), llm=llm)
            await session.run("read the file")
            session.request_compaction()
            await session.run("and now?")
            summaries.extend(r for r in server.requests if not r.get("tools"))
            return session.info.id

    summaries: list[dict[str, Any]] = []
    sid = asyncio.run(run())
    entries = [e for e in CostLedger(db).entries(sid) if e.kind == "summary"]
    assert len(summaries) == len(entries) == 1
    body = summaries[0]
    assert entries[0].prompt_tokens == estimate_request_tokens(body["messages"], None)
    assert entries[0].completion_tokens > 0 and entries[0].cost_usd > 0
    model_calls = sum(e.cost_usd for e in CostLedger(db).entries(sid))
    assert abs(db.get_session(sid).total_cost_usd - model_calls) < 1e-12


def test_synthesis_calls_spend_from_the_session_budget(workspace: Path, tmp_path: Path) -> None:
    """The synthesize tool's generator calls are recorded as synthesis, count in the
    session's total, and are stopped by its token budget (what was made is kept)."""
    import asyncio

    import pytest

    pytest.importorskip("datasketch", reason="the llm extra is not installed")
    from openintern.agent.session import ResearchSession, SessionOptions
    from openintern.config import Settings
    from openintern.demo.llm_data import instruction_rows
    from openintern.demo.llm_script import SCHEMA, synthesis_reply
    from openintern.llm.client import LiteLLMClient
    from openintern.store import Store
    from openintern.tools.base import ToolRegistry
    from openintern.tools.synthesize import Synthesize

    arguments = {"name": "numbers", "task": "largest-number questions", "json_schema": SCHEMA,
                 "seed_examples": instruction_rows()[:3], "n": 40, "per_call": 1,
                 "output": "data/synth.jsonl", "concurrency": 2}

    def respond(body: dict[str, Any], index: int) -> Step | None:
        reply = synthesis_reply(body)
        if reply is not None:
            return reply
        tools = [m for m in body["messages"] if m["role"] == "tool"]
        if tools:
            return Step(text="Stopped: " + str(tools[-1]["content"])[:300])
        return Step.model_validate({"tool_calls": [{"name": "synthesize",
                                                    "arguments": arguments}]})

    db = Store(f"sqlite:///{tmp_path / 'store.db'}")

    async def run() -> tuple[str, int, str]:
        with ScriptedServer(respond) as server:
            # The generator is the session's model (its server, a key the server ignores).
            settings = Settings(workspace=workspace, sandbox="none", model="openai/scripted",
                                api_base=server.base_url, api_key="x", context_window=64_000,
                                token_budget=8_000)
            llm = LiteLLMClient("openai/scripted", api_base=server.base_url, api_key="x",
                                max_retries=0, context_window_override=64_000)
            session = ResearchSession.create(settings, "make data", store=db,
                                             options=SessionOptions(), llm=llm,
                                             tools=ToolRegistry([Synthesize()]))
            turn = await session.run("make data")
            generations = sum(1 for r in server.requests if synthesis_reply(r) is not None)
            return session.info.id, generations, turn.reason

    sid, generations, reason = asyncio.run(run())
    entries = CostLedger(db).entries(sid)
    synthesis = [e for e in entries if e.kind == "synthesis"]
    assert 0 < len(synthesis) == generations < 40  # the budget stopped it midway
    assert sum(e.tokens for e in entries) <= 8_000
    tool = next(m for m in db.load_messages(sid) if m.role == "tool")
    assert "budget reached" in tool.content and "call synthesize again" in tool.content
    assert reason in ("budget", "finished")
