"""The ``hub`` tool: search Hugging Face models; details, files and file text of any
model, dataset or space repo."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from openintern.data.hub import HubError, RepoFile, RepoInfo, RepoKind, RepoSummary
from openintern.http import ServiceError
from openintern.sources.clients import explain
from openintern.sources.html_markdown import truncate
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult
from openintern.tools.datasets import hub_client
from openintern.tools.schema import GUIDE_ONLY

CARD_CHARS = 2500
MAX_FILES = 200


class HubParams(BaseModel):
    operation: Literal["search", "info", "files", "read"] = Field(
        description="search models; info on a repo (card excerpt); files of a repo; read "
        "one file."
    )
    repo_id: str | None = Field(None, description="e.g. 'Qwen/Qwen3-1.7B'.")
    repo_type: Literal["model", "dataset", "space"] = "model"
    query: str | None = Field(None, description="search: words in model ids.")
    filter: str | None = Field(None, description="search: tag, e.g. 'library:peft'.",
                               json_schema_extra=GUIDE_ONLY)
    author: str | None = Field(None, description="search: user or organisation.",
                               json_schema_extra=GUIDE_ONLY)
    sort: Literal["downloads", "likes", "trendingScore", "lastModified", "createdAt"] = Field(
        "downloads", description="search: order (descending)."
    , json_schema_extra=GUIDE_ONLY)
    limit: int = Field(10, ge=1, le=50, description="search: results.")
    path: str = Field("", description="files: folder (default: root); read: file.")
    revision: str = Field("main", description="Branch, tag or commit.",
                          json_schema_extra=GUIDE_ONLY)
    max_chars: int = Field(8000, ge=500, le=60_000, description="read: characters.",
                           json_schema_extra=GUIDE_ONLY)


def _count(value: int | None) -> str:
    return f"{value:,}" if value is not None else "-"


def render_models(hits: list[RepoSummary], limit: int) -> str:
    """A ranked, deduplicated model table."""
    seen: set[str] = set()
    lines = ["| model | task | library | downloads | likes | license |",
             "|---|---|---|---:|---:|---|"]
    for h in hits:
        if h.id in seen:
            continue
        seen.add(h.id)
        name = f"{h.id} (DISABLED)" if h.disabled else h.id
        lines.append(f"| {name} | {h.pipeline_tag or '-'} | {h.library or '-'} | "
                     f"{_count(h.downloads)} | {_count(h.likes)} | {h.license or '-'} |")
    if not seen:
        return "No model matches; try fewer words, another filter, or no filter."
    if len(seen) >= limit:
        lines.append(f"(first {limit}; raise limit (max 50) or refine the query for more)")
    return "\n".join(lines)


def render_info(info: RepoInfo, card: str | None) -> str:
    """Details of a repo with a model-card excerpt."""
    lines = [f"## {info.kind} {info.id}"]
    lines += [f"WARNING: {w}." for w in info.warnings()]
    facts = [
        ("task", info.pipeline_tag), ("library", info.library), ("license", info.license),
        ("downloads", _count(info.downloads)), ("likes", _count(info.likes)),
        ("parameters", f"{info.parameters:,}" if info.parameters else None),
        ("storage", f"{info.used_storage / 1e9:.2f} GB" if info.used_storage else None),
        ("gated", str(info.gated) if info.gated else None),
        ("last modified", info.last_modified), ("sha", info.sha),
    ]
    lines += [f"- {k}: {v}" for k, v in facts if v]
    tags = [t for t in info.tags if not t.startswith(("license:", "region:"))]
    if tags:
        lines.append(f"- tags: {', '.join(tags[:25])}" + (" …" if len(tags) > 25 else ""))
    if info.eval_results:
        lines += ["", "Reported results (model card):"] + [f"- {r}" for r in info.eval_results[:15]]
    if info.files:
        lines += ["", f"Files ({len(info.files)}): " + ", ".join(info.files[:40])
                  + (" …" if len(info.files) > 40 else "")]
    if card:
        lines += ["", "### Card excerpt", truncate(card.strip(), CARD_CHARS,
                  "read the full card with operation=read path=README.md")]
    elif card is None:
        lines += ["", "(no README.md card)"]
    return "\n".join(lines)


def render_files(repo_id: str, files: list[RepoFile]) -> str:
    """A file listing with sizes."""
    if not files:
        return f"{repo_id}: no files at that path."
    lines = [f"{repo_id}: {len(files)} entries"]
    for f in files[:MAX_FILES]:
        size = f" ({f.size:,} bytes)" if f.size is not None and f.type == "file" else ""
        lines.append(f"- {f.path}{'/' if f.type == 'directory' else ''}{size}")
    if len(files) > MAX_FILES:
        lines.append(f"(first {MAX_FILES}; list a subfolder with path=… for the rest)")
    return "\n".join(lines)


class Hub(Tool[HubParams]):
    """Hugging Face Hub models and repos (datasets: use the datasets tool).

    - search: models by keyword, tag filter (task, library, language) and author, ranked
      by downloads (or likes/trending/recency).
    - info: a model, dataset or space: task, library, license, downloads, likes,
      parameter count, size, tags, reported eval results, file list and model-card excerpt.
    - files: list a repo's files and folders (one folder at a time).
    - read: the text of one file of a repo (config.json, README.md, a training script…).
    Use the `datasets` tool to search or inspect datasets.
    """

    name = "hub"
    read_only = True

    async def run(self, params: HubParams, ctx: ToolContext) -> ToolResult:
        client = hub_client(ctx)
        kind: RepoKind = params.repo_type
        try:
            if params.operation == "search":
                hits = await client.search("model", params.query, sort=params.sort,
                                           filter=params.filter, author=params.author,
                                           limit=params.limit)
                return ToolResult(render_models(hits, params.limit),
                                  data={"results": [h.id for h in hits]})
            if not params.repo_id:
                raise ToolError(f"operation {params.operation!r} needs repo_id")
            if params.operation == "info":
                info, card = await client.info_with_card(kind, params.repo_id)
                return ToolResult(render_info(info, card), data={"repo_id": info.id})
            if params.operation == "files":
                files = await client.list_files(kind, params.repo_id, path=params.path,
                                                revision=params.revision)
                return ToolResult(render_files(params.repo_id, files),
                                  data={"count": len(files)})
            if not params.path:
                raise ToolError("operation 'read' needs path (e.g. 'config.json')")
            raw = await client.read_file(kind, params.repo_id, params.path,
                                         revision=params.revision)
        except (ServiceError, HubError) as exc:
            raise ToolError(explain(exc)) from None
        if b"\x00" in raw[:8192]:
            raise ToolError(f"{params.path} is binary ({len(raw):,} bytes); it cannot be shown")
        text = truncate(raw.decode("utf-8", errors="replace"), params.max_chars,
                        "raise max_chars (max 60000)")
        return ToolResult(text, data={"repo_id": params.repo_id, "path": params.path,
                                      "bytes": len(raw)})
