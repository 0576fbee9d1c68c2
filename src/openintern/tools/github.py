"""The ``github`` tool: code search, file and notebook reading, example finding."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from openintern.http import ServiceError
from openintern.sources.clients import explain, make_client, secret, shared
from openintern.sources.github import GitHubClient, GitHubError
from openintern.sources.html_markdown import truncate
from openintern.sources.notebooks import NotebookError, notebook_to_markdown
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult
from openintern.tools.schema import GUIDE_ONLY


def github_client(ctx: ToolContext) -> GitHubClient:
    """The session's GitHub client (token sent only to ``github_api_url``)."""
    s = ctx.settings
    token = secret(s.github_token)
    return shared(ctx.services, "github_client", lambda: GitHubClient(
        make_client(s, ctx.services, service="github", base_url=s.github_api_url, token=token),
        has_token=token is not None))


class GitHubParams(BaseModel):
    operation: Literal["search_code", "read_file", "find_examples"] = Field(
        description="find_examples in a repo; read_file (or list a folder); search_code "
        "(needs a token)."
    )
    repo: str | None = Field(None, description="'owner/name', e.g. 'huggingface/trl'.")
    path: str = Field("", description="read_file: file or folder in the repo.")
    query: str | None = Field(None, description="search_code: query.")
    language: str | None = Field(None, description="search_code: e.g. python.",
                                 json_schema_extra=GUIDE_ONLY)
    keyword: str | None = Field(None, description="find_examples: words in the path.")
    ref: str | None = Field(None, description="Branch, tag or commit.",
                            json_schema_extra=GUIDE_ONLY)
    limit: int = Field(10, ge=1, le=50, description="Results.", json_schema_extra=GUIDE_ONLY)
    max_chars: int = Field(12_000, ge=1000, le=60_000, description="read_file: characters.",
                           json_schema_extra=GUIDE_ONLY)


class GitHub(Tool[GitHubParams]):
    """GitHub repositories: find and read working example code.

    - find_examples: list example scripts/notebooks of a repo (files under examples/,
      scripts/, notebooks/, recipes/ … and any .ipynb) whose path contains every keyword
      word, best matches first. Needs no token.
    - read_file: read a file (Jupyter notebooks are converted to markdown with trimmed
      outputs) or list a folder.
    - search_code: GitHub code search (qualifiers: repo, language); GitHub requires a
      token for it (GITHUB_TOKEN).
    """

    name = "github"
    read_only = True

    async def run(self, params: GitHubParams, ctx: ToolContext) -> ToolResult:
        client = github_client(ctx)
        try:
            if params.operation == "search_code":
                if not params.query:
                    raise ToolError("operation 'search_code' needs query")
                total, hits = await client.search_code(
                    params.query, repo=params.repo, language=params.language, limit=params.limit)
                if not hits:
                    return ToolResult(f"No code matches {params.query!r}.", data={"total": total})
                lines = [f"{total:,} files match; top {min(len(hits), params.limit)}:"]
                seen: set[tuple[str, str]] = set()
                for hit in hits:
                    if (hit.repo, hit.path) in seen or len(seen) >= params.limit:
                        continue
                    seen.add((hit.repo, hit.path))
                    lines.append(f"- {hit.repo}: {hit.path}")
                    for fragment in hit.fragments[:1]:
                        lines.append("  > " + " ".join(fragment.split())[:200])
                return ToolResult("\n".join(lines), data={"total": total})
            if not params.repo:
                raise ToolError(f"operation {params.operation!r} needs repo ('owner/name')")
            if params.operation == "find_examples":
                if not params.keyword:
                    raise ToolError("operation 'find_examples' needs keyword")
                found, truncated = await client.find_examples(
                    params.repo, params.keyword, ref=params.ref, limit=params.limit)
                if not found:
                    return ToolResult(f"No example file of {params.repo} has a path matching "
                                      f"{params.keyword!r}; try one word, or read_file the "
                                      "examples/ folder.")
                lines = [f"Example files of {params.repo} matching {params.keyword!r}:"]
                lines += [f"- {e.path}" + (f" ({e.size:,} bytes)" if e.size else "") for e in found]
                if truncated:
                    lines.append("(GitHub truncated the tree of this large repo: some files "
                                 "may be missing; read_file a folder to look further)")
                return ToolResult("\n".join(lines), data={"paths": [e.path for e in found]})
            content = await client.read(params.repo, params.path, ref=params.ref)
        except (ServiceError, GitHubError) as exc:
            raise ToolError(explain(exc)) from None
        if content.text is None:
            lines = [f"{params.repo}/{content.path or ''} ({len(content.entries)} entries):"]
            lines += [f"- {e.path}{'/' if e.type == 'tree' else ''}" for e in content.entries[:300]]
            return ToolResult("\n".join(lines), data={"entries": len(content.entries)})
        text = content.text
        if content.path.endswith(".ipynb"):
            try:
                text = notebook_to_markdown(text)
            except NotebookError as exc:
                raise ToolError(f"{content.path}: {exc}") from None
        more = "raise max_chars (max 60000)"
        return ToolResult(truncate(text, params.max_chars, more),
                          data={"repo": params.repo, "path": content.path, "chars": len(text)})
