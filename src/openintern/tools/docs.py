"""The ``docs`` tool: Hugging Face documentation pages as markdown."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from openintern.http import ServiceError
from openintern.sources.clients import explain, make_client, shared
from openintern.sources.docs import KNOWN_LIBRARIES, DocPage, DocsClient, DocsError
from openintern.sources.html_markdown import truncate
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult
from openintern.tools.schema import GUIDE_ONLY


def docs_client(ctx: ToolContext) -> DocsClient:
    """The session's docs client (public pages: no token is ever sent)."""
    s = ctx.settings
    return shared(ctx.services, "docs_client", lambda: DocsClient(
        make_client(s, ctx.services, service="hf-docs", base_url=s.hf_endpoint)))


class DocsParams(BaseModel):
    operation: Literal["search", "fetch"] = Field(
        description="search page titles of a library; fetch one page."
    )
    library: str = Field(description=f"e.g. {', '.join(KNOWN_LIBRARIES[:4])}.")
    query: str | None = Field(None, description="search: words in page titles.")
    page: str | None = Field(None, description="fetch: page path from search, e.g. 'sft_trainer'.")
    section: str | None = Field(None, description="fetch: only sections with these words.")
    max_chars: int = Field(12_000, ge=1000, le=60_000, description="fetch: characters.",
                           json_schema_extra=GUIDE_ONLY)
    limit: int = Field(10, ge=1, le=30, description="search: results.",
                       json_schema_extra=GUIDE_ONLY)


def render_page(page: DocPage, section: str | None, max_chars: int) -> str:
    """The page (or its matching sections) as markdown, with a table of contents when cut."""
    chosen = page.sections
    if section:
        words = [w for w in re.split(r"\W+", section.lower()) if w]
        chosen = [s for s in page.sections if all(w in s.title.lower() for w in words)]
        if not chosen:
            titles = ", ".join(s.title for s in page.sections if s.title)[:1500]
            raise ToolError(f"no section of {page.page} matches {section!r}; sections: {titles}")
    body = "\n\n".join(s.text for s in chosen)
    header = f"# {page.title or page.page}\nSource: {page.url}\n\n"
    text = header + body
    if len(text) > max_chars:
        toc = "\n".join(f"{'  ' * max(s.level - 1, 0)}- {s.title}" for s in page.sections
                        if s.title)[:2000]
        text = truncate(text, max_chars, "fetch again with section='<heading words>' or a "
                        "larger max_chars") + "\n\nSections:\n" + toc
    return text


class Docs(Tool[DocsParams]):
    """Hugging Face library docs (transformers, trl, peft, …): check API names here.

    library is any docs slug of huggingface.co/docs (transformers, trl, peft, datasets,
    accelerate, diffusers, hub, huggingface_hub, tokenizers, evaluate, …).

    - search: pages of one library whose title or path matches the query. This matches
      page titles in the docs sidebar, not page text: use API names or topics
      ("SFTTrainer", "lora", "gradient checkpointing").
    - fetch: one page as markdown; pass section to get only the matching headings.
    Prefer the docs over memory for argument names: APIs change between versions.
    """

    name = "docs"
    read_only = True

    async def run(self, params: DocsParams, ctx: ToolContext) -> ToolResult:
        client = docs_client(ctx)
        try:
            if params.operation == "search":
                if not params.query:
                    raise ToolError("operation 'search' needs query")
                links = await client.search(params.library, params.query, params.limit)
                if not links:
                    return ToolResult(
                        f"No {params.library} docs page title matches {params.query!r}; try "
                        "other words or fetch page='index' to see the table of contents.")
                lines = [f"{params.library} docs pages matching {params.query!r} "
                         "(title match; fetch one with operation=fetch page=…):"]
                lines += [f"- {link.title} — page='{link.page}'" for link in links]
                return ToolResult("\n".join(lines),
                                  data={"pages": [link.page for link in links]})
            page = await client.fetch(params.library, params.page or "index")
        except (ServiceError, DocsError) as exc:
            raise ToolError(explain(exc)) from None
        return ToolResult(render_page(page, params.section, params.max_chars),
                          data={"url": page.url, "sections": len(page.sections)})
