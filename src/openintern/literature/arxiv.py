"""arXiv API client: search and id lookup over the Atom feed at ``settings.arxiv_api_url``.

Format notes (from recorded 2026 responses): errors are HTTP 400 with a one-entry Atom feed
whose entry title is ``Error``; an unknown id yields an empty feed (totalResults 0), not a
404; ``arxiv:primary_category`` carries no ``scheme``; old-style ids look like
``astro-ph/0601001v1``; entry ids are ``http://arxiv.org/abs/<id>v<n>``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from openintern.http import ServiceClient, ServiceHTTPError

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}

# New style 2104.12255(v1); old style astro-ph/0601001(v1), math.CO/0601001.
_ID_RE = re.compile(
    r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<version>\d+))?"
)
_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is",
    "of", "on", "or", "the", "to", "with", "via", "using",
})

SortBy = Literal["relevance", "submittedDate", "lastUpdatedDate"]


class ArxivQueryError(ServiceHTTPError):
    """arXiv rejected the query (its Atom error feed's message is in the text)."""


@dataclass
class ArxivPaper:
    """One arXiv record. ``id`` has no version suffix; ``version`` is the listed one."""

    id: str
    version: int | None
    title: str
    authors: list[str]
    abstract: str
    published: datetime | None
    updated: datetime | None
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    pdf_url: str | None = None
    abs_url: str | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None


@dataclass
class ArxivPage:
    """A page of search results with the feed's paging numbers."""

    papers: list[ArxivPaper]
    total_results: int
    start: int
    items_per_page: int


def split_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """``(id, version)`` from an id, abs/pdf URL or ``arXiv:`` string; None if none."""
    match = _ID_RE.search(text.strip())
    if match is None:
        return None
    version = match.group("version")
    return match.group("id"), int(version) if version else None


def to_arxiv_query(text: str) -> str:
    """A search_query for free text: words AND-ed over all fields.

    Text that already uses arXiv's field syntax (``ti:``, ``au:``, ``cat:``, ``all:``...)
    is passed unchanged.
    """
    if re.search(r"\b(?:ti|au|abs|co|jr|cat|rn|id|all):", text):
        return text
    words = [w for w in re.findall(r"[\w\-]+", text.lower()) if w not in _STOPWORDS]
    return " AND ".join(f"all:{w}" for w in words) if words else text


def _text(node: ET.Element | None) -> str | None:
    if node is None or node.text is None:
        return None
    return " ".join(node.text.split())


def _date(node: ET.Element | None) -> datetime | None:
    value = _text(node)
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _parse_entry(entry: ET.Element) -> ArxivPaper | None:
    raw_id = _text(entry.find("atom:id", NS)) or ""
    parsed = split_arxiv_id(raw_id.rsplit("/abs/", 1)[-1])
    if parsed is None:
        return None
    paper_id, version = parsed
    pdf_url = abs_url = None
    for link in entry.findall("atom:link", NS):
        if link.get("title") == "pdf":
            pdf_url = link.get("href")
        elif link.get("rel") == "alternate":
            abs_url = link.get("href")
    primary = entry.find("arxiv:primary_category", NS)
    return ArxivPaper(
        id=paper_id,
        version=version,
        title=_text(entry.find("atom:title", NS)) or "",
        authors=[_text(a.find("atom:name", NS)) or "" for a in entry.findall("atom:author", NS)],
        abstract=_text(entry.find("atom:summary", NS)) or "",
        published=_date(entry.find("atom:published", NS)),
        updated=_date(entry.find("atom:updated", NS)),
        categories=[c.get("term", "") for c in entry.findall("atom:category", NS)],
        primary_category=primary.get("term") if primary is not None else None,
        pdf_url=pdf_url,
        abs_url=abs_url or f"https://arxiv.org/abs/{paper_id}",
        comment=_text(entry.find("arxiv:comment", NS)),
        journal_ref=_text(entry.find("arxiv:journal_ref", NS)),
        doi=_text(entry.find("arxiv:doi", NS)),
    )


def parse_feed(xml_text: str | bytes) -> ArxivPage:
    """Parse an arXiv API Atom feed. Raises ValueError for non-XML or an Error feed."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise ValueError(f"arXiv answered with something that is not an Atom feed: {exc}") from None
    entries = root.findall("atom:entry", NS)
    if len(entries) == 1 and _text(entries[0].find("atom:title", NS)) == "Error":
        message = _text(entries[0].find("atom:summary", NS)) or "unknown error"
        raise ValueError(f"arXiv rejected the query: {message}")
    papers = [p for p in (_parse_entry(e) for e in entries) if p is not None]

    def number(tag: str, default: int) -> int:
        value = _text(root.find(f"opensearch:{tag}", NS))
        return int(value) if value and value.isdigit() else default

    return ArxivPage(
        papers=papers,
        total_results=number("totalResults", len(papers)),
        start=number("startIndex", 0),
        items_per_page=number("itemsPerPage", len(papers)),
    )


class ArxivClient:
    """Search and look up arXiv papers through a :class:`ServiceClient` for the API URL."""

    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    async def _query(self, params: dict[str, str | int]) -> ArxivPage:
        try:
            body = await self.http.get_text("", params)
        except ServiceHTTPError as exc:
            if exc.status == 400 and exc.body:
                try:
                    parse_feed(exc.body)
                except ValueError as parsed:
                    raise ArxivQueryError(
                        f"{parsed}; check the id format (e.g. 2104.12255 or astro-ph/0601001) "
                        "or the query syntax",
                        service=exc.service, url=exc.url, status=400, body=exc.body,
                    ) from None
            raise
        try:
            return parse_feed(body)
        except ValueError as exc:
            raise ArxivQueryError(str(exc), service=self.http.service,
                                  url=self.http.base_url, status=200) from None

    async def search(
        self,
        query: str,
        *,
        start: int = 0,
        max_results: int = 10,
        sort_by: SortBy = "relevance",
        sort_order: Literal["ascending", "descending"] = "descending",
    ) -> ArxivPage:
        """Search arXiv. Free text is turned into AND-ed ``all:`` terms (see
        :func:`to_arxiv_query`); ``start`` pages through results."""
        return await self._query({
            "search_query": to_arxiv_query(query),
            "start": start,
            "max_results": max_results,
            "sortBy": sort_by,
            "sortOrder": sort_order,
        })

    async def lookup(self, ids: Sequence[str]) -> list[ArxivPaper]:
        """Records for ``ids`` (with or without versions); unknown ids are simply absent."""
        if not ids:
            return []
        page = await self._query({
            "id_list": ",".join(ids),
            "start": 0,
            "max_results": max(len(ids), 1),
        })
        return page.papers
