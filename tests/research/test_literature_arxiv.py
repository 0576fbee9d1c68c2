"""arXiv client: parsing every recorded feed, paging, errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fixture_server import Route, ServeFactory, fixtures_dir, load_fixture

from openintern.http import ServiceClient
from openintern.literature.arxiv import (
    ArxivClient,
    ArxivQueryError,
    parse_feed,
    split_arxiv_id,
    to_arxiv_query,
)

FEEDS = sorted(p.name for p in (fixtures_dir() / "arxiv").glob("*.xml") if "400" not in p.name)


@pytest.mark.parametrize("name", FEEDS)
def test_every_recorded_feed_parses(name: str) -> None:
    raw = load_fixture(f"arxiv/{name}")
    page = parse_feed(raw)
    assert len(page.papers) == raw.count(b"<entry>")
    total = int(re.search(rb"<opensearch:totalResults>(\d+)<", raw).group(1))  # type: ignore[union-attr]
    assert page.total_results == total
    for paper in page.papers:
        assert paper.title and paper.authors and paper.abstract
        assert paper.published is not None and paper.published.tzinfo is not None
        assert paper.pdf_url and paper.pdf_url.startswith("https://arxiv.org/pdf/")
        assert paper.primary_category in paper.categories
        assert "\n" not in paper.title


def test_single_entry_fields() -> None:
    (paper,) = parse_feed(load_fixture("arxiv/query_id_list.atom.xml")).papers
    assert paper.id == "1605.08386" and paper.version == 1
    assert paper.title == "Heat-bath random walks with Markov bases"
    assert paper.authors == ["Caprice Stanley", "Tobias Windisch"]
    assert paper.categories == ["math.CO", "math.ST"] and paper.primary_category == "math.CO"
    assert paper.published == datetime(2016, 5, 26, 17, 59, 46, tzinfo=UTC)
    assert paper.comment == "20 pages, 3 figures"
    assert paper.abs_url == "https://arxiv.org/abs/1605.08386v1"
    assert paper.journal_ref is None and paper.doi is None


def test_old_style_ids_and_journal_ref() -> None:
    (paper,) = parse_feed(load_fixture("arxiv/query_id_list_old_style_id.atom.xml")).papers
    assert (paper.id, paper.version) == ("astro-ph/0601001", 1)
    assert paper.journal_ref == "ActaAstron.56:1-50,2006"
    (versioned,) = parse_feed(
        load_fixture("arxiv/query_id_list_old_style_versioned.atom.xml")).papers
    assert versioned.id == "quant-ph/0201082" and versioned.version == 1


def test_doi_and_missing_and_empty() -> None:
    search = parse_feed(load_fixture("arxiv/query_search.atom.xml"))
    assert any(p.doi and p.doi.startswith("10.") for p in search.papers)
    two = parse_feed(load_fixture("arxiv/query_id_list_two_ids_one_missing.atom.xml"))
    assert [p.id for p in two.papers] == ["1707.08567"] and two.total_results == 1
    empty = parse_feed(load_fixture("arxiv/query_id_list_empty.atom.xml"))
    assert empty.papers == [] and empty.total_results == 0


def test_error_feed_is_an_error() -> None:
    with pytest.raises(ValueError, match="incorrect id format for abc"):
        parse_feed(load_fixture("arxiv/query_id_list_malformed_id_400.atom.xml"))


def test_id_helpers() -> None:
    assert split_arxiv_id("https://arxiv.org/abs/2104.12255v3") == ("2104.12255", 3)
    assert split_arxiv_id("arXiv:1605.08386") == ("1605.08386", None)
    assert split_arxiv_id("astro-ph/0601001") == ("astro-ph/0601001", None)
    assert split_arxiv_id("no id here") is None
    assert to_arxiv_query("diffusion models for text") == (
        "all:diffusion AND all:models AND all:text")
    assert to_arxiv_query("ti:transformer AND cat:cs.LG") == "ti:transformer AND cat:cs.LG"


async def test_search_pages_over_http(serve: ServeFactory) -> None:
    server = serve({"/api/query": [
        Route(fixture="arxiv/query_search_start10.atom.xml", query={"start": "10"}),
        Route(fixture="arxiv/query_search.atom.xml", query={"start": "0"}),
    ]})
    client = ArxivClient(ServiceClient(service="arxiv", base_url=f"{server.url}/api/query"))
    first = await client.search("testing", max_results=10)
    second = await client.search("testing", start=10, max_results=10)
    await client.http.aclose()
    assert len(first.papers) == len(second.papers) == 10
    assert second.start == 10 and first.start == 0
    assert not {p.id for p in first.papers} & {p.id for p in second.papers}
    sent = server.requests[1].query
    assert sent == {"search_query": "all:testing", "start": "10", "max_results": "10",
                    "sortBy": "relevance", "sortOrder": "descending"}


async def test_lookup_and_malformed_id(serve: ServeFactory) -> None:
    server = serve({"/api/query": [
        Route(status=400, fixture="arxiv/query_id_list_malformed_id_400.atom.xml",
              query={"id_list": "abc"}),
        Route(fixture="arxiv/query_id_list_versioned.atom.xml"),
    ]})
    client = ArxivClient(ServiceClient(service="arxiv", base_url=f"{server.url}/api/query"))
    (paper,) = await client.lookup(["2104.12255v1"])
    assert paper.id == "2104.12255" and paper.version == 1
    with pytest.raises(ArxivQueryError, match="incorrect id format for abc") as info:
        await client.lookup(["abc"])
    await client.http.aclose()
    assert info.value.status == 400
    assert server.requests[0].query["id_list"] == "2104.12255v1"
