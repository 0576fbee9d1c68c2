"""Semantic Scholar Graph API client (``settings.semantic_scholar_url``).

Endpoints: paper details (``/graph/v1/paper/{id}``), batch (``POST /graph/v1/paper/batch``),
relevance search (``/graph/v1/paper/search``), references and citations (paged with
``offset``/``limit``; the API's ``next`` is absent on the last page), recommendations
(``/recommendations/v1/papers/forpaper/{id}``) and snippet search
(``/graph/v1/snippet/search``).

Format notes (from recorded responses): an empty search is ``{"total":0,"offset":0}`` with no
``data``; ``openAccessPdf`` is an object whose ``url`` may be ``""``; batch answers hold
``null`` for unknown ids; a reference's ``citedPaper.paperId`` may be ``null``.

Filtering and sorting of references/citations by year and citation count happens
CLIENT-side after fetching (the API offers neither for these endpoints): see
:func:`filter_edges` and :meth:`SemanticScholarClient.collect_edges`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from openintern.http import ServiceClient
from openintern.literature.arxiv import split_arxiv_id

PAPER_FIELDS = (
    "paperId,externalIds,url,title,abstract,venue,year,publicationDate,authors,"
    "citationCount,influentialCitationCount,referenceCount,isOpenAccess,openAccessPdf,"
    "fieldsOfStudy,publicationTypes,journal"
)
# For references/citations: edge fields plus a lighter set of paper fields.
EDGE_FIELDS = (
    "isInfluential,intents,contexts,paperId,externalIds,title,venue,year,publicationDate,"
    "authors,citationCount"
)
RECOMMEND_FIELDS = "paperId,externalIds,title,venue,year,publicationDate,authors,citationCount"

Direction = Literal["citations", "references"]
EdgeSort = Literal["citationCount", "year"]


@dataclass
class S2Paper:
    """A paper as Semantic Scholar describes it (missing fields stay None/empty)."""

    paper_id: str | None
    title: str
    abstract: str | None = None
    year: int | None = None
    venue: str | None = None
    publication_date: str | None = None
    authors: list[str] = field(default_factory=list)
    citation_count: int | None = None
    influential_citation_count: int | None = None
    reference_count: int | None = None
    external_ids: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    open_access_pdf: str | None = None
    fields_of_study: list[str] = field(default_factory=list)
    publication_types: list[str] = field(default_factory=list)
    journal: str | None = None

    @property
    def arxiv_id(self) -> str | None:
        """The arXiv id, when Semantic Scholar knows one."""
        return self.external_ids.get("ArXiv")

    @property
    def doi(self) -> str | None:
        """The DOI, when known."""
        return self.external_ids.get("DOI")


@dataclass
class S2Edge:
    """One reference or citation: the other paper plus how it cites."""

    paper: S2Paper
    is_influential: bool | None = None
    intents: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)


@dataclass
class S2Page:
    """A page of papers (search) or edges (citations/references)."""

    items: list[Any]
    offset: int
    next_offset: int | None
    total: int | None = None


@dataclass
class S2Snippet:
    """A passage returned by snippet search."""

    score: float
    corpus_id: str | None
    title: str
    authors: list[str]
    text: str
    kind: str | None
    section: str | None


def normalize_paper_id(raw: str) -> str:
    """The id form the Graph API accepts.

    Prefixed ids (``arXiv:``, ``DOI:``, ``CorpusId:``, ``PMID:``, ``ACL:``, ``MAG:``,
    ``PMCID:``, ``URL:``) and 40-hex S2 ids pass through; a bare DOI gets ``DOI:``; a bare
    arXiv id or arxiv.org URL gets ``arXiv:`` (without version).
    """
    text = raw.strip()
    if re.match(r"^(arxiv|doi|corpusid|pmid|pmcid|acl|mag|url):", text, re.IGNORECASE):
        prefix, rest = text.split(":", 1)
        if prefix.lower() == "arxiv":
            parsed = split_arxiv_id(rest)
            return f"arXiv:{parsed[0]}" if parsed else text
        return text
    if re.fullmatch(r"[0-9a-f]{40}", text):
        return text
    doi = re.search(r"(10\.\d{4,9}/\S+)", text)
    if doi and "arxiv.org" not in text:
        return f"DOI:{doi.group(1)}"
    parsed = split_arxiv_id(text)
    if parsed is not None:
        return f"arXiv:{parsed[0]}"
    return text


def parse_paper(data: dict[str, Any]) -> S2Paper:
    """An :class:`S2Paper` from a Graph API paper object."""
    pdf = data.get("openAccessPdf")
    journal = data.get("journal")
    return S2Paper(
        paper_id=data.get("paperId"),
        title=data.get("title") or "",
        abstract=data.get("abstract"),
        year=data.get("year"),
        venue=data.get("venue") or None,
        publication_date=data.get("publicationDate"),
        authors=[a.get("name") or "" for a in data.get("authors") or [] if isinstance(a, dict)],
        citation_count=data.get("citationCount"),
        influential_citation_count=data.get("influentialCitationCount"),
        reference_count=data.get("referenceCount"),
        external_ids={k: str(v) for k, v in (data.get("externalIds") or {}).items()
                      if v is not None},
        url=data.get("url"),
        # The API sends {"url": ""} (not null) when there is no PDF.
        open_access_pdf=(pdf.get("url") or None) if isinstance(pdf, dict) else None,
        fields_of_study=list(data.get("fieldsOfStudy") or []),
        publication_types=list(data.get("publicationTypes") or []),
        journal=(journal.get("name") or None) if isinstance(journal, dict) else None,
    )


def _parse_edge(item: dict[str, Any], key: str) -> S2Edge:
    return S2Edge(
        paper=parse_paper(item.get(key) or {}),
        is_influential=item.get("isInfluential"),
        intents=list(item.get("intents") or []),
        contexts=list(item.get("contexts") or []),
    )


def filter_edges(
    edges: Sequence[S2Edge],
    *,
    year_min: int | None = None,
    year_max: int | None = None,
    min_citations: int | None = None,
    sort_by: EdgeSort | None = None,
) -> list[S2Edge]:
    """Keep edges within the year range and citation floor, optionally sorted (descending).

    Papers with an unknown year are dropped when a year bound is given; an unknown
    citation count counts as 0.
    """
    kept = []
    for edge in edges:
        year = edge.paper.year
        if (year_min is not None or year_max is not None) and year is None:
            continue
        if year is not None and year_min is not None and year < year_min:
            continue
        if year is not None and year_max is not None and year > year_max:
            continue
        if min_citations is not None and (edge.paper.citation_count or 0) < min_citations:
            continue
        kept.append(edge)
    if sort_by == "citationCount":
        kept.sort(key=lambda e: e.paper.citation_count or 0, reverse=True)
    elif sort_by == "year":
        kept.sort(key=lambda e: e.paper.year or 0, reverse=True)
    return kept


class SemanticScholarClient:
    """Typed access to the Semantic Scholar Graph and Recommendations APIs."""

    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    @staticmethod
    def _paper_path(paper_id: str) -> str:
        return quote(normalize_paper_id(paper_id), safe=":/")

    async def paper(self, paper_id: str, *, fields: str = PAPER_FIELDS) -> S2Paper:
        """Details of one paper (``arXiv:…``, ``DOI:…``, ``CorpusId:…``, S2 id, or a bare
        arXiv id / DOI). Raises ServiceNotFound for unknown ids."""
        data = await self.http.get_json(f"/graph/v1/paper/{self._paper_path(paper_id)}",
                                        {"fields": fields})
        return parse_paper(data)

    async def papers(
        self, paper_ids: Sequence[str], *, fields: str = PAPER_FIELDS
    ) -> list[S2Paper | None]:
        """Details of many papers in one call; None where an id is unknown."""
        data = await self.http.post_json(
            "/graph/v1/paper/batch",
            {"ids": [normalize_paper_id(p) for p in paper_ids]},
            {"fields": fields},
        )
        return [parse_paper(item) if isinstance(item, dict) else None for item in data]

    async def search(
        self,
        query: str,
        *,
        offset: int = 0,
        limit: int = 10,
        year: str | None = None,
        min_citation_count: int | None = None,
        fields_of_study: str | None = None,
        fields: str = PAPER_FIELDS,
    ) -> S2Page:
        """Relevance search; ``year`` like ``"2019-2023"`` or ``"2020-"`` (server-side)."""
        data = await self.http.get_json("/graph/v1/paper/search", {
            "query": query,
            "offset": offset,
            "limit": limit,
            "fields": fields,
            "year": year,
            "minCitationCount": min_citation_count,
            "fieldsOfStudy": fields_of_study,
        })
        return S2Page(
            items=[parse_paper(p) for p in data.get("data") or []],
            offset=int(data.get("offset") or 0),
            next_offset=data.get("next"),
            total=data.get("total"),
        )

    async def edges(
        self,
        paper_id: str,
        direction: Direction,
        *,
        offset: int = 0,
        limit: int = 100,
        fields: str = EDGE_FIELDS,
    ) -> S2Page:
        """One page of citations (papers citing this one) or references (papers it cites)."""
        data = await self.http.get_json(
            f"/graph/v1/paper/{self._paper_path(paper_id)}/{direction}",
            {"fields": fields, "offset": offset, "limit": limit},
        )
        key = "citingPaper" if direction == "citations" else "citedPaper"
        return S2Page(
            items=[_parse_edge(item, key) for item in data.get("data") or []],
            offset=int(data.get("offset") or 0),
            next_offset=data.get("next"),
        )

    async def collect_edges(
        self,
        paper_id: str,
        direction: Direction,
        *,
        max_items: int = 500,
        page_size: int = 100,
        year_min: int | None = None,
        year_max: int | None = None,
        min_citations: int | None = None,
        sort_by: EdgeSort | None = None,
    ) -> tuple[list[S2Edge], int, bool]:
        """Fetch up to ``max_items`` edges page by page, then filter and sort them
        client-side. Returns (edges, number fetched, whether every edge was fetched)."""
        fetched: list[S2Edge] = []
        offset: int | None = 0
        while offset is not None and len(fetched) < max_items:
            page = await self.edges(paper_id, direction, offset=offset,
                                    limit=min(page_size, max_items - len(fetched)))
            fetched.extend(page.items)
            offset = page.next_offset if page.items else None
        edges = filter_edges(fetched, year_min=year_min, year_max=year_max,
                             min_citations=min_citations, sort_by=sort_by)
        return edges, len(fetched), offset is None

    async def recommend(
        self,
        paper_id: str,
        *,
        limit: int = 10,
        pool: Literal["recent", "all-cs"] = "recent",
        fields: str = RECOMMEND_FIELDS,
    ) -> list[S2Paper]:
        """Papers Semantic Scholar recommends for one paper (``pool``: recent or all-cs)."""
        data = await self.http.get_json(
            f"/recommendations/v1/papers/forpaper/{self._paper_path(paper_id)}",
            {"fields": fields, "limit": limit, "from": pool},
        )
        # Capped here too, so a service that ignores ``limit`` cannot flood the caller.
        return [parse_paper(p) for p in data.get("recommendedPapers") or []][:limit]

    async def snippets(
        self, query: str, *, limit: int = 10, paper_ids: Sequence[str] = ()
    ) -> list[S2Snippet]:
        """Passages from paper bodies/abstracts matching ``query`` (optionally within
        ``paper_ids``)."""
        params: dict[str, Any] = {"query": query, "limit": limit}
        if paper_ids:
            params["paperIds"] = ",".join(normalize_paper_id(p) for p in paper_ids)
        data = await self.http.get_json("/graph/v1/snippet/search", params)
        snippets = []
        for item in data.get("data") or []:
            paper = item.get("paper") or {}
            snippet = item.get("snippet") or {}
            snippets.append(S2Snippet(
                score=float(item.get("score") or 0.0),
                corpus_id=str(paper["corpusId"]) if paper.get("corpusId") is not None else None,
                title=paper.get("title") or "",
                authors=[a if isinstance(a, str) else str(a.get("name", ""))
                         for a in paper.get("authors") or []],
                text=snippet.get("text") or "",
                kind=snippet.get("snippetKind"),
                section=snippet.get("section"),
            ))
        return snippets[:limit]
