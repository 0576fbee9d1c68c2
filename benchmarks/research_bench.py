"""Speed of the research tools' hot paths, printed as a table.

1. Cached lookup: median latency of 50 GETs served from the on-disk cache through
   ``ServiceClient`` + ``DiskCache``, against a local fixture server replaying a recorded
   Semantic Scholar search (target under 10 ms). The uncached median is shown beside it.
2. Full-text sections: a real 30-page PDF with numbered section headings is generated,
   then ``FullTextReader.read_pdf_bytes`` extracts its text and splits it into sections,
   and the "Method" section is picked (the path the papers tool takes for a PDF).
3. Local audit: ``audit_dataset`` on the 1,000,000-row Parquet train split (plus a
   100,000-row test split) made by ``benchmarks/audit_bench.py``'s generator.

Run: ``python benchmarks/research_bench.py [--rows N] [--lookups N]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from openintern.data.audit import AuditOptions, audit_dataset
from openintern.http import DiskCache, ServiceClient
from openintern.literature.fulltext import FullTextReader, pdf_to_text
from openintern.literature.sections import split_pdf_text

_REPO = Path(__file__).resolve().parents[1]
# The fixture server and PDF writer of the research tests; the audit data generator.
sys.path[:0] = [str(_REPO / "tests" / "research"), str(_REPO / "benchmarks")]

from fixture_server import FixtureServer, Route, RouteKey  # noqa: E402
from pdf_writer import make_pdf  # noqa: E402

from audit_bench import make_dataset  # noqa: E402

LOOKUP_TARGET_MS = 10.0
AUDIT_TARGET_S = 10.0
PDF_PAGES = 30
LINES_PER_PAGE = 48


@dataclass
class Row:
    """One line of the results table."""

    measure: str
    value: str
    target: str = "-"
    ok: bool | None = None


# --- 1. cached lookups --------------------------------------------------------------------
async def _lookup_latencies(base_url: str, cache_dir: Path,
                            n: int) -> tuple[list[float], list[float]]:
    """(cached ms, uncached ms) of ``n`` GETs each; a cached GET must not reach the server."""
    params = {"query": "transformer", "limit": 10, "fields": "title,year,citationCount"}
    async with ServiceClient(service="semantic-scholar", base_url=base_url,
                             cache=DiskCache(cache_dir)) as client:
        uncached = []
        for _ in range(n):
            started = time.perf_counter()
            await client.fetch("GET", "/graph/v1/paper/search", params, use_cache=False)
            uncached.append((time.perf_counter() - started) * 1000)
        await client.get_json("/graph/v1/paper/search", params)  # fills the cache
        cached = []
        for _ in range(n):
            started = time.perf_counter()
            response = await client.fetch("GET", "/graph/v1/paper/search", params)
            cached.append((time.perf_counter() - started) * 1000)
            if not response.from_cache:
                raise SystemExit("a cached lookup went to the network")
    return cached, uncached


def bench_lookups(n: int) -> list[Row]:
    """Median latency of cached and uncached GETs against a local fixture server."""
    routes: dict[RouteKey, Route | list[Route]] = {
        "/graph/v1/paper/search": Route(fixture="semanticscholar/paper_search.json")}
    with FixtureServer(routes) as server, tempfile.TemporaryDirectory() as tmp:
        cached, uncached = asyncio.run(_lookup_latencies(server.url, Path(tmp), n))
        network = len(server.requests)
    median = statistics.median(cached)
    return [
        Row(f"cached lookup, median of {n} (ms)", f"{median:.3f}",
            f"< {LOOKUP_TARGET_MS:.0f}", median < LOOKUP_TARGET_MS),
        Row(f"cached lookup, max of {n} (ms)", f"{max(cached):.3f}"),
        Row(f"uncached lookup over HTTP, median of {n} (ms)", f"{statistics.median(uncached):.3f}"),
        Row("requests that reached the server", f"{network} (= {n} uncached + 1 fill)",
            ok=network == n + 1),
    ]


# --- 2. full-text sections of a 30-page PDF -------------------------------------------------
# (first page, number, title) of each heading; subsections share the page of their text.
OUTLINE = [
    (1, "", "Abstract"), (1, "1", "Introduction"), (4, "2", "Related Work"),
    (7, "3", "Method"), (9, "3.1", "Problem Setup"), (11, "3.2", "Training Objective"),
    (13, "3.3", "Implementation Details"), (15, "4", "Experiments"),
    (18, "4.1", "Main Results"), (21, "4.2", "Ablations"), (23, "5", "Discussion"),
    (26, "6", "Conclusion"), (27, "", "References"),
]
SENTENCE = ("we fit the model on batches of examples and report the mean accuracy over "
            "three seeds, page {page} line {line}.")


def thirty_page_pdf() -> tuple[bytes, set[int]]:
    """A 30-page paper with the OUTLINE's headings; also the pages of section 3."""
    starts: dict[int, list[str]] = {page: [] for page in range(1, PDF_PAGES + 1)}
    for page, number, title in OUTLINE:
        starts[page].append(f"{number} {title}".strip())
    pages = []
    for page in range(1, PDF_PAGES + 1):
        lines = ["A Thirty Page Study of Widget Counting", "Ada Author, Bo Builder"] \
            if page == 1 else []
        lines += starts[page]
        while len(lines) < LINES_PER_PAGE:
            lines.append(SENTENCE.format(page=page, line=len(lines) + 1))
        pages.append(lines)
    method_pages = set(range(7, 15))
    return make_pdf(pages), method_pages


def _read_method(data: bytes) -> tuple[str, str]:
    """The papers tool's PDF path: extract, split, pick "Method"; (heading, its text)."""
    paper = asyncio.run(FullTextReader.read_pdf_bytes(data, url="bench.pdf"))
    index = paper.find("Method")
    if index is None:
        return "none", ""
    return paper.sections[index].heading, paper.section_text(index)


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_fulltext(repeat: int = 5) -> list[Row]:
    """Time PDF text extraction, section splitting and picking the Method section."""
    data, method_pages = thirty_page_pdf()
    started = time.perf_counter()
    picked, method = _read_method(data)
    cold = (time.perf_counter() - started) * 1000  # includes importing pypdf
    warm = _median_ms(lambda: _read_method(data), repeat)
    # The same work split into its two stages, to show where the time goes.
    text = pdf_to_text(data)
    extract = _median_ms(lambda: pdf_to_text(data), repeat)
    split = _median_ms(lambda: split_pdf_text(text), repeat)
    sections = len(split_pdf_text(text).sections)
    pages_in_method = {p for p in range(1, PDF_PAGES + 1) if f"page {p} line" in method}
    return [
        Row(f"PDF size ({PDF_PAGES} pages, {LINES_PER_PAGE} lines each)",
            f"{len(data) / 1024:.0f} KiB"),
        Row("full-text read: extract + split + pick Method, first call (ms)", f"{cold:.1f}"),
        Row(f"full-text read: extract + split + pick Method, median of {repeat} (ms)",
            f"{warm:.1f}"),
        Row("  of which pypdf text extraction (ms)", f"{extract:.1f}"),
        Row("  of which section split (ms)", f"{split:.1f}"),
        Row("sections found / expected (incl. front matter)",
            f"{sections} / {len(OUTLINE) + 1}", ok=sections == len(OUTLINE) + 1),
        Row("section picked for 'Method', pages it covers",
            f"{picked}, pp. {min(pages_in_method, default=0)}-{max(pages_in_method, default=0)}",
            ok=picked == "3 Method" and pages_in_method == method_pages),
    ]


# --- 3. local audit of 1M Parquet rows ---------------------------------------------------
def bench_audit(rows: int) -> list[Row]:
    """Generate the audit benchmark's Parquet splits and time the audit."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        planted = make_dataset(folder, rows)
        started = time.perf_counter()
        report = audit_dataset(folder, AuditOptions(key_columns=["text"]))
        elapsed = time.perf_counter() - started
    train, test = report.splits[0], report.splits[1]
    leaked = report.overlaps[0].near
    dups = planted["exact_dups"] + planted["near_dups"]
    return [
        Row("audit rows (train + test)", f"{train.rows + test.rows:,}"),
        Row("local audit wall time (s)", f"{elapsed:.2f}", f"< {AUDIT_TARGET_S:.0f}",
            elapsed < AUDIT_TARGET_S),
        Row("near-duplicate train rows found / planted",
            f"{train.near_duplicates:,} / {dups:,}", ok=train.near_duplicates >= dups),
        Row("leaked test rows found / planted", f"{leaked:,} / {planted['leaked']:,}",
            ok=leaked >= planted["leaked"]),
    ]


def main() -> None:
    """Run the three benchmarks and print one table; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="audit train rows")
    parser.add_argument("--lookups", type=int, default=50, help="cached GETs to time")
    args = parser.parse_args()
    rows = [*bench_lookups(args.lookups), *bench_fulltext(), *bench_audit(args.rows)]
    table = Table(title="OpenIntern research tools benchmark")
    for name, justify in (("measure", "left"), ("value", "right"), ("target", "right"),
                          ("ok", "center")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        mark = "-" if row.ok is None else ("yes" if row.ok else "NO")
        table.add_row(row.measure, row.value, row.target, mark)
    Console(width=120).print(table)
    if any(row.ok is False for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
