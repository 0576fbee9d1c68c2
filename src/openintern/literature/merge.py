"""One record per paper across arXiv, Semantic Scholar and Hugging Face Papers.

Results from the three services are merged by arXiv id, else by normalised title, and
ranked by reciprocal-rank fusion: a paper found near the top by several services beats
one found by a single service (score = sum of 1 / (60 + rank) over services).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from openintern.literature.arxiv import ArxivPaper
from openintern.literature.hf_papers import HFPaper
from openintern.literature.semantic_scholar import S2Paper

_RRF_K = 60


@dataclass
class PaperRecord:
    """What is known about one paper, whichever services contributed."""

    title: str
    arxiv_id: str | None = None
    s2_id: str | None = None
    doi: str | None = None
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    date: str | None = None
    venue: str | None = None
    abstract: str | None = None
    citation_count: int | None = None
    pdf_url: str | None = None
    links: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    score: float = 0.0

    @property
    def key(self) -> str:
        """Identity used for de-duplication: the arXiv id, else the DOI, else the title,
        else the Semantic Scholar id; a record with none of them is only itself (results
        without a title must never collapse into one)."""
        if self.arxiv_id:
            return f"arxiv:{self.arxiv_id}"
        if self.doi:
            return f"doi:{self.doi.lower()}"
        title = normalize_title(self.title)
        if title:
            return f"title:{title}"
        if self.s2_id:
            return f"s2:{self.s2_id}"
        return f"record:{id(self)}"

    @property
    def best_id(self) -> str:
        """The id to pass back to the papers tool for this paper."""
        if self.arxiv_id:
            return f"arXiv:{self.arxiv_id}"
        if self.doi:
            return f"DOI:{self.doi}"
        return self.s2_id or self.title

    def absorb(self, other: PaperRecord) -> None:
        """Fill gaps from ``other`` (the first source to know a field wins)."""
        for name in ("arxiv_id", "s2_id", "doi", "year", "date", "venue", "abstract",
                     "citation_count", "pdf_url"):
            if getattr(self, name) in (None, "") and getattr(other, name) not in (None, ""):
                setattr(self, name, getattr(other, name))
        if not self.authors:
            self.authors = other.authors
        for name, url in other.links.items():
            self.links.setdefault(name, url)
        self.sources.extend(s for s in other.sources if s not in self.sources)
        self.score += other.score


def normalize_title(title: str) -> str:
    """Lower-case alphanumerics only, so punctuation and spacing never split a paper."""
    return re.sub(r"[^a-z0-9]+", "", title.lower())


def from_arxiv(paper: ArxivPaper) -> PaperRecord:
    """A record from an arXiv entry."""
    links = {"arXiv": f"https://arxiv.org/abs/{paper.id}"}
    if paper.pdf_url:
        links["PDF"] = paper.pdf_url
    return PaperRecord(
        title=paper.title, arxiv_id=paper.id, doi=paper.doi, authors=paper.authors,
        year=paper.published.year if paper.published else None,
        date=paper.published.date().isoformat() if paper.published else None,
        venue=paper.journal_ref, abstract=paper.abstract, pdf_url=paper.pdf_url,
        links=links, sources=["arXiv"],
    )


def from_s2(paper: S2Paper) -> PaperRecord:
    """A record from a Semantic Scholar paper."""
    links: dict[str, str] = {}
    if paper.arxiv_id:
        links["arXiv"] = f"https://arxiv.org/abs/{paper.arxiv_id}"
    if paper.open_access_pdf:
        links["PDF"] = paper.open_access_pdf
    if paper.url:
        links["Semantic Scholar"] = paper.url
    return PaperRecord(
        title=paper.title, arxiv_id=paper.arxiv_id, s2_id=paper.paper_id, doi=paper.doi,
        authors=paper.authors, year=paper.year, date=paper.publication_date,
        venue=paper.venue or paper.journal, abstract=paper.abstract,
        citation_count=paper.citation_count, pdf_url=paper.open_access_pdf, links=links,
        sources=["Semantic Scholar"],
    )


def from_hf(paper: HFPaper) -> PaperRecord:
    """A record from a Hugging Face paper page."""
    links = {"arXiv": f"https://arxiv.org/abs/{paper.arxiv_id}", "HF paper": paper.url}
    if paper.github_repo:
        links["code"] = paper.github_repo
    if paper.project_page:
        links["project"] = paper.project_page
    date = paper.published_at[:10] if paper.published_at else None
    return PaperRecord(
        title=paper.title, arxiv_id=paper.arxiv_id, authors=paper.authors,
        year=int(date[:4]) if date and date[:4].isdigit() else None, date=date,
        abstract=paper.summary or None, links=links, sources=["HF Papers"],
    )


def fuse(ranked_lists: Iterable[Sequence[PaperRecord]]) -> list[PaperRecord]:
    """Merge ranked lists into one de-duplicated list ordered by fused score."""
    merged: dict[str, PaperRecord] = {}
    by_title: dict[str, str] = {}
    for records in ranked_lists:
        for rank, record in enumerate(records):
            record.score = 1.0 / (_RRF_K + rank + 1)
            title_key = normalize_title(record.title)
            key = record.key
            if key not in merged and title_key:
                key = by_title.get(title_key, key)
            if key in merged:
                merged[key].absorb(record)
            else:
                merged[key] = record
            if title_key:
                by_title.setdefault(title_key, key)
    return sorted(merged.values(), key=lambda r: r.score, reverse=True)
