"""Jupyter notebooks (.ipynb, nbformat 4) as markdown a model can read.

Markdown cells are kept as they are; code cells become fenced blocks in the notebook's
language; text outputs (streams, ``text/plain`` results, error tracebacks) are kept but
trimmed; images and HTML outputs are replaced by a one-line placeholder.
"""

from __future__ import annotations

import json
import re
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookError(Exception):
    """The text is not a notebook we can read."""


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return str(value or "")


def _trim(text: str, limit: int) -> str:
    text = text.rstrip()
    if len(text) <= limit:
        return text
    head = text[: limit // 2].rstrip()
    tail = text[-limit // 2 :].lstrip()
    return f"{head}\n… [{len(text) - limit:,} characters of output trimmed] …\n{tail}"


def _output_text(output: dict[str, Any]) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return _joined(output.get("text"))
    if kind == "error":
        lines = output.get("traceback") or [f"{output.get('ename')}: {output.get('evalue')}"]
        return _ANSI.sub("", "\n".join(str(line) for line in lines))
    data = output.get("data") or {}
    if "text/plain" in data:
        return _joined(data["text/plain"])
    if data:
        return f"[{', '.join(sorted(data))} output not shown]"
    return ""


def notebook_to_markdown(text: str, *, max_output_chars: int = 1500) -> str:
    """Convert notebook JSON to markdown (outputs trimmed to ``max_output_chars`` each)."""
    try:
        notebook = json.loads(text)
    except ValueError as exc:
        raise NotebookError(f"not a JSON notebook: {exc}") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise NotebookError("not an nbformat-4 notebook (no 'cells' list)")
    metadata = notebook.get("metadata") or {}
    language = (
        (metadata.get("kernelspec") or {}).get("language")
        or (metadata.get("language_info") or {}).get("name")
        or "python"
    )
    parts: list[str] = []
    for cell in notebook["cells"]:
        if not isinstance(cell, dict):
            continue
        source = _joined(cell.get("source")).strip()
        kind = cell.get("cell_type")
        if kind == "markdown":
            if source:
                parts.append(source)
        elif kind == "code":
            if source:
                parts.append(f"```{language}\n{source}\n```")
            outputs = [_output_text(o) for o in cell.get("outputs") or [] if isinstance(o, dict)]
            shown = "\n".join(o for o in outputs if o.strip())
            if shown.strip():
                trimmed = _trim(_ANSI.sub("", shown), max_output_chars)
                parts.append(f"Output:\n```text\n{trimmed}\n```")
        elif source:
            parts.append(f"```text\n{source}\n```")
    return "\n\n".join(parts)
