"""Semantic Scholar client against recorded Graph API bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fixture_server import FixtureServer, Route, ServeFactory, load_fixture

from openintern.http import ServiceClient, ServiceHTTPError, ServiceNotFound
from openintern.literature.semantic_scholar import (
    SemanticScholarClient,
    filter_edges,
    normalize_paper_id,
)

G = "/graph/v1/paper"


def fixture_json(name: str) -> Any:
    return json.loads(load_fixture(f"semanticscholar/{name}"))


def citing_page() -> dict[str, Any]:
    """A citations page built from real paper objects in the documented item shape
    ({"citingPaper": {...}}): three batch papers plus one recorded citation item."""
    papers = [p for p in fixture_json("paper_batch_with_null.json") if p is not None]
    items = [{"citingPaper": p} for p in papers]
    items.append(fixture_json("citation_item_with_contexts.json"))
    return {"offset": 0, "data": items}


@pytest.fixture
async def s2_client(serve: ServeFactory) -> AsyncIterator[
        Callable[[dict[Any, Route | list[Route]]], tuple[SemanticScholarClient, FixtureServer]]]:
    clients: list[ServiceClient] = []

    def make(routes: dict[Any, Route | list[Route]]) -> tuple[SemanticScholarClient, FixtureServer]:
        server = serve(routes)
        http = ServiceClient(service="semantic-scholar", base_url=server.url,
                             backoff_base_s=0.01)
        clients.append(http)
        return SemanticScholarClient(http), server

    yield make
    for http in clients:
        await http.aclose()


def test_normalize_paper_id() -> None:
    assert normalize_paper_id("2312.07559v2") == "arXiv:2312.07559"
    assert normalize_paper_id("arxiv:2312.07559v1") == "arXiv:2312.07559"
    assert normalize_paper_id("https://arxiv.org/abs/2312.07559") == "arXiv:2312.07559"
    assert normalize_paper_id("10.2139/ssrn.2250500") == "DOI:10.2139/ssrn.2250500"
    assert normalize_paper_id("CorpusID:14514057") == "CorpusID:14514057"
    sha = "0f40b1f08821e22e859c6050916cec3667778613"
    assert normalize_paper_id(sha) == sha


async def test_details_by_arxiv_id(s2_client: Any) -> None:
    client, server = s2_client({
        f"{G}/arXiv:2312.07559": Route(fixture="semanticscholar/paper_by_doi_many_fields.json"),
        f"{G}/DOI:10.1038/s42256-024-00832-8":
            Route(fixture="semanticscholar/paper_by_doi_many_fields_open_access.json"),
    })
    paper = await client.paper("2312.07559")
    assert paper.title.startswith("PaperQA")
    assert paper.arxiv_id == "2312.07559" and paper.citation_count == 111
    assert paper.authors[0] == "Jakub L'ala" and paper.year == 2023
    assert paper.open_access_pdf is None  # the API sent {"url": ""}
    assert paper.journal == "ArXiv"
    assert "fields" in server.requests[0].query
    open_paper = await client.paper("DOI:10.1038/s42256-024-00832-8")
    assert open_paper.open_access_pdf and open_paper.open_access_pdf.startswith("http")


async def test_not_found_and_bad_request(s2_client: Any) -> None:
    client, _ = s2_client({
        f"{G}/0": Route(status=404, fixture="semanticscholar/paper_not_found_404.json"),
        f"{G}/DOI:10.1093/mind/lix.236.433":
            Route(status=400, fixture="semanticscholar/paper_bad_fields_400.json"),
    })
    with pytest.raises(ServiceNotFound, match="Paper with id 0 not found"):
        await client.paper("0")
    with pytest.raises(ServiceHTTPError, match="Unrecognized or unsupported fields"):
        await client.paper("10.1093/mind/lix.236.433", fields="unknown")


async def test_search_pages_and_empty(s2_client: Any) -> None:
    client, server = s2_client({f"{G}/search": [
        Route(fixture="semanticscholar/paper_search_empty.json", query={"query": "n0 r3sult"}),
        Route(fixture="semanticscholar/paper_search_offset100.json", query={"offset": "100"}),
        Route(fixture="semanticscholar/paper_search.json"),
    ]})
    first = await client.search("turing", limit=100, year="1936-1950", min_citation_count=5)
    assert first.total == 70499 and first.next_offset == 100 and len(first.items) == 100
    second = await client.search("turing", offset=100, limit=100)
    assert second.offset == 100
    assert {p.paper_id for p in first.items}.isdisjoint({p.paper_id for p in second.items})
    empty = await client.search("n0 r3sult")
    assert empty.items == [] and empty.total == 0 and empty.next_offset is None
    assert server.requests[0].query["year"] == "1936-1950"
    assert server.requests[0].query["minCitationCount"] == "5"


async def test_references_citations_and_paging(s2_client: Any) -> None:
    client, _ = s2_client({
        f"{G}/DOI:10.2139/ssrn.2250500/references": [
            Route(fixture="semanticscholar/paper_references_last_page.json",
                  query={"offset": "50"}),
            Route(fixture="semanticscholar/paper_references.json"),
        ],
        f"{G}/CorpusID:14514057/citations":
            Route(fixture="semanticscholar/paper_citations_last_page.json"),
    })
    page = await client.edges("10.2139/ssrn.2250500", "references", limit=50)
    assert len(page.items) == 50 and page.next_offset == 50
    edges, fetched, complete = await client.collect_edges(
        "10.2139/ssrn.2250500", "references", page_size=50)
    assert fetched == 67 and complete and len(edges) == 67
    # The last page holds references S2 could not resolve: paperId null, title kept.
    assert any(e.paper.paper_id is None and e.paper.title for e in edges)
    last = await client.edges("CorpusID:14514057", "citations", offset=1800)
    assert last.next_offset is None and all(e.paper.title for e in last.items)


async def test_citations_are_filtered_and_sorted_client_side(s2_client: Any) -> None:
    client, server = s2_client({f"{G}/DOI:10.2139/ssrn.2250500/citations":
                                Route(body=citing_page())})
    by_count, fetched, complete = await client.collect_edges(
        "10.2139/ssrn.2250500", "citations", year_min=2010, min_citations=1,
        sort_by="citationCount")
    assert fetched == 4 and complete
    assert [(e.paper.year, e.paper.citation_count) for e in by_count] == [(2013, 2185), (2023, 2)]
    by_year = filter_edges(by_count, sort_by="year")
    assert [e.paper.year for e in by_year] == [2023, 2013]
    assert by_year[0].is_influential and by_year[0].contexts
    old = filter_edges(by_count, year_max=2014)
    assert [e.paper.year for e in old] == [2013]
    assert len(server.requests) == 1


async def test_batch_keeps_nulls(s2_client: Any) -> None:
    client, server = s2_client({("POST", f"{G}/batch"):
                                Route(fixture="semanticscholar/paper_batch_with_null.json")})
    ids = ["CorpusId:211530585", "CorpusId:470667", "10.2139/ssrn.2250500",
           "0f40b1f08821e22e859c6050916cec3667778613"]
    papers = await client.papers(ids)
    assert papers[0] is None and all(p is not None for p in papers[1:])
    assert papers[1] is not None and papers[1].doi == "10.2139/ssrn.288970"
    assert server.requests[0].json()["ids"][2] == "DOI:10.2139/ssrn.2250500"


async def test_recommendations_and_snippets(s2_client: Any) -> None:
    client, server = s2_client({
        "/recommendations/v1/papers/forpaper/DOI:10.2139/ssrn.2250500":
            Route(fixture="semanticscholar/recommendations_forpaper.json"),
        "/graph/v1/snippet/search": Route(fixture="semanticscholar/snippet_search.json"),
    })
    recs = await client.recommend("10.2139/ssrn.2250500", limit=100)
    expected = fixture_json("recommendations_forpaper.json")["recommendedPapers"]
    assert [r.paper_id for r in recs] == [p["paperId"] for p in expected]
    assert server.requests[0].query["from"] == "recent"
    snippets = await client.snippets("HLA class II podoconiosis", limit=5,
                                     paper_ids=["PMID:33558538"])
    assert snippets and snippets[0].corpus_id == "231872740"
    assert snippets[0].kind == "title" and snippets[0].authors[0] == "T. Gebresilase"
    assert all(s.text for s in snippets)
    assert server.requests[1].query["paperIds"] == "PMID:33558538"
