"""Read a paper's full text by section: arXiv HTML first, the PDF as fallback.

arXiv serves LaTeXML HTML at ``<arxiv_web_url>/html/<id>`` for most recent papers; when
there is none (404) or the conversion failed (a notice page without
``<article class="ltx_document">``), the PDF at ``<arxiv_web_url>/pdf/<id>`` is fetched and
its text extracted with pypdf (BSD licence; PyMuPDF is AGPL and is not used). Parsing runs
in a worker thread so a large paper never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass

from openintern.http import ServiceClient, ServiceNotFound
from openintern.literature.arxiv import split_arxiv_id
from openintern.literature.sections import PaperText, is_latexml, parse_latexml, split_pdf_text

log = logging.getLogger(__name__)


class FullTextUnavailable(Exception):
    """Neither HTML nor a readable PDF could be obtained for a paper."""


@dataclass
class TocEntry:
    """One line of a table of contents."""

    index: int
    number: str
    title: str
    level: int
    chars: int


def pdf_to_text(data: bytes) -> str:
    """Plain text of a PDF, pages separated by blank lines. Raises FullTextUnavailable
    for files pypdf cannot read (encrypted, corrupt, not a PDF)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise FullTextUnavailable(f"the PDF could not be read ({exc})") from None
    return "\n\n".join(pages)


def table_of_contents(paper: PaperText) -> list[TocEntry]:
    """Sections with their sizes (characters including subsections)."""
    return [
        TocEntry(i, s.number, s.title, s.level, sum(len(x.text) for x in paper.span(i)))
        for i, s in enumerate(paper.sections)
    ]


class FullTextReader:
    """Fetches and splits papers from arXiv's web host (``settings.arxiv_web_url``)."""

    def __init__(self, http: ServiceClient) -> None:
        self.http = http

    async def read_arxiv(self, arxiv_id: str) -> PaperText:
        """The sections of an arXiv paper (HTML if available, else PDF)."""
        parsed = split_arxiv_id(arxiv_id)
        if parsed is None:
            raise FullTextUnavailable(
                f"{arxiv_id!r} is not an arXiv id; give one like 2104.12255 or astro-ph/0601001"
            )
        paper_id = parsed[0] + (f"v{parsed[1]}" if parsed[1] else "")
        try:
            html = await self.http.get_text(f"/html/{paper_id}")
        except ServiceNotFound:
            html = ""
        if html and is_latexml(html):
            url = self.http.resolve(f"/html/{paper_id}")
            paper = await asyncio.to_thread(parse_latexml, html, url)
            if paper.sections:
                return paper
        log.info("no usable arXiv HTML for %s; falling back to the PDF", paper_id)
        try:
            data = await self.http.get_bytes(f"/pdf/{paper_id}")
        except ServiceNotFound:
            raise FullTextUnavailable(
                f"arXiv has neither HTML nor a PDF for {paper_id}; check the id"
            ) from None
        return await self.read_pdf_bytes(data, url=self.http.resolve(f"/pdf/{paper_id}"))

    async def read_pdf_url(self, url: str) -> PaperText:
        """The sections of a PDF at any URL (fetched without credentials)."""
        data = await self.http.get_bytes(url)
        return await self.read_pdf_bytes(data, url=url)

    @staticmethod
    async def read_pdf_bytes(data: bytes, *, url: str = "") -> PaperText:
        """The sections of a PDF given as bytes."""
        if not data.startswith(b"%PDF"):
            raise FullTextUnavailable(f"{url or 'the download'} is not a PDF file")
        text = await asyncio.to_thread(pdf_to_text, data)
        if not text.strip():
            raise FullTextUnavailable(
                f"{url or 'the PDF'} has no extractable text (probably scanned images)"
            )
        return await asyncio.to_thread(split_pdf_text, text, "", url)
