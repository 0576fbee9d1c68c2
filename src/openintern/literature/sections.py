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
    r"bibliography|acknowledge?ments?|appendix|appendices|limitations|"
    r"supplementary materials?)$",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,2})\.?\s+([A-Z][^\n]{1,80})$")
# Appendix sections after the references: "A Proofs", "B.2 More results", "Appendix C: ...".
_LETTERED = re.compile(r"^(?:Appendix\s+)?([A-H](?:\.\d{1,2}){0,2})[.:]?\s+([A-Z][^\n]{1,80})$")
_ROMAN = re.compile(r"^([IVXL]{1,6})\.\s+(.+)$")
_ENDS_REFERENCES = re.compile(r"^(appendix|appendices|supplementary materials?|"
                              r"acknowledge?ments?)\b", re.IGNORECASE)
# A reference entry, not a heading: initials ("A. Vaswani"), "et al", a year, a page range.
_CITATION = re.compile(
    r"\b[A-Z]\.\s?[A-Z][a-z]|\bet al\b|\b(?:19|20)\d{2}[a-z]?\b|\d+\s?[-–]\s?\d+"
)
# Words a heading does not end with: the title goes on on the next line.
_CONNECTORS = frozenset({"a", "an", "the", "of", "for", "and", "or", "in", "on", "with", "to",
                         "via", "under", "from", "by", "at", "as", "towards", "between",
                         "without", "using", "through", "into", "&", "-", ":", "vs", "vs."})


def _caps_title(text: str) -> bool:
    """Upper-case heading text: every letter upper case (any script, so "N → ∞" is fine),
    at least three letters, a few words."""
    letters = [ch for ch in text if ch.isalpha()]
    return (len(letters) >= 3 and all(ch.isupper() for ch in letters)
            and 4 <= len(text) <= 80 and len(text.split()) <= 10)


def _heading(line: str, last_number: tuple[int, ...], zone: str) -> tuple[str, str, int] | None:
    """(number, title, level) when ``line`` looks like a heading. ``zone`` is "body",
    "references" or "appendix" (after the references): in the references only the
    headings that end them count, so numbered bibliography entries never become
    sections; appendices may be lettered ("A Proofs")."""
    if len(line) > 90:
        return None
    if _NAMED.match(line):
        if zone == "references" and not _ENDS_REFERENCES.match(line):
            return None
        return "", line.title() if line.isupper() else line, 1
    if zone != "body":
        match = _LETTERED.match(line)
        if (match and len(match.group(2).split()) <= 12 and not match.group(2).endswith(".")
                and not _CITATION.search(match.group(2))):
            return match.group(1), match.group(2).strip(), match.group(1).count(".") + 1
        if zone == "references":
            return None
    match = _NUMBERED.match(line)
    if match and zone == "body":
        number, title = match.group(1), match.group(2).strip()
        words = title.split()
        parts = tuple(int(p) for p in number.split("."))
        # Headings are short, do not end like sentences, and numbers only move forward.
        if (len(words) <= 12 and not title.endswith((".", ",", ";")) and parts > last_number
                and parts[0] <= 30 and not re.search(r"\d{3,}", title)
                and not _CITATION.search(title)):
            return number, title, len(parts)
        return None
    if match:
        return None
    roman = _ROMAN.match(line)
    if roman and _caps_title(roman.group(2)):
        return roman.group(1), roman.group(2).strip().title(), 1
    if _caps_title(line) and len(line.split()) <= 6:
        return "", line.strip().title(), 1
    return None


def _continues_title(heading: str, caps: bool, nxt: str) -> bool:
    """Whether ``nxt`` is the second line of a title that wrapped: a short line in the
    heading's style, after a heading that is long or ends mid-phrase."""
    words = nxt.split()
    if not words or len(words) > 8 or nxt.endswith((".", ",", ";", ":")):
        return False
    if _NUMBERED.match(nxt) or _ROMAN.match(nxt) or _NAMED.match(nxt):
        return False
    last = heading.split()[-1].lower() if heading.split() else ""
    mid_phrase = last in _CONNECTORS or heading.endswith(("-", ":"))
    if not (mid_phrase or len(heading) >= 30):
        return False
    if caps:
        return _caps_title(nxt)
    long_words = [w for w in words if len(w) >= 4 and w[0].isalpha()]
    capitalised = [w for w in long_words if w[0].isupper()]
    return bool(long_words) and len(capitalised) * 2 >= len(long_words) and (
        words[0][0].isupper() or words[0].lower() in _CONNECTORS)


def split_pdf_text(text: str, title: str = "", url: str = "") -> PaperText:
    """Sections of plain text extracted from a PDF, found by heading heuristics."""
    sections = [Section("", "Front matter", 1)]
    buffers: list[list[str]] = [[]]
    last: tuple[int, ...] = (0,)
    zone = "body"
    lines = [" ".join(raw.split()) for raw in text.splitlines()]
    i = 0
    while i < len(lines):
        line = lines[i]
        found = _heading(line, last, zone) if line else None
        if found is None:
            buffers[-1].append(line)
            i += 1
            continue
        number, heading_title, level = found
        caps = _caps_title(line.removeprefix(number).strip(" .:"))
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _continues_title(line, caps, nxt):
            heading_title = f"{heading_title} {nxt.title() if caps else nxt}"
            i += 1
        if number and number[0].isdigit():
            last = tuple(int(p) for p in number.split("."))
        if heading_title.lower() in ("references", "bibliography"):
            zone = "references"
        elif zone == "references":
            zone = "appendix"  # only a heading that ends the references got this far
        sections.append(Section(number, heading_title, level))
        buffers.append([])
        i += 1
    for sec, buf in zip(sections, buffers, strict=True):
        sec.text = _clean("\n".join(buf))
    kept = [s for s in sections if s.text or s is not sections[0]]
    if not title and kept and kept[0].title == "Front matter" and kept[0].text:
        title = kept[0].text.split("\n", 1)[0]
    return PaperText(source="pdf", title=title, sections=kept, url=url)
