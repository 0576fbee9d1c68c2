"""End-to-end: the official `mcp` client starts `intern mcp` over stdio, lists its tools,
searches papers (fixture servers replaying recorded arXiv / Semantic Scholar / Hub bodies),
runs an experiment as a real sandboxed job, reads the ledger back, and meets the approval
policy for paid compute (refused without a way to ask; asked through elicitation)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

sys.path.insert(0, str(Path(__file__).parents[1] / "research"))
sys.path.insert(0, str(Path(__file__).parents[1] / "compute"))
import mcp_types as types
from fixture_server import FixtureServer, Route
from hf_fixture import HfJobsServer
from test_papers_tool import hf_search_body, s2_search_body

from mcp import Client, StdioServerParameters
from openintern.research.ledger import Ledger
from openintern.store import Store


@pytest.fixture
def literature() -> Iterator[dict[str, FixtureServer]]:
    arxiv = FixtureServer({"/api/query": Route(
        fixture="arxiv/query_search_sorted_by_date.atom.xml")}).start()
    s2 = FixtureServer({"/graph/v1/paper/search": Route(body=s2_search_body())}).start()
    hf = HfJobsServer().start()
    papers = FixtureServer({"/api/papers/search": Route(body=hf_search_body())}).start()
    yield {"arxiv": arxiv, "s2": s2, "papers": papers, "hf": hf}  # type: ignore[dict-item]
    for server in (arxiv, s2, papers):
        server.stop()
    hf.stop()


def _params(workspace: Path, servers: dict[str, Any], *args: str,
            hf_url: str | None = None) -> StdioServerParameters:
    env = {k: os.environ[k] for k in ("OPENINTERN_DATA_DIR", "OPENINTERN_CONFIG")}
    env.update({
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "OPENINTERN_ARXIV_API_URL": f"{servers['arxiv'].url}/api/query",
        "OPENINTERN_ARXIV_WEB_URL": servers["arxiv"].url,
        "OPENINTERN_SEMANTIC_SCHOLAR_URL": servers["s2"].url,
        "OPENINTERN_HF_ENDPOINT": hf_url or servers["papers"].url,
        "HF_TOKEN": "hf_fixtureTokenAbcdefghijklmnop0123",
    })
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "openintern.cli", "mcp", *args],
                                 env=env, cwd=workspace)


def _text(result: types.CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))


async def test_official_client_lists_and_calls_intern_mcp(
        workspace: Path, literature: dict[str, Any]) -> None:
    async with Client(_params(workspace, literature), read_timeout_seconds=120) as client:
        listing = await client.list_tools()
        names = {t.name for t in listing.tools}
        assert {"papers", "datasets", "hub", "jobs", "experiment", "sweep"} <= names
        papers_tool = next(t for t in listing.tools if t.name == "papers")
        assert "operation" in papers_tool.input_schema["properties"]
        # Rarely needed parameters are left out of the schemas; help lists them.
        assert "year_min" not in papers_tool.input_schema["properties"]
        guide = await client.call_tool("help", {"tool": "papers"})
        assert not guide.is_error and "- year_min (integer" in _text(guide)

        found = await client.call_tool("papers", {"operation": "search",
                                                  "query": "transformer", "limit": 3})
        assert not found.is_error, _text(found)
        assert re.search(r"^1\. ", _text(found), re.M) and "id=arXiv:" in _text(found)

        bad = await client.call_tool("papers", {"operation": "nonsense"})
        assert bad.is_error and "invalid arguments for papers" in _text(bad)

        command = ("python -c \"import json; [print(json.dumps({'step': s, 'score': s * 0.25}),"
                   " flush=True) for s in (1, 2, 3)]\"")
        run = await client.call_tool("experiment", {
            "operation": "run", "name": "tiny", "hypothesis": "score grows",
            "command": command, "seed": 1, "primary_metric": "score",
            "config": {"lr": 0.1}})
        assert not run.is_error, _text(run)
        exp_id = re.search(r"Experiment (\w+) running", _text(run))
        assert exp_id, _text(run)
        job = re.search(r"local job (\S+) ", _text(run))
        assert job, _text(run)
        waited = await client.call_tool("jobs", {"operation": "wait", "job_ids": [job.group(1)],
                                                 "wait_timeout_s": 60})
        assert "succeeded" in _text(waited), _text(waited)
        status = await client.call_tool("experiment", {"operation": "status",
                                                       "experiment_id": exp_id.group(1)})
        assert "score" in _text(status) and "0.75" in _text(status), _text(status)

    # The run is in the ledger of a recorded session, like the agent's own.
    store = Store(f"sqlite:///{Path(os.environ['OPENINTERN_DATA_DIR']) / 'openintern.db'}")
    session = store.list_sessions()[0]
    assert session.task == "MCP server (intern mcp)"
    [exp] = Ledger(store).experiments(session.id)
    assert exp.status == "succeeded" and exp.final_metrics["score"] == 0.75
    assert exp.code_hash and exp.seed == 1
    events = {e.type for e in store.events_after(session.id)}
    assert {"tool_call_started", "tool_call_finished"} <= events


PAID = {"operation": "submit", "backend": "hf", "flavor": "cpu-basic",
        "command": "python -c 'print(1)'", "timeout_s": 600}


async def test_paid_compute_needs_the_users_approval(
        workspace: Path, literature: dict[str, Any]) -> None:
    hf_url = literature["hf"].url
    # A client that cannot ask its user: refused, with what to do.
    async with Client(_params(workspace, literature, hf_url=hf_url),
                      read_timeout_seconds=60) as client:
        refused = await client.call_tool("jobs", PAID)
    assert refused.is_error and "--compute-budget" in _text(refused), _text(refused)
    assert not literature["hf"].fixture.jobs

    questions: list[str] = []

    def answering(*answers: bool) -> Any:
        replies = list(answers)

        async def elicit(context: Any, params: Any) -> types.ElicitResult:
            questions.append(params.message)
            return types.ElicitResult(action="accept", content={"approve": replies.pop(0)})
        return elicit

    async with Client(_params(workspace, literature, hf_url=hf_url), read_timeout_seconds=60,
                      elicitation_callback=answering(False, True)) as client:
        declined = await client.call_tool("jobs", PAID)
        assert declined.is_error and "did not approve" in _text(declined)
        assert "estimated cost: $" in questions[0].lower() and "cpu-basic" in questions[0]
        assert not literature["hf"].fixture.jobs
        launched = await client.call_tool("jobs", PAID)
    assert not launched.is_error, _text(launched)
    assert len(literature["hf"].fixture.jobs) == 1

    # Within --compute-budget it runs without asking.
    asked = len(questions)
    async with Client(_params(workspace, literature, "--compute-budget", "5", hf_url=hf_url),
                      read_timeout_seconds=60, elicitation_callback=answering(False)) as client:
        budgeted = await client.call_tool("jobs", PAID)
    assert not budgeted.is_error, _text(budgeted)
    assert len(questions) == asked and len(literature["hf"].fixture.jobs) == 2
