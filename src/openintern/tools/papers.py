"""The ``papers`` tool: literature search, details, full-text reading and citation graph."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from openintern.http import ServiceError, ServiceNotFound
from openintern.literature import LiteratureClients, literature_clients
from openintern.literature.fulltext import FullTextUnavailable, table_of_contents
from openintern.literature.hf_papers import MAX_RESULTS as HF_MAX_RESULTS
from openintern.literature.merge import PaperRecord, from_arxiv, from_hf, from_s2, fuse
from openintern.literature.semantic_scholar import S2Edge, normalize_paper_id
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult
from openintern.tools.schema import GUIDE_ONLY

T = TypeVar("T")

Operation = Literal["search", "details", "read", "citations", "references", "recommend",
                    "snippets", "daily"]


class PapersParams(BaseModel):
    """Arguments of the papers tool."""

    operation: Operation = Field(
        description="search/snippets: by query; details/read/citations/references/"
        "recommend: of a paper; daily: HF daily papers."
    )
    query: str | None = Field(None, description="search, snippets: text.")
    paper: str | None = Field(None, description="arXiv id, DOI:…, CorpusId:…, or a PDF URL.")
    section: str | None = Field(None, description="read: e.g. '3.1' or 'method'.")
    limit: int = Field(10, ge=1, le=50, description="Results.")
    offset: int = Field(0, ge=0, description="Skip this many results (read: characters).")
    year_min: int | None = Field(None, json_schema_extra=GUIDE_ONLY)
    year_max: int | None = Field(None, json_schema_extra=GUIDE_ONLY)
    min_citations: int | None = Field(None, ge=0, description="citations/references: floor.",
                                      json_schema_extra=GUIDE_ONLY)
    sort: Literal["relevance", "date", "citations"] = Field("relevance",
                                                            json_schema_extra=GUIDE_ONLY)


def clients_for(ctx: ToolContext) -> LiteratureClients:
    """The literature clients of this session (built from settings once, then reused)."""
    clients = ctx.services.get("literature")
    if not isinstance(clients, LiteratureClients):
        clients = literature_clients(ctx.settings)
        ctx.services["literature"] = clients
    return clients


def _authors(names: list[str], most: int = 4) -> str:
    if not names:
        return "unknown authors"
    return ", ".join(names[:most]) + (" et al." if len(names) > most else "")


def _line(rank: int, rec: PaperRecord) -> str:
    bits = [f"{rank}. {rec.title or '(no title given)'}"]
    meta = [x for x in (str(rec.year) if rec.year else None, _authors(rec.authors),
                        rec.venue) if x]
    bits.append(" (" + "; ".join(meta) + ")")
    if rec.citation_count is not None:
        bits.append(f" [{rec.citation_count} citations]")
    bits.append(f" id={rec.best_id}")
    return "".join(bits)


def _record_data(rec: PaperRecord) -> dict[str, Any]:
    return {"id": rec.best_id, "title": rec.title, "year": rec.year,
            "citations": rec.citation_count, "sources": rec.sources}


def _service_error(exc: ServiceError) -> ToolError:
    return ToolError(str(exc))


async def _none() -> None:
    """A source not asked (nothing it could add)."""
    return None


async def _guard(coro: Awaitable[T], label: str, notes: list[str]) -> T | None:
    """Run one source; a failure becomes a note instead of failing the whole call."""
    try:
        return await coro
    except ServiceNotFound:
        return None
    except ServiceError as exc:
        notes.append(f"{label} unavailable: {exc}")
        return None


class Papers(Tool[PapersParams]):
    """Search and read the research literature (arXiv, Semantic Scholar, Hugging Face Papers).

    Operations: search (find papers for query); details (one paper's metadata and links);
    read (table of contents, or one section of the full text); citations / references
    (papers citing / cited by paper); recommend (similar papers); snippets (passages of
    paper texts matching query); daily (today's Hugging Face daily papers). paper is an
    arXiv id (2104.12255), arXiv:…, DOI:…, CorpusId:…, a Semantic Scholar id, or for read
    also a PDF URL.

    Start with operation="search" (results merged across services, best first, each with an
    id). Use "details" on an id for authors, venue, citation count and links (PDF, code,
    Hub models and datasets). Use "read" to get a paper's table of contents, then "read"
    again with section="3" or section="method" to read one section (long sections are cut;
    call again with the offset the note gives). "citations" and "references" walk the
    citation graph and can be filtered by year_min/year_max/min_citations and sorted by
    citations or date; "recommend" finds similar papers; "snippets" finds passages that
    mention your query. Results are cached, so repeating a call is cheap.
    """

    name = "papers"
    read_only = True

    async def run(self, params: PapersParams, ctx: ToolContext) -> ToolResult:
        """Dispatch on ``operation``."""
        clients = clients_for(ctx)
        needs_query = params.operation in ("search", "snippets")
        needs_paper = params.operation in ("details", "read", "citations", "references",
                                           "recommend")
        if needs_query and not (params.query and params.query.strip()):
            raise ToolError(f"operation {params.operation!r} needs `query`")
        if needs_paper and not (params.paper and params.paper.strip()):
            raise ToolError(
                f"operation {params.operation!r} needs `paper` (an arXiv id, DOI:..., or an "
                "id from a search result)"
            )
        try:
            if params.operation == "search":
                return await self._search(params, clients)
            if params.operation == "details":
                return await self._details(params, clients)
            if params.operation == "read":
                return await self._read(params, clients)
            if params.operation in ("citations", "references"):
                return await self._graph(params, clients)
            if params.operation == "recommend":
                return await self._recommend(params, clients)
            if params.operation == "snippets":
                return await self._snippets(params, clients)
            return await self._daily(params, clients)
        except ServiceNotFound as exc:
            raise ToolError(f"not found: {exc}. Check the id, or search for the title") from None
        except ServiceError as exc:
            raise _service_error(exc) from None
        except FullTextUnavailable as exc:
            raise ToolError(f"{exc}; try operation='details' for the abstract") from None

    # --- operations -----------------------------------------------------------------
    async def _search(self, p: PapersParams, c: LiteratureClients) -> ToolResult:
        query = (p.query or "").strip()
        notes: list[str] = []
        year = None
        if p.year_min or p.year_max:
            year = f"{p.year_min or ''}-{p.year_max or ''}"
        hf_search = (_guard(c.hf_papers.search(query, limit=p.offset + p.limit),
                            "HF Papers", notes)
                     if p.offset < HF_MAX_RESULTS else _none())
        if p.offset + p.limit > HF_MAX_RESULTS:
            notes.append(f"HF Papers serves at most {HF_MAX_RESULTS} results per query; "
                         f"results past the {HF_MAX_RESULTS}th come from arXiv and Semantic "
                         "Scholar only.")
        arxiv_page, s2_page, hf_list = await asyncio.gather(
            _guard(c.arxiv.search(query, start=p.offset, max_results=p.limit,
                                  sort_by="submittedDate" if p.sort == "date" else "relevance"),
                   "arXiv", notes),
            _guard(c.semantic_scholar.search(query, offset=p.offset, limit=p.limit, year=year),
                   "Semantic Scholar", notes),
            hf_search,
        )
        if arxiv_page is None and s2_page is None and hf_list is None:
            raise ToolError("every literature service failed: " + " | ".join(notes))
        merged = fuse([
            [from_arxiv(x) for x in arxiv_page.papers] if arxiv_page else [],
            [from_s2(x) for x in s2_page.items] if s2_page else [],
            [from_hf(x) for x in (hf_list or [])[p.offset:]],
        ])
        merged = [r for r in merged
                  if (p.year_min is None or (r.year or 0) >= p.year_min)
                  and (p.year_max is None or (r.year or 9999) <= p.year_max)]
        if p.sort == "citations":
            merged.sort(key=lambda r: r.citation_count or 0, reverse=True)
        elif p.sort == "date":
            merged.sort(key=lambda r: r.date or "", reverse=True)
        shown = merged[: p.limit]
        totals = [t for t in (arxiv_page.total_results if arxiv_page else None,
                              s2_page.total if s2_page else None) if t is not None]
        total = max(totals) if totals else len(merged)
        lines = [f"Papers for {query!r} (merged from arXiv, Semantic Scholar, HF Papers):"]
        lines += [_line(p.offset + i + 1, r) for i, r in enumerate(shown)]
        if not shown:
            lines.append("No papers found; try fewer or different words.")
        lines.append(f"Showing {p.offset + 1}-{p.offset + len(shown)} of about {total}; "
                     f"call again with offset={p.offset + p.limit} for more.")
        lines += notes
        return ToolResult("\n".join(lines),
                          data={"operation": "search", "papers": [_record_data(r) for r in shown]})

    async def _details(self, p: PapersParams, c: LiteratureClients) -> ToolResult:
        raw = (p.paper or "").strip()
        notes: list[str] = []
        normalized = normalize_paper_id(raw)
        arxiv_id = normalized.removeprefix("arXiv:") if normalized.startswith("arXiv:") else None
        coros: list[Awaitable[Any]] = [
            _guard(c.semantic_scholar.paper(raw), "Semantic Scholar", notes)]
        if arxiv_id:
            coros += [
                _guard(c.arxiv.lookup([arxiv_id]), "arXiv", notes),
                _guard(c.hf_papers.paper(arxiv_id), "HF Papers", notes),
                _guard(c.hf_papers.linked_repos(arxiv_id, "model"), "Hub models", notes),
                _guard(c.hf_papers.linked_repos(arxiv_id, "dataset"), "Hub datasets", notes),
            ]
        results = await asyncio.gather(*coros)
        s2 = results[0]
        arxiv_list, hf, models, datasets = (results[1:] if arxiv_id else [None] * 4)
        records = []
        if arxiv_list:
            records.append(from_arxiv(arxiv_list[0]))
        if s2 is not None:
            records.append(from_s2(s2))
        if hf is not None and hf.title:
            records.append(from_hf(hf))
        if not records:
            raise ToolError(f"no service knows {raw!r}; check the id or search for the title. "
                            + " ".join(notes))
        rec = fuse([[r] for r in records])[0]
        lines = [rec.title, f"Authors: {_authors(rec.authors, most=12)}"]
        lines.append("Date: " + (rec.date or (str(rec.year) if rec.year else "unknown")))
        if rec.venue:
            lines.append(f"Venue: {rec.venue}")
        if rec.citation_count is not None:
            lines.append(f"Citations: {rec.citation_count}")
        lines.append(f"Id: {rec.best_id}")
        for name, url in rec.links.items():
            lines.append(f"{name}: {url}")
        for label, repos in (("Hub models", models), ("Hub datasets", datasets)):
            if repos:
                lines.append(f"{label}: " + ", ".join(
                    f"{r.repo_id} ({r.downloads or 0} downloads)" for r in repos))
        if hf is not None and hf.ai_summary:
            lines.append(f"HF summary: {hf.ai_summary}")
        if rec.abstract:
            lines.append(f"Abstract: {rec.abstract}")
        lines += notes
        data = _record_data(rec) | {"links": rec.links}
        return ToolResult("\n".join(lines), data={"operation": "details", "paper": data})

    async def _read(self, p: PapersParams, c: LiteratureClients) -> ToolResult:
        raw = (p.paper or "").strip()
        if raw.startswith(("http://", "https://")) and "arxiv.org" not in raw:
            text = await c.fulltext.read_pdf_url(raw)
        else:
            text = await c.fulltext.read_arxiv(raw.removeprefix("arXiv:"))
        toc = table_of_contents(text)
        if not p.section:
            lines = [f"{text.title or raw} — full text from {text.source.upper()} "
                     f"({text.total_chars()} chars). Sections:"]
            lines += [f"{'  ' * (e.level - 1)}{e.number + ' ' if e.number else ''}{e.title} "
                      f"({e.chars} chars)" for e in toc]
            lines.append("Read one with operation='read', section='<number or name>'.")
            return ToolResult("\n".join(lines), data={
                "operation": "read", "source": text.source,
                "sections": [{"number": e.number, "title": e.title, "chars": e.chars}
                             for e in toc]})
        index = text.find(p.section)
        if index is None:
            names = "; ".join(s.heading for s in text.sections)
            raise ToolError(f"no section matches {p.section!r}. Sections: {names}")
        body = text.section_text(index)
        window = 12_000
        chunk = body[p.offset:p.offset + window]
        lines = [chunk]
        if p.offset + window < len(body):
            lines.append(f"[showing chars {p.offset}-{p.offset + len(chunk)} of {len(body)}; "
                         f"call again with offset={p.offset + window} for more]")
        sec = text.sections[index]
        return ToolResult("\n".join(lines), data={
            "operation": "read", "source": text.source, "section": sec.heading,
            "chars": len(body)})

    async def _graph(self, p: PapersParams, c: LiteratureClients) -> ToolResult:
        direction: Literal["citations", "references"] = (
            "citations" if p.operation == "citations" else "references")
        paper = normalize_paper_id(p.paper or "")
        filtered = any(x is not None for x in (p.year_min, p.year_max, p.min_citations))
        sort = {"citations": "citationCount", "date": "year"}.get(p.sort)
        if filtered or sort:
            edges, fetched, complete = await c.semantic_scholar.collect_edges(
                paper, direction, max_items=1000, year_min=p.year_min, year_max=p.year_max,
                min_citations=p.min_citations,
                sort_by="citationCount" if sort == "citationCount" else
                ("year" if sort == "year" else None),
            )
            total_note = (f"{len(edges)} match of {fetched} fetched"
                          + ("" if complete else " (first 1000 only)"))
            page = edges[p.offset:p.offset + p.limit]
            more = p.offset + p.limit < len(edges)
        else:
            s2_page = await c.semantic_scholar.edges(paper, direction, offset=p.offset,
                                                     limit=p.limit)
            page = s2_page.items
            more = s2_page.next_offset is not None
            total_note = "more available" if more else "no more"
        lines = [f"{direction.capitalize()} of {paper} ({total_note}):"]
        lines += [self._edge_line(p.offset + i + 1, e) for i, e in enumerate(page)]
        if not page:
            lines.append("None found (Semantic Scholar may not have the full list).")
        if more:
            lines.append(f"Call again with offset={p.offset + p.limit} for more.")
        return ToolResult("\n".join(lines), data={
            "operation": direction,
            "papers": [_record_data(from_s2(e.paper)) for e in page]})

    @staticmethod
    def _edge_line(rank: int, edge: S2Edge) -> str:
        line = _line(rank, from_s2(edge.paper))
        if edge.is_influential:
            line += " [influential]"
        if edge.contexts:
            line += f'\n   context: "{edge.contexts[0][:200]}"'
        return line

    async def _recommend(self, p: PapersParams, c: LiteratureClients) -> ToolResult:
        papers = await c.semantic_scholar.recommend(p.paper or "", limit=p.limit)
        records = [from_s2(x) for x in papers]
        lines = [f"Papers similar to {p.paper}:"]
        lines += [_line(i + 1, r) for i, r in enumerate(records)] or ["None found."]
        return ToolResult("\n".join(lines), data={
            "operation": "recommend", "papers": [_record_data(r) for r in records]})

    async def _snippets(self, p: PapersParams, c: LiteratureClients) -> ToolResult:
        snippets = await c.semantic_scholar.snippets(p.query or "", limit=p.limit)
        lines = [f"Passages matching {p.query!r}:"]
        for i, s in enumerate(snippets, 1):
            where = f"{s.kind or 'text'}" + (f", {s.section}" if s.section else "")
            lines.append(f"{i}. {s.title} ({_authors(s.authors)}; CorpusId:{s.corpus_id}; "
                         f"{where})\n   \"{s.text[:600]}\"")
        if not snippets:
            lines.append("None found.")
        return ToolResult("\n".join(lines), data={
            "operation": "snippets", "count": len(snippets)})

    async def _daily(self, p: PapersParams, c: LiteratureClients) -> ToolResult:
        if p.offset >= HF_MAX_RESULTS:
            raise ToolError(f"HF daily papers has at most {HF_MAX_RESULTS} entries; use an "
                            f"offset below {HF_MAX_RESULTS}")
        papers = await c.hf_papers.daily(limit=p.offset + p.limit)
        shown = papers[p.offset:p.offset + p.limit]
        records = [from_hf(x) for x in shown]
        lines = ["Hugging Face daily papers:"]
        lines += [_line(p.offset + i + 1, r) for i, r in enumerate(records)] or ["None."]
        if p.offset + p.limit > HF_MAX_RESULTS:
            lines.append(f"(the Hub lists at most {HF_MAX_RESULTS} daily papers)")
        return ToolResult("\n".join(lines), data={
            "operation": "daily", "papers": [_record_data(r) for r in records]})
