"""HTML pages as clean markdown, and markdown split into heading sections.

Navigation, scripts, styles, forms and footers are dropped; the main content element
(``<main>``, ``<article>``, a ``role=main`` element, or the body) is converted with
markdownify (MIT) over BeautifulSoup's built-in ``html.parser``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DROP_TAGS = ("script", "style", "noscript", "svg", "nav", "footer", "header", "aside", "form",
              "iframe", "button", "template", "link", "meta")
_BLANK_RUNS = re.compile(r"\n{3,}")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass
class Page:
    """A converted page: its title and markdown body."""

    title: str
    markdown: str


@dataclass
class Section:
    """A heading and the markdown under it (up to the next heading of any level)."""

    title: str
    level: int
    text: str


def html_to_markdown(html: str) -> Page:
    """Convert an HTML page to markdown, keeping only its main content."""
    from bs4 import BeautifulSoup
    from markdownify import markdownify

    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    root = (
        soup.find("main")
        or soup.find("article")
        or soup.find(None, {"role": "main"})
        or soup.body
        or soup
    )
    for tag in root.find_all(_DROP_TAGS):
        tag.decompose()
    markdown = markdownify(str(root), heading_style="ATX", bullets="-", strip=["img"])
    markdown = "\n".join(line.rstrip() for line in markdown.splitlines())
    markdown = _BLANK_RUNS.sub("\n\n", markdown).strip()
    if not title:
        first = next((s.title for s in split_sections(markdown) if s.level), "")
        title = first
    return Page(title=title, markdown=markdown)


def split_sections(markdown: str) -> list[Section]:
    """Split markdown on ATX headings (``#`` … ``######``), outside code fences.

    Text before the first heading becomes a section with level 0 and an empty title.
    """
    sections: list[Section] = []
    title, level = "", 0
    body: list[str] = []
    in_fence = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            if body or title:
                sections.append(Section(title, level, "\n".join(body).strip()))
            title, level, body = match.group(2).strip(), len(match.group(1)), [line]
        else:
            body.append(line)
    if body or title:
        sections.append(Section(title, level, "\n".join(body).strip()))
    return [s for s in sections if s.text]


def truncate(text: str, max_chars: int, how_to_get_more: str) -> str:
    """Cut ``text`` to ``max_chars`` at a line break, with a note saying how to get more."""
    if len(text) <= max_chars:
        return text
    cut = text.rfind("\n", 0, max_chars)
    cut = cut if cut > max_chars // 2 else max_chars
    return (
        text[:cut].rstrip()
        + f"\n\n[… truncated: showing {cut:,} of {len(text):,} characters; {how_to_get_more}]"
    )
