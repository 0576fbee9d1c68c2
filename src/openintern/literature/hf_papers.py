"""Hugging Face Papers client (``settings.hf_endpoint``).

Endpoints: ``/api/papers/search?q=`` (a list), ``/api/papers/{arxiv_id}`` (one paper),
``/api/daily_papers`` (a list), and Hub listings filtered by ``arxiv:<id>`` to find models
and datasets that cite a paper (``/api/models?filter=arxiv:<id>``).

List items may wrap the paper (``{"paper": {...}, "title": ..., ...}`` as daily papers do)
or be the paper object itself; both are accepted. Recorded daily-papers bodies carry
``githubRepo``, ``projectPage``, ``githubStars``, ``ai_summary`` and ``ai_keywords`` on the
paper object; any of them may be missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from openintern.http import ServiceClient


@dataclass
class HFPaper:
    """A paper page on the Hub (ids are arXiv ids)."""

    arxiv_id: str
    title: str
    summary: str = ""
    authors: list[str] = field(default_factory=list)
    published_at: str | None = None
    upvotes: int | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The paper page on huggingface.co."""
        return f"https://huggingface.co/papers/{self.arxiv_id}"


@dataclass
class HubRepoRef:
    """A model or dataset on the Hub that references a paper."""

    kind: Literal["model", "dataset"]
    repo_id: str
    downloads: int | None = None
    likes: int | None = None

    @property
    def url(self) -> str:
        """The repository's page."""
        prefix = "" if self.kind == "model" else "datasets/"
        return f"https://huggingface.co/{prefix}{self.repo_id}"


def _first(*values: Any) -> Any:
    for value in values:
        if value not in (None, "", []):
            return value
    return None


def parse_hf_paper(item: dict[str, Any]) -> HFPaper | None:
    """An :class:`HFPaper` from a list item or a paper object; None without an id."""
    wrapped = item.get("paper")
    paper: dict[str, Any] = wrapped if isinstance(wrapped, dict) else item
    arxiv_id = _first(paper.get("id"), item.get("id"))
    if not arxiv_id:
        return None
    authors = _first(paper.get("authors"), item.get("authors")) or []
    keywords = _first(paper.get("ai_keywords"), item.get("ai_keywords")) or []
    return HFPaper(
        arxiv_id=str(arxiv_id),
        title=" ".join(str(_first(paper.get("title"), item.get("title")) or "").split()),
        summary=" ".join(str(_first(paper.get("summary"), item.get("summary")) or "").split()),
        authors=[a.get("name", "") if isinstance(a, dict) else str(a) for a in authors],
        published_at=_first(paper.get("publishedAt"), item.get("publishedAt")),
        upvotes=_first(paper.get("upvotes"), item.get("upvotes")),
        github_repo=_first(paper.get("githubRepo"), item.get("githubRepo")),
        github_stars=_first(paper.get("githubStars"), item.get("githubStars")),
        project_page=_first(paper.get("projectPage"), item.get("projectPage")),
        ai_summary=_first(paper.get("ai_summary"), item.get("ai_summary")),
        ai_keywords=[str(k) for k in keywords],
    )


# The Hub serves at most this many results per papers query (a larger ``limit`` is a
# 400), and has no offset: results past the 100th cannot be had from it at all.
MAX_RESULTS = 100


class HFPapersClient:
    """Papers and paper-linked repositories on the Hugging Face Hub."""

    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    async def search(self, query: str, *, limit: int = 20) -> list[HFPaper]:
        """Papers whose page matches ``query`` (the Hub's own ranking), at most
        :data:`MAX_RESULTS` however large ``limit`` is."""
        limit = min(limit, MAX_RESULTS)
        data = await self.http.get_json("/api/papers/search", {"q": query, "limit": limit})
        return self._papers(data)[:limit]

    async def paper(self, arxiv_id: str) -> HFPaper:
        """The paper page of ``arxiv_id``. Raises ServiceNotFound if the Hub has none."""
        data = await self.http.get_json(f"/api/papers/{quote(arxiv_id, safe='')}")
        parsed = parse_hf_paper(data) if isinstance(data, dict) else None
        if parsed is None:
            parsed = HFPaper(arxiv_id=arxiv_id, title="")
        return parsed

    async def daily(self, *, date: str | None = None, limit: int = 50) -> list[HFPaper]:
        """Today's (or ``date``'s, YYYY-MM-DD) daily papers."""
        limit = min(limit, MAX_RESULTS)
        data = await self.http.get_json("/api/daily_papers", {"date": date, "limit": limit})
        return self._papers(data)[:limit]

    async def linked_repos(
        self, arxiv_id: str, kind: Literal["model", "dataset"], *, limit: int = 5
    ) -> list[HubRepoRef]:
        """Models or datasets tagged ``arxiv:<id>`` (most downloaded first)."""
        path = "/api/models" if kind == "model" else "/api/datasets"
        data = await self.http.get_json(path, {
            "filter": f"arxiv:{arxiv_id}", "sort": "downloads", "direction": -1,
            "limit": limit,
        })
        refs = []
        for item in data if isinstance(data, list) else []:
            repo_id = item.get("id") or item.get("modelId")
            if repo_id:
                refs.append(HubRepoRef(kind=kind, repo_id=str(repo_id),
                                       downloads=item.get("downloads"),
                                       likes=item.get("likes")))
        return refs[:limit]

    @staticmethod
    def _papers(data: Any) -> list[HFPaper]:
        items = data if isinstance(data, list) else []
        papers = [parse_hf_paper(item) for item in items if isinstance(item, dict)]
        return [p for p in papers if p is not None]
