"""Keeping private files' contents out of model prompts.

Every line of every private file (``private_paths``) is fingerprinted: its values, with
the punctuation that CSV, TSV, JSON Lines, Python reprs and pandas tables put around them
removed. Before a prompt leaves, each line of what it carries (tool outputs, summaries,
harness notes) is fingerprinted the same way, also without a leading row number or file
name (``grep -n``, ``cat -n``, pandas' index); a line that matches a private row is
withheld and the model is told which file it came from and what it may use instead. So
``cat``, ``head``, ``read_file``, ``grep`` and ``print(df.head())`` of a private file all
reach the model as a refusal, while schema (a CSV's header line is not fingerprinted)
and summary statistics (means, counts, distributions) pass.

This is a guard against echoing data into the prompt, not a proof against deliberate
exfiltration: code that re-encodes rows (base64, one value per line) would pass it. The
data-handling page says so; local-only mode and a local model are the answer to that.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from openintern.llm.types import Message
from openintern.private_paths import PrivatePaths

_PUNCTUATION = re.compile(r"[\"'{}\[\]()]")
_SEPARATORS = re.compile(r"[\s,;|:=]+")
_TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt", ".jsonl", ".json", ".ndjson", ".md",
                            ".tab", ".psv", ".dat", ".log", ".xml", ".html", ".yaml", ".yml"})
_TABLE_SUFFIXES = frozenset({".parquet", ".arrow", ".feather"})
_HEADER_SUFFIXES = frozenset({".csv", ".tsv", ".tab", ".psv"})
MAX_FINGERPRINTS = 400_000
MAX_LINES_PER_FILE = 200_000
# How often the private files are checked for changes (they are re-read when changed).
RESCAN_S = 2.0


def _tokens(line: str) -> list[str]:
    return [t for t in _SEPARATORS.split(_PUNCTUATION.sub(" ", line)) if t]


def _key(tokens: list[str]) -> str | None:
    """The fingerprint text of a line, or None when too short to be distinctive."""
    if not tokens:
        return None
    key = " ".join(tokens)
    chars = len(key) - len(tokens) + 1
    if (len(tokens) >= 2 and chars >= 8) or chars >= 16:
        return key
    return None


@dataclass
class Withheld:
    """What was withheld from one text: lines per private file."""

    lines: dict[str, int] = field(default_factory=dict)

    def add(self, other: Withheld) -> None:
        """Fold ``other`` in."""
        for path, n in other.lines.items():
            self.lines[path] = self.lines.get(path, 0) + n


def notice(path: str, lines: int, view: str) -> str:
    """The text that replaces withheld lines (what the model sees)."""
    allowed = ("its schema (column names and types)" if view == "schema"
               else "its schema and summary statistics (counts, means, distributions)")
    return (f"[private data withheld: {lines} line{'s' if lines != 1 else ''} from {path} "
            f"— private_paths keeps its contents out of the prompt; you may use {allowed}: "
            "`datasets` operation=audit on it, or code that prints aggregates only]")


class PrivateDataFilter:
    """Withholds private rows from prompt text (see the module docstring)."""

    def __init__(self, private: PrivatePaths, *, view: str = "summary") -> None:
        self.private = private
        self.view = view
        self._lock = threading.Lock()
        self._fingerprints: dict[str, str] = {}  # line key -> private file (relative)
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._checked_at = 0.0
        self._memo: dict[str, tuple[str, Withheld]] = {}
        self.truncated: list[str] = []  # files only partly fingerprinted (too large)

    # --- fingerprints ----------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the private files if any changed (at most every ``RESCAN_S``)."""
        now = time.monotonic()
        with self._lock:
            if now - self._checked_at < RESCAN_S and self._signature is not None:
                return
            self._checked_at = now
            files = list(self.private.files())
            signature = tuple(sorted(
                (str(p), int(s.st_size), int(s.st_mtime_ns))
                for p in files for s in [os.stat(p)]))
            if signature == self._signature:
                return
            self._signature = signature
            self._fingerprints = {}
            self._memo = {}
            self.truncated = []
            for path in files:
                rel = self.private.relative(path) or path.name
                self._fingerprint(path, rel)

    def _fingerprint(self, path: Path, rel: str) -> None:
        suffix = path.suffix.lower()
        if suffix in _TABLE_SUFFIXES:
            rows = _table_rows(path)
        elif suffix in _TEXT_SUFFIXES or _looks_text(path):
            rows = _text_lines(path, skip_header=suffix in _HEADER_SUFFIXES)
        else:
            return  # binary: not text a prompt could quote line by line
        for count, line in enumerate(rows):
            if count >= MAX_LINES_PER_FILE or len(self._fingerprints) >= MAX_FINGERPRINTS:
                self.truncated.append(rel)
                return
            key = _key(_tokens(line))
            if key is not None:
                self._fingerprints.setdefault(key, rel)

    @property
    def active(self) -> bool:
        """Whether there is anything to withhold."""
        return bool(self.private)

    # --- filtering -------------------------------------------------------------------
    def _match(self, line: str) -> str | None:
        tokens = _tokens(line)
        for candidate in (tokens, tokens[1:], tokens[2:]):
            key = _key(candidate)
            if key is not None:
                found = self._fingerprints.get(key)
                if found is not None:
                    return found
        return None

    def filter_text(self, text: str) -> tuple[str, Withheld]:
        """``text`` with private lines replaced by a notice (memoised per text)."""
        if not self._fingerprints or not text:
            return text, Withheld()
        cached = self._memo.get(text)
        if cached is not None:
            return cached
        out: list[str] = []
        withheld = Withheld()
        run_path: str | None = None
        run = 0
        for line in text.split("\n"):
            found = self._match(line)
            if found is not None and found == run_path:
                run += 1
                continue
            if run_path is not None:
                out.append(notice(run_path, run, self.view))
                withheld.lines[run_path] = withheld.lines.get(run_path, 0) + run
                run_path, run = None, 0
            if found is not None:
                run_path, run = found, 1
                continue
            out.append(line)
        if run_path is not None:
            out.append(notice(run_path, run, self.view))
            withheld.lines[run_path] = withheld.lines.get(run_path, 0) + run
        result = ("\n".join(out) if withheld.lines else text, withheld)
        if len(self._memo) > 20_000:
            self._memo.clear()
        self._memo[text] = result
        return result

    def filter_messages(self, messages: Iterable[Message], *, keep_typed: bool = True
                        ) -> tuple[list[Message], Withheld]:
        """Copies of the messages with private lines withheld. With ``keep_typed``,
        messages the user typed are left as they are (what a person sends is theirs to
        send); a tool's own model calls have no typed messages."""
        self.refresh()
        out: list[Message] = []
        total = Withheld()
        for message in messages:
            if keep_typed and message.role == "user" and not message.kind:
                out.append(message)
                continue
            text, withheld = self.filter_text(message.content or "")
            if withheld.lines:
                total.add(withheld)
                message = replace(message, content=text)
            out.append(message)
        return out, total


def _looks_text(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return b"\0" not in head


def _text_lines(path: Path, *, skip_header: bool) -> Iterable[str]:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle):
                if skip_header and number == 0:
                    continue
                yield line.rstrip("\n")
    except OSError:
        return


def _table_rows(path: Path) -> Iterable[str]:
    """Rows of a Parquet/Arrow file as space-joined values (through DuckDB)."""
    try:
        import duckdb

        reader = "read_parquet" if path.suffix.lower() == ".parquet" else "read_arrow"
        con = duckdb.connect()
        try:
            cursor = con.execute(f"SELECT * FROM {reader}(?) LIMIT {MAX_LINES_PER_FILE}",
                                 [str(path)])
            while True:
                batch = cursor.fetchmany(2048)
                if not batch:
                    break
                for row in batch:
                    yield " ".join("" if v is None else str(v) for v in row)
        finally:
            con.close()
    except Exception:  # unreadable table: nothing to fingerprint, never a crash
        return
