"""The ``web`` tool: search the web (when a provider is configured) and fetch pages."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from openintern.http import ServiceError
from openintern.sources.clients import explain, make_client, shared
from openintern.sources.html_markdown import truncate
from openintern.sources.web import (
    SearxngProvider,
    WebError,
    WebSearchNotConfigured,
    WebSearchProvider,
    fetch_page,
)
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult

PROVIDER_KEY = "web_search_provider"


def search_provider(ctx: ToolContext) -> WebSearchProvider:
    """The configured provider: one placed in services, or built from settings.

    Settings read (not yet fields of Settings; read with getattr): ``web_search_provider``
    ("searxng") and ``web_search_url`` (the instance's base URL).
    """
    provided = ctx.services.get(PROVIDER_KEY)
    if provided is not None:
        return provided  # type: ignore[no-any-return]
    name = getattr(ctx.settings, "web_search_provider", None)
    url = getattr(ctx.settings, "web_search_url", None)
    if not name:
        raise WebSearchNotConfigured(
            "web search is not configured. Set OPENINTERN_WEB_SEARCH_PROVIDER=searxng and "
            "OPENINTERN_WEB_SEARCH_URL=<your SearXNG instance> to enable it. Meanwhile use "
            "the literature, docs, github or hub tools, or fetch a known URL."
        )
    if name != "searxng":
        raise WebSearchNotConfigured(f"unknown web search provider {name!r}; supported: searxng")
    if not url:
        raise WebSearchNotConfigured("web_search_provider is searxng but web_search_url is unset")
    return shared(ctx.services, PROVIDER_KEY, lambda: SearxngProvider(
        make_client(ctx.settings, ctx.services, service="web-search", base_url=str(url))))


class WebParams(BaseModel):
    operation: Literal["search", "fetch"] = Field(
        description="search the web; fetch a page as markdown."
    )
    query: str | None = Field(None, description="search: query.")
    url: str | None = Field(None, description="fetch: http(s) URL.")
    limit: int = Field(8, ge=1, le=20, description="search: results.")
    max_chars: int = Field(12_000, ge=1000, le=60_000, description="fetch: characters.")


class Web(Tool[WebParams]):
    """The open web (prefer the papers, docs, hub and github tools where they apply).

    - search: web search results (title, URL, snippet); works only when a search provider
      is configured, otherwise it says how to configure one.
    - fetch: any public http(s) URL as readable markdown (navigation and scripts removed).
      Sends no credentials; local and private addresses are refused. For papers, docs,
      Hub and GitHub prefer the dedicated tools.
    """

    name = "web"
    read_only = True

    async def run(self, params: WebParams, ctx: ToolContext) -> ToolResult:
        if getattr(ctx.settings, "sandbox_network", "egress") == "off":
            raise ToolError("the network is off for this session (--no-network), so the web "
                            "tool does not search or fetch; work from local files and the "
                            "tools that read the configured services")
        if params.operation == "search":
            if not params.query:
                raise ToolError("operation 'search' needs query")
            try:
                provider = search_provider(ctx)
            except WebSearchNotConfigured as exc:
                return ToolResult(str(exc), ok=False, data={"configured": False})
            try:
                hits = await provider.search(params.query, params.limit)
            except ServiceError as exc:
                raise ToolError(explain(exc)) from None
            if not hits:
                return ToolResult(f"No web result for {params.query!r}.")
            lines = [f"Web results for {params.query!r} ({provider.name}):"]
            for i, hit in enumerate(hits, 1):
                snippet = " ".join(hit.snippet.split())[:300]
                lines.append(f"{i}. {hit.title} — {hit.url}\n   {snippet}")
            return ToolResult("\n".join(lines), data={"urls": [h.url for h in hits]})
        if not params.url:
            raise ToolError("operation 'fetch' needs url")
        try:
            page = await fetch_page(params.url, timeout_s=ctx.settings.http_timeout_s,
                                    allow=ctx.settings.web_fetch_allow)
        except WebError as exc:
            raise ToolError(str(exc)) from None
        header = (f"# {page.title}\n" if page.title else "") + f"Source: {page.url}\n\n"
        note = ("\n\n[page larger than the download cap; the end was not read]"
                if page.truncated_bytes else "")
        text = truncate(header + page.markdown, params.max_chars, "raise max_chars (max 60000)")
        return ToolResult(text + note, data={"url": page.url, "chars": len(page.markdown)})
