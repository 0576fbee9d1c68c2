"""Spill files: where full tool outputs stay readable after the context shortens them.

Two things shorten a tool output in the request: head+tail truncation of one oversized
output (when it is recorded, or as a last resort to fit the window) and observation
masking (old outputs replaced by a one-line stub). Both first write the full text to a
file under the workspace and name that file in what the model sees, so the agent can
``read_file`` it again; nothing is lost.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_NOTICE = "[... {cut:,} characters cut; full text: {path} (use read_file) ...]"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_file_stem(raw: str, *, fallback: str = "output") -> str:
    """A file-name stem made of ``raw`` (a tool call id, say) that cannot escape a folder."""
    stem = _UNSAFE.sub("_", raw).strip("._")[:80]
    return stem or fallback


def display_path(path: Path, workspace: Path) -> str:
    """``path`` relative to the workspace when inside it (what the agent's tools accept),
    otherwise absolute."""
    try:
        return path.resolve().relative_to(workspace.resolve()).as_posix()
    except ValueError:
        return str(path)


def write_text_file(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8; undecodable characters replaced) creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="replace")


def _same_file_content(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8", errors="replace") == text
    except OSError:
        return False


def spill_text(text: str, *, spill_dir: Path, stem: str) -> Path:
    """Store ``text`` as ``spill_dir/<stem>.txt`` and return the path.

    Idempotent: an existing file with the same content is reused without writing. If the
    name is taken by different content (providers that reuse call ids across steps), the
    text goes to ``<stem>-<content hash>.txt`` instead, so no output overwrites another.
    """
    path = spill_dir / f"{stem}.txt"
    if not path.exists():
        write_text_file(path, text)
        return path
    if _same_file_content(path, text):
        return path
    digest = hashlib.sha1(text.encode("utf-8", errors="replace")).hexdigest()[:12]
    alt = spill_dir / f"{stem}-{digest}.txt"
    if not alt.exists():
        write_text_file(alt, text)
    return alt


def clip_with_notice(text: str, *, max_chars: int, shown_path: str) -> str:
    """``text`` shortened to at most ``max_chars`` characters (head and tail kept) with a
    notice saying how much was cut and where the full text is. Needs ``max_chars`` of at
    least the notice length (~100 characters plus the path) to honour the bound."""
    if len(text) <= max_chars:
        return text
    # The notice length depends on the number it prints; size it for the worst case.
    notice_room = len(_NOTICE.format(cut=len(text), path=shown_path)) + 2
    keep = max(0, max_chars - notice_room)
    head = (keep * 3) // 5  # the start usually says what ran; the end, how it finished
    tail = keep - head
    cut = len(text) - head - tail
    notice = _NOTICE.format(cut=cut, path=shown_path)
    tail_text = text[len(text) - tail :] if tail else ""
    return f"{text[:head]}\n{notice}\n{tail_text}"


def truncate_tool_output(text: str, *, max_chars: int, spill_path: Path, workspace: Path) -> str:
    """Shorten ``text`` to at most ``max_chars`` characters, keeping its head and tail.

    The full text is written to ``spill_path`` first, and the returned text says how many
    characters were cut and names the spill file by its workspace-relative path so the
    agent can read it. Text no longer than ``max_chars`` is returned unchanged (no file).
    """
    if len(text) <= max_chars:
        return text
    write_text_file(spill_path, text)
    return clip_with_notice(
        text, max_chars=max_chars, shown_path=display_path(spill_path, workspace)
    )


def mask_stub(tool_name: str, text: str, shown_path: str) -> str:
    """The one-line stand-in for a masked tool output: the tool, the size and the start of
    the output, and the file where the full text stays readable. Every old step carries
    one, so it is short."""
    first_line = " ".join(text.strip().split("\n", 1)[0].split())
    if len(first_line) > 40:
        first_line = first_line[:40] + "…"
    start = f' "{first_line}"' if first_line else ""
    return f"[{tool_name or 'tool'} output masked, {len(text):,} chars{start}; full: {shown_path}]"
