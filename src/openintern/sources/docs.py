"""Hugging Face documentation: fetch a page as markdown sections; search page titles.

Pages live at ``{hf_endpoint}/docs/{library}/{page}`` (e.g. ``docs/trl/sft_trainer``).
There is no public docs search API we rely on, so search is honest and simple: fetch the
library's docs index page, collect the links of its sidebar (``/docs/{library}/…``), and
rank them by how many query words occur in the link text and path. It finds pages by
title, not by body text; fetching a page and asking for a ``section`` narrows further.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from openintern.http import ServiceClient
from openintern.sources.html_markdown import Page, Section, html_to_markdown, split_sections

KNOWN_LIBRARIES = ("transformers", "trl", "peft", "datasets", "accelerate", "diffusers",
                   "hub", "huggingface_hub", "tokenizers", "evaluate", "optimum", "lighteval",
                   "text-generation-inference", "safetensors", "timm", "bitsandbytes",
                   "sentence_transformers", "smolagents", "inference-endpoints")
_SLUG = re.compile(r"^[A-Za-z0-9_.-]+$")
_PAGE = re.compile(r"^[A-Za-z0-9_./-]+$")


class DocsError(Exception):
    """A docs request could not be answered; the message says what to do."""


@dataclass
class DocLink:
    """A docs page found in a library's sidebar."""

    title: str
    page: str
    score: float = 0.0


@dataclass
class DocPage:
    """A fetched docs page split into sections."""

    library: str
    page: str
    url: str
    title: str
    sections: list[Section]


def _check_library(library: str) -> str:
    library = library.strip().strip("/")
    if not _SLUG.match(library):
        examples = ", ".join(KNOWN_LIBRARIES[:6])
        raise DocsError(f"{library!r} is not a docs library name; e.g. {examples}")
    return library


def _check_page(page: str) -> str:
    page = page.strip().strip("/")
    if page.startswith(("http://", "https://")):
        parts = urlsplit(page).path.strip("/").split("/")
        page = "/".join(parts[2:]) if parts[:1] == ["docs"] else page
    if ".." in page or not _PAGE.match(page or "index"):
        raise DocsError(f"{page!r} is not a docs page path; use e.g. 'main_classes/trainer'")
    return page


def sidebar_links(html: str, library: str) -> list[DocLink]:
    """Links to pages of ``library`` in a docs page, deduplicated by page path."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    prefix = f"/docs/{library}/"
    links: dict[str, DocLink] = {}
    for anchor in soup.find_all("a", href=True):
        href = str(anchor["href"]).split("#")[0].split("?")[0]
        path = urlsplit(href).path
        if not path.startswith(prefix):
            continue
        page = path[len(prefix):].strip("/")
        # Versioned and translated copies (v4.40.0/en/…, main/en/…, en/…) are one page.
        parts = page.split("/")
        while parts and (parts[0] in ("main", "en") or re.match(r"^v\d", parts[0])):
            parts = parts[1:]
        page = "/".join(parts)
        title = anchor.get_text(" ", strip=True)
        if page and title and page not in links:
            links[page] = DocLink(title=title, page=page)
    return list(links.values())


def rank_links(links: list[DocLink], query: str, limit: int) -> list[DocLink]:
    """Links scored by query words in the title (x2) and path (x1), best first."""
    words = [w for w in re.split(r"\W+", query.lower()) if w]
    ranked = []
    for link in links:
        title, page = link.title.lower(), link.page.lower().replace("_", " ")
        score = sum(2.0 * (w in title) + 1.0 * (w in page) for w in words)
        if score > 0:
            ranked.append(DocLink(link.title, link.page, score))
    ranked.sort(key=lambda d: (-d.score, len(d.page)))
    return ranked[:limit]


class DocsClient:
    """Fetch and search Hugging Face docs pages over a :class:`ServiceClient`."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def fetch(self, library: str, page: str) -> DocPage:
        """A docs page converted to markdown and split into sections."""
        library, page = _check_library(library), _check_page(page)
        path = f"/docs/{library}/{page}" if page else f"/docs/{library}"
        html = await self.client.get_text(path)
        converted: Page = html_to_markdown(html)
        return DocPage(library=library, page=page, url=self.client.resolve(path),
                       title=converted.title, sections=split_sections(converted.markdown))

    async def search(self, library: str, query: str, limit: int = 10) -> list[DocLink]:
        """Pages of ``library`` whose sidebar title or path matches ``query``."""
        library = _check_library(library)
        html = await self.client.get_text(f"/docs/{library}/index")
        links = sidebar_links(html, library)
        if not links:
            raise DocsError(f"the {library} docs index lists no pages; check the library name")
        return rank_links(links, query, limit)
