"""A paper's text split into sections: from arXiv HTML (LaTeXML) or from PDF text.

LaTeXML pages wrap the paper in ``<article class="ltx_document">``; sections are
``<section class="ltx_section" id="S1">`` (``ltx_subsection``, ``ltx_appendix``,
``ltx_bibliography``...) whose first ``<hN class="ltx_title">`` holds an
``<span class="ltx_tag">3 </span>`` number and the title; the abstract is
``<div class="ltx_abstract">``; formulas are ``<math alttext="...">`` (kept as ``$alttext$``).

PDF text has no structure, so headings are guessed line by line: numbered headings
("3 Method", "3.1 Setup"), roman/ALL-CAPS headings ("II. RELATED WORK"), and the usual
unnumbered names (Abstract, References, Acknowledgements, Appendix).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_SECTION_LEVELS = {
    "ltx_section": 1, "ltx_appendix": 1, "ltx_bibliography": 1, "ltx_acknowledgements": 1,
    "ltx_subsection": 2, "ltx_subsubsection": 3, "ltx_paragraph": 4,
}
_SKIP_TAGS = frozenset({"script", "style", "nav", "header", "footer", "button", "svg"})
_BLOCK_TAGS = frozenset({"p", "div", "li", "tr", "br", "figcaption", "h1", "h2", "h3", "h4",
                         "h5", "h6", "table", "figure", "section", "blockquote", "dd", "dt"})
_VOID_TAGS = frozenset({"br", "img", "hr", "meta", "link", "input", "col", "source", "wbr"})


@dataclass
class Section:
    """One section: ``number`` like "3", "3.1", "A" (or "" when unnumbered)."""

    number: str
    title: str
    level: int
    text: str = ""

    @property
    def heading(self) -> str:
        """Number and title, e.g. "3 Methodology"."""
        return f"{self.number} {self.title}".strip()


@dataclass
class PaperText:
    """The full text of a paper as an ordered list of sections (subsections follow their
    parent with a higher ``level``)."""

    source: str  # "html" or "pdf"
    title: str
    sections: list[Section] = field(default_factory=list)
    url: str = ""

    def total_chars(self) -> int:
        """Characters of text in all sections."""
        return sum(len(s.text) for s in self.sections)

    def span(self, index: int) -> list[Section]:
        """Section ``index`` followed by its subsections."""
        head = self.sections[index]
        out = [head]
        for sec in self.sections[index + 1:]:
            if sec.level <= head.level:
                break
            out.append(sec)
        return out

    def section_text(self, index: int) -> str:
        """Text of section ``index`` including its subsections, with their headings."""
        parts = []
        for sec in self.span(index):
            parts.append(f"{'#' * min(sec.level + 1, 4)} {sec.heading}")
            if sec.text:
                parts.append(sec.text)
        return "\n\n".join(parts)

    def find(self, query: str) -> int | None:
        """Index of the section best matching ``query`` (a number like "3.1", a title,
        or a word such as "method" matching "3 Methodology"); None if nothing is close."""
        return find_section(self.sections, query)


# --- fuzzy section lookup -----------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s.]", " ", text.lower()).split())


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 4 and word.endswith("s") else word


def find_section(sections: list[Section], query: str) -> int | None:
    """See :meth:`PaperText.find`. Order of preference: exact number, exact title,
    title prefix, word-prefix match (query words each start a title word), close match."""
    q = _norm(re.sub(r"^(section|sec\.?|appendix|chapter)\s+", "", query.strip(), flags=re.I))
    if not q:
        return None
    q_number = q.split(" ", 1)[0].rstrip(".")
    for i, sec in enumerate(sections):
        if sec.number and sec.number.lower().rstrip(".") == q_number and (
            q == q_number or _norm(sec.title).startswith(_norm(q[len(q_number):]))
        ):
            return i
    titles = [_norm(s.title) for s in sections]
    for i, title in enumerate(titles):
        if title == q:
            return i
    for i, title in enumerate(titles):
        if title.startswith(q):
            return i
    q_words = [_stem(w) for w in q.split()]
    for i, title in enumerate(titles):
        words = title.split()
        if all(any(w.startswith(qw) or qw.startswith(_stem(w)) for w in words)
               for qw in q_words):
            return i
    close = difflib.get_close_matches(q, titles, n=1, cutoff=0.6)
    return titles.index(close[0]) if close else None


# --- HTML (LaTeXML) ------------------------------------------------------------------------
class _LatexmlParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.sections: list[Section] = [Section("", "Front matter", 1)]
        self._buffers: list[list[str]] = [[]]  # text per section, parallel to sections
        self._stack: list[tuple[str, str]] = []  # (tag, role)
        self._in_article = False
        self._skip = 0
        self._heading: list[str] | None = None
        self._heading_tag: str | None = None
        self._tag_text: list[str] | None = None
        self._section_has_title: list[bool] = [True]

    # helpers
    def _emit(self, text: str) -> None:
        if self._heading is not None:
            if self._tag_text is not None:
                self._tag_text.append(text)
            else:
                self._heading.append(text)
        else:
            self._buffers[-1].append(text)

    def _open_section(self, level: int, title: str = "") -> None:
        # The section's first ltx_title heading (if any) sets or replaces the title.
        self.sections.append(Section("", title, level))
        self._buffers.append([])
        self._section_has_title.append(False)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        classes = set(attr.get("class", "").split())
        if tag == "article" and "ltx_document" in classes:
            self._in_article = True
        if not self._in_article:
            return
        role = ""
        if self._skip or tag in _SKIP_TAGS or "ltx_role_footnote" in classes:
            role = "skip"
            self._skip += 1
        elif tag == "math":
            self._emit(f"${attr.get('alttext', '').strip()}$")
            role = "skip"
            self._skip += 1
        elif tag == "section" and classes & _SECTION_LEVELS.keys():
            level = min(_SECTION_LEVELS[c] for c in classes & _SECTION_LEVELS.keys())
            role = "section"
            self._open_section(level)
        elif tag == "div" and "ltx_abstract" in classes:
            role = "section"
            self._open_section(1, "Abstract")
        elif re.fullmatch(r"h[1-6]", tag) and "ltx_title" in classes:
            if "ltx_title_document" in classes:
                role, self._heading = "doc_title", []
            elif not self._section_has_title[-1]:
                role, self._heading = "heading", []
            if role:
                self._heading_tag = tag
        elif tag == "span" and "ltx_tag" in classes and self._heading is not None:
            role, self._tag_text = "tag", []
        if tag in _BLOCK_TAGS and role != "skip":
            self._emit("\n")
        if tag not in _VOID_TAGS:
            self._stack.append((tag, role))

    def handle_endtag(self, tag: str) -> None:
        if not self._in_article:
            return
        if tag == "article":
            self._in_article = False
        while self._stack:
            open_tag, role = self._stack.pop()
            self._close(role)
            if open_tag == tag:
                break
        if tag in _BLOCK_TAGS:
            self._emit("\n")

    def _close(self, role: str) -> None:
        # A closing section needs no work: LaTeXML parents hold no text after their
        # subsections, so later text always belongs to the most recently opened section.
        if role == "skip":
            self._skip -= 1
        elif role == "tag" and self._tag_text is not None and self._heading is not None:
            number = " ".join("".join(self._tag_text).split()).rstrip(":.")
            number = re.sub(r"^(Appendix|Section)\s+", "", number)
            self.sections[-1].number = number
            self._tag_text = None
        elif role in ("heading", "doc_title") and self._heading is not None:
            text = " ".join("".join(self._heading).split())
            if role == "doc_title":
                self.title = text
            else:
                self.sections[-1].title = text or self.sections[-1].title
                self._section_has_title[-1] = True
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._in_article and not self._skip:
            # Newlines inside HTML text are layout, not structure: blocks make lines.
            self._emit(re.sub(r"\s+", " ", data))


def _clean(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def is_latexml(html: str) -> bool:
    """True when the page holds a converted paper (not a failed-conversion notice)."""
    return re.search(r"<article[^>]*class=\"[^\"]*ltx_document", html) is not None


def parse_latexml(html: str, url: str = "") -> PaperText:
    """Sections of an arXiv HTML (LaTeXML) page."""
    parser = _LatexmlParser()
    parser.feed(html)
    parser.close()
    sections = []
    for sec, buf in zip(parser.sections, parser._buffers, strict=True):
        sec.text = _clean("".join(buf))
        if sec.title or sec.text:
            sections.append(sec)
    if sections and sections[0].title == "Front matter" and not sections[0].text:
        sections.pop(0)
    return PaperText(source="html", title=parser.title, sections=sections, url=url)


# --- PDF text ----------------------------------------------------------------------------
_NAMED = re.compile(
    r"^(abstract|introduction|related work|background|conclusions?|discussion|references|"
    r"bibliography|acknowledge?ments?|appendix|appendices|limitations)$",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,2})\.?\s+([A-Z][^\n]{1,80})$")
_ROMAN_CAPS = re.compile(r"^(?:([IVX]{1,5})\.\s+)?([A-Z][A-Z0-9 \-&:,]{3,60})$")


def _heading(line: str, last_number: tuple[int, ...]) -> tuple[str, str, int] | None:
    """(number, title, level) when ``line`` looks like a heading."""
    if len(line) > 90:
        return None
    if _NAMED.match(line):
        return "", line.title() if line.isupper() else line, 1
    match = _NUMBERED.match(line)
    if match:
        number, title = match.group(1), match.group(2).strip()
        words = title.split()
        parts = tuple(int(p) for p in number.split("."))
        # Headings are short, do not end like sentences, and numbers only move forward.
        if (len(words) <= 12 and not title.endswith((".", ",", ";")) and parts > last_number
                and parts[0] <= 30 and not re.search(r"\d{3,}", title)):
            return number, title, len(parts)
        return None
    match = _ROMAN_CAPS.match(line)
    if match and len(match.group(2).split()) <= 6 and any(c.isalpha() for c in match.group(2)):
        return match.group(1) or "", match.group(2).strip().title(), 1
    return None


def split_pdf_text(text: str, title: str = "", url: str = "") -> PaperText:
    """Sections of plain text extracted from a PDF, found by heading heuristics."""
    sections = [Section("", "Front matter", 1)]
    buffers: list[list[str]] = [[]]
    last: tuple[int, ...] = (0,)
    for raw in text.splitlines():
        line = " ".join(raw.split())
        found = _heading(line, last) if line else None
        if found is not None:
            number, heading_title, level = found
            if number and number[0].isdigit():
                last = tuple(int(p) for p in number.split("."))
            sections.append(Section(number, heading_title, level))
            buffers.append([])
        else:
            buffers[-1].append(line)
    for sec, buf in zip(sections, buffers, strict=True):
        sec.text = _clean("\n".join(buf))
    kept = [s for s in sections if s.text or s is not sections[0]]
    if not title and kept and kept[0].title == "Front matter" and kept[0].text:
        title = kept[0].text.split("\n", 1)[0]
    return PaperText(source="pdf", title=title, sections=kept, url=url)
