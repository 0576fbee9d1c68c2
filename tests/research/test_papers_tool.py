"""The papers tool end to end: ToolRegistry.parse + run with a real ToolContext whose
settings point at fixture servers (arXiv, Semantic Scholar, Hugging Face on separate ports).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, cast

import pytest
from fixture_server import FixtureServer, Route, ServeFactory, load_fixture
from test_literature_fulltext import LATEXML_PAGE
from test_literature_semantic_scholar import citing_page

from openintern.config import Settings
from openintern.events import EventBase, PlanItem
from openintern.literature import LiteratureClients
from openintern.sandbox.base import Sandbox
from openintern.tools.base import ToolContext, ToolError, ToolRegistry, ToolResult
from openintern.tools.papers import Papers

S2_KEY = "s2-secret-key"
HF_TOKEN = "hf_secret_token"


class MemoryState:
    """In-memory ResearchState for tests."""

    def __init__(self) -> None:
        self.plan: list[PlanItem] = []
        self.notes: list[tuple[int, str, list[str]]] = []

    def set_plan(self, items: list[PlanItem]) -> None:
        self.plan = items

    def get_plan(self) -> list[PlanItem]:
        return self.plan

    def add_note(self, text: str, tags: list[str]) -> int:
        self.notes.append((len(self.notes) + 1, text, tags))
        return len(self.notes)

    def list_notes(self) -> list[tuple[int, str, list[str]]]:
        return self.notes


def arxiv_entries() -> dict[str, str]:
    """arXiv id -> title of the recorded 'transformer' feed."""
    raw = load_fixture("arxiv/query_search_sorted_by_date.atom.xml").decode()
    pairs = re.findall(r"<id>http://arxiv.org/abs/(\S+?)v\d+</id>\s*<title>(.*?)</title>", raw)
    return dict(pairs)


def hf_search_body() -> list[dict[str, Any]]:
    """A /api/papers/search answer: recorded daily-paper items, the first one re-pointed
    at a paper of the arXiv feed so that the services overlap."""
    items: list[dict[str, Any]] = json.loads(load_fixture("hub/daily_papers.json"))[1:4]
    item = copy.deepcopy(items[0])
    item["paper"]["id"] = "2606.13677"
    item["paper"]["title"] = item["title"] = arxiv_entries()["2606.13677"]
    return [item, *items[1:]]


def s2_search_body() -> dict[str, Any]:
    """A recorded S2 search page whose first paper is re-pointed at an arXiv feed paper."""
    body: dict[str, Any] = json.loads(
        load_fixture("semanticscholar/paper_search_abstract_openaccess.json"))
    body["data"][0]["externalIds"]["ArXiv"] = "2606.13591"
    body["data"][0]["title"] = arxiv_entries()["2606.13591"]
    return body


@pytest.fixture
def servers(serve: ServeFactory) -> dict[str, FixtureServer]:
    arxiv = serve({
        "/api/query": [
            Route(fixture="arxiv/query_id_list_empty.atom.xml", query={"id_list": "2312.07559"}),
            Route(fixture="arxiv/query_search_sorted_by_date.atom.xml"),
        ],
        "/html/2401.00001": Route(body=LATEXML_PAGE, content_type="text/html"),
    })
    s2 = serve({
        "/graph/v1/paper/search": Route(body=s2_search_body()),
        "/graph/v1/paper/arXiv:2312.07559":
            Route(fixture="semanticscholar/paper_by_doi_many_fields.json"),
        "/graph/v1/paper/arXiv:2312.07559/citations": Route(body=citing_page()),
        "/graph/v1/paper/DOI:10.1038/s42256-024-00832-8":
            Route(fixture="semanticscholar/paper_by_doi_many_fields_open_access.json"),
        "/recommendations/v1/papers/forpaper/arXiv:2312.07559":
            Route(fixture="semanticscholar/recommendations_forpaper_all_cs.json"),
        "/graph/v1/snippet/search": Route(fixture="semanticscholar/snippet_search.json"),
    })
    hf = serve({
        "/api/papers/search": Route(body=hf_search_body()),
        "/api/models": Route(fixture="hub/models_list.json",
                             query={"filter": "arxiv:2312.07559"}),
        "/api/datasets": Route(body=[]),
        "/api/daily_papers": Route(fixture="hub/daily_papers.json"),
    })
    return {"arxiv": arxiv, "s2": s2, "hf": hf}


@pytest.fixture
def ctx(servers: dict[str, FixtureServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> ToolContext:
    monkeypatch.setenv("OPENINTERN_DATA_DIR", str(tmp_path / "data"))
    settings = Settings(
        arxiv_api_url=f"{servers['arxiv'].url}/api/query",
        arxiv_web_url=servers["arxiv"].url,
        semantic_scholar_url=servers["s2"].url,
        hf_endpoint=servers["hf"].url,
        semantic_scholar_api_key=S2_KEY,
        hf_token=HF_TOKEN,
        workspace=tmp_path,
    )

    def emit(event: EventBase) -> EventBase:
        return event

    return ToolContext(settings=settings, workspace=tmp_path, sandbox=cast(Sandbox, None),
                       state=MemoryState(), session_id="test", emit=emit)


async def call(ctx: ToolContext, **arguments: Any) -> ToolResult:
    tool, params = ToolRegistry([Papers()]).parse("papers", json.dumps(arguments))
    return await tool.run(params, ctx)


async def test_search_merges_services_and_scopes_tokens(
    ctx: ToolContext, servers: dict[str, FixtureServer]
) -> None:
    result = await call(ctx, operation="search", query="transformer", limit=5)
    assert result.ok
    papers = result.data["papers"]
    assert len(papers) == 5
    # Papers found by two services rank first and appear once.
    assert {p["id"] for p in papers[:2]} == {"arXiv:2606.13677", "arXiv:2606.13591"}
    assert all(len(p["sources"]) == 2 for p in papers[:2])
    assert len({p["id"] for p in papers}) == 5
    assert "of about 360715; call again with offset=5" in result.text
    assert isinstance(ctx.services["literature"], LiteratureClients)
    # Each token went only to its own service.
    assert all(r.headers.get("x-api-key") == S2_KEY for r in servers["s2"].requests)
    assert all(r.headers.get("authorization") == f"Bearer {HF_TOKEN}"
               for r in servers["hf"].requests)
    for request in servers["arxiv"].requests:
        assert "x-api-key" not in request.headers and "authorization" not in request.headers
    assert servers["arxiv"].requests[0].query["search_query"] == "all:transformer"


async def test_details_combines_s2_and_hub_links(ctx: ToolContext) -> None:
    result = await call(ctx, operation="details", paper="arXiv:2312.07559")
    text = result.text
    assert text.startswith("PaperQA: Retrieval-Augmented Generative Agent for Scientific Research")
    assert "Citations: 111" in text and "Date: 2023-12-08" in text
    assert "arXiv: https://arxiv.org/abs/2312.07559" in text
    assert "Hub models: deepseek-ai/DeepSeek-V4-Pro" in text
    assert result.data["paper"]["id"] == "arXiv:2312.07559"


async def test_details_of_a_doi_asks_only_semantic_scholar(
    ctx: ToolContext, servers: dict[str, FixtureServer]
) -> None:
    result = await call(ctx, operation="details", paper="10.1038/s42256-024-00832-8")
    # Semantic Scholar knows the paper's arXiv id, which becomes the id to use.
    assert result.data["paper"]["id"] == "arXiv:2304.05376"
    assert "PDF: http" in result.text
    assert servers["arxiv"].requests == [] and servers["hf"].requests == []


async def test_recommend_snippets_and_daily(ctx: ToolContext) -> None:
    recs = await call(ctx, operation="recommend", paper="arXiv:2312.07559", limit=3)
    assert len(recs.data["papers"]) == 3 and recs.text.count("\n") == 3
    found = await call(ctx, operation="snippets", query="HLA class II podoconiosis", limit=2)
    assert found.data["count"] >= 1 and "CorpusId:231872740" in found.text
    daily = await call(ctx, operation="daily", limit=5, offset=5)
    assert [p["id"] for p in daily.data["papers"]] == [
        f"arXiv:{item['paper']['id']}"
        for item in json.loads(load_fixture("hub/daily_papers.json"))[5:10]]
    assert daily.text.splitlines()[1].startswith("6. ")


async def test_citations_filtered_and_sorted(ctx: ToolContext) -> None:
    result = await call(ctx, operation="citations", paper="2312.07559", min_citations=1,
                        year_min=2010, sort="citations")
    titles = [p["title"] for p in result.data["papers"]]
    assert titles == ["The Miracle of Microfinance? Evidence from a Randomized Evaluation",
                      "Learning to Throw With a Handful of Samples Using Decision Transformers"]
    assert "2 match of 4 fetched" in result.text and "[influential]" in result.text


async def test_read_toc_then_section(ctx: ToolContext) -> None:
    toc = await call(ctx, operation="read", paper="2401.00001")
    assert "2 Methodology" in toc.text and "2.1 Data" in toc.text
    assert [s["number"] for s in toc.data["sections"]][2:5] == ["1", "2", "2.1"]
    section = await call(ctx, operation="read", paper="2401.00001", section="method")
    assert section.data["section"] == "2 Methodology"
    assert "1,000 widget photos" in section.text


async def test_bad_arguments_get_clear_errors(
    ctx: ToolContext, servers: dict[str, FixtureServer]
) -> None:
    registry = ToolRegistry([Papers()])
    with pytest.raises(ToolError, match="operation"):
        registry.parse("papers", json.dumps({"operation": "summon"}))
    with pytest.raises(ToolError, match="needs `query`"):
        await call(ctx, operation="search")
    with pytest.raises(ToolError, match="no section matches 'zebra'"):
        await call(ctx, operation="read", paper="2401.00001", section="zebra")
    for server in servers.values():
        server.stop()
    with pytest.raises(ToolError, match="every literature service failed"):
        await call(ctx, operation="search", query="offline now")


async def test_hf_papers_is_asked_for_at_most_100_results_and_says_so(
    ctx: ToolContext, servers: dict[str, FixtureServer]
) -> None:
    # The Hub answers 400 to a limit over 100 (what offset 95 + limit 10 used to ask for).
    servers["hf"].add("/api/papers/search", [
        Route(status=400, body=b"", query={"limit": "105"}),
        Route(body=hf_search_body()),
    ])
    page = await call(ctx, operation="search", query="transformer", offset=95, limit=10)
    asked = servers["hf"].requests_to("/api/papers/search")
    assert [r.query["limit"] for r in asked] == ["100"]
    assert "HF Papers serves at most 100 results" in page.text
    assert "unavailable" not in page.text
    beyond = await call(ctx, operation="search", query="transformer", offset=100, limit=10)
    asked = servers["hf"].requests_to("/api/papers/search")
    assert len(asked) == 1  # past 100 the Hub is not asked at all
    assert "HF Papers serves at most 100 results" in beyond.text
    assert beyond.ok and beyond.data["papers"]  # arXiv and Semantic Scholar still answer
