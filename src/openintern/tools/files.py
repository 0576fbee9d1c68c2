"""File tools: read, write and edit files inside the workspace."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from pydantic import BaseModel, Field

from openintern.sandbox.paths import hidden_reason
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult

MAX_READ_CHARS = 60_000


def _allowed_path(ctx: ToolContext, given: str, *, write: bool) -> Path:
    """The resolved path, unless it is one the sandbox hides (``.env*``, OpenIntern's
    internals, its store): the file tools run on the host and must not read around it."""
    path = ctx.resolve_path(given)
    raw = Path(given).expanduser()
    literal = raw if raw.is_absolute() else ctx.workspace / raw
    for candidate in (literal, path):
        reason = hidden_reason(candidate, ctx.workspace, write=write)
        if reason is not None:
            raise ToolError(f"refusing to {'write' if write else 'read'} {given}: {reason}")
    return path


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ToolError(f"{path.name} looks binary ({len(data)} bytes); inspect it with shell")
    return data.decode("utf-8", errors="replace")


class ReadFileParams(BaseModel):
    path: str = Field(description="Path in the workspace.")
    offset: int = Field(1, ge=1, description="First line (1-based).")
    limit: int = Field(400, ge=1, le=5000, description="Lines at most.")


class ReadFile(Tool[ReadFileParams]):
    """Read a text file of the workspace (spill files too) with line numbers, in pages.

    Returns lines offset..offset+limit-1 as `N| text`. Long files: read them in pages with
    offset/limit. Spilled tool outputs (.openintern/spill/...) are read the same way.
    """

    name = "read_file"
    read_only = True

    async def run(self, params: ReadFileParams, ctx: ToolContext) -> ToolResult:
        path = _allowed_path(ctx, params.path, write=False)
        if not path.exists():
            raise ToolError(f"{params.path} does not exist; list files with shell `ls`")
        if path.is_dir():
            raise ToolError(f"{params.path} is a directory; list it with shell `ls {params.path}`")
        text = await asyncio.to_thread(_read_text, path)
        lines = text.splitlines()
        start = params.offset - 1
        chunk = lines[start : start + params.limit]
        width = len(str(start + len(chunk)))
        body = "\n".join(f"{start + i + 1:>{width}}| {line}" for i, line in enumerate(chunk))
        if len(body) > MAX_READ_CHARS:
            body = (
                body[:MAX_READ_CHARS] + "\n… (page cut at 60,000 characters; use a smaller limit)"
            )
        shown_end = start + len(chunk)
        footer = ""
        if shown_end < len(lines):
            footer = (
                f"\n[lines {start + 1}-{shown_end} of {len(lines)}; "
                f"continue with offset={shown_end + 1}]"
            )
        if not chunk:
            return ToolResult(
                f"{params.path} has {len(lines)} lines; offset is past the end",
                data={"lines": len(lines)},
            )
        return ToolResult(body + footer, data={"path": str(path), "lines": len(lines)})


class WriteFileParams(BaseModel):
    path: str = Field(description="Path in the workspace (parents are created).")
    content: str = Field(description="The whole new content.")


class WriteFile(Tool[WriteFileParams]):
    """Create or overwrite a workspace file; for small changes prefer edit_file.

    edit_file cannot lose the rest of the file.
    """

    name = "write_file"

    async def run(self, params: WriteFileParams, ctx: ToolContext) -> ToolResult:
        path = _allowed_path(ctx, params.path, write=True)
        if path.is_dir():
            raise ToolError(f"{params.path} is a directory")
        existed = path.exists()

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(params.content, encoding="utf-8")

        await asyncio.to_thread(write)
        n = params.content.count("\n") + (0 if params.content.endswith("\n") else 1)
        verb = "overwrote" if existed else "created"
        rel = path.relative_to(ctx.workspace.resolve())
        return ToolResult(
            f"{verb} {rel} ({n} lines, {len(params.content)} chars)",
            data={"path": str(rel), "lines": n},
        )


class EditFileParams(BaseModel):
    path: str = Field(description="Path in the workspace.")
    old_text: str = Field(description="Exact text to replace, unique in the file.")
    new_text: str = Field(description="Replacement.")
    replace_all: bool = Field(False, description="Replace every occurrence.")


def _fuzzy_span(content: str, old: str) -> list[tuple[int, int]]:
    """Spans of ``content`` matching ``old`` up to whitespace differences (indentation,
    trailing spaces, line breaks), which models often get slightly wrong."""
    tokens = old.split()
    if not tokens:
        return []
    pattern = r"\s+".join(re.escape(t) for t in tokens)
    return [(m.start(), m.end()) for m in re.finditer(pattern, content)]


class EditFile(Tool[EditFileParams]):
    """Replace text in a workspace file.

    old_text must match exactly once (or use replace_all). If no exact match exists, a
    match that differs only in whitespace is accepted when it is unique. Returns a short
    excerpt around the change.
    """

    name = "edit_file"

    async def run(self, params: EditFileParams, ctx: ToolContext) -> ToolResult:
        path = _allowed_path(ctx, params.path, write=True)
        if not path.is_file():
            raise ToolError(f"{params.path} does not exist; create it with write_file")
        if params.old_text == "":
            raise ToolError("old_text is empty; to create or overwrite a file use write_file")
        content = await asyncio.to_thread(_read_text, path)
        count = content.count(params.old_text)
        method = "exact"
        if count == 0:
            spans = _fuzzy_span(content, params.old_text)
            if not spans:
                raise ToolError(
                    f"old_text not found in {params.path}; read_file it and copy the text exactly"
                )
            if len(spans) > 1 and not params.replace_all:
                raise ToolError(
                    f"old_text matches {len(spans)} places (ignoring whitespace); "
                    "add surrounding lines to make it unique, or set replace_all"
                )
            method = "whitespace-tolerant"
            for start, end in reversed(spans):
                content = content[:start] + params.new_text + content[end:]
            replaced, first = len(spans), spans[0][0]
        else:
            if count > 1 and not params.replace_all:
                raise ToolError(
                    f"old_text occurs {count} times in {params.path}; add context to "
                    "make it unique, or set replace_all=true"
                )
            first = content.index(params.old_text)
            content = (
                content.replace(params.old_text, params.new_text)
                if params.replace_all
                else content.replace(params.old_text, params.new_text, 1)
            )
            replaced = count if params.replace_all else 1
        await asyncio.to_thread(path.write_text, content, encoding="utf-8")
        line = content.count("\n", 0, first) + 1
        lines = content.splitlines()
        excerpt = "\n".join(
            f"{i + 1}| {lines[i]}"
            for i in range(
                max(0, line - 3), min(len(lines), line + params.new_text.count("\n") + 3)
            )
        )
        return ToolResult(
            f"edited {params.path}: {replaced} replacement(s) ({method} match) "
            f"at line {line}\n{excerpt}",
            data={"path": params.path, "replacements": replaced, "match": method},
        )
