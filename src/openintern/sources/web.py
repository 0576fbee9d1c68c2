"""The open web: fetch any http(s) URL as readable markdown; search through a pluggable
provider.

Fetching never attaches a token or cookie (the URL is the model's choice), refuses every
scheme but http and https, follows at most 5 redirects and stops reading past a byte cap.

Search goes through a :class:`WebSearchProvider`. One provider ships: SearXNG (a
self-hostable metasearch engine; its ``/search?q=…&format=json`` API answers
``{"results": [{"url", "title", "content"}, …]}``). With no provider configured, search
says so instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from openintern.http import ServiceClient
from openintern.sources.html_markdown import html_to_markdown

DEFAULT_MAX_BYTES = 5_000_000
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml+xml",
               "application/javascript", "application/x-ipynb+json")


class WebError(Exception):
    """A web request could not be answered; the message says what to do."""


class WebSearchNotConfigured(WebError):
    """No search provider is configured."""


@dataclass
class WebSearchHit:
    """One search result."""

    title: str
    url: str
    snippet: str


@dataclass
class FetchedPage:
    """A fetched URL as markdown."""

    url: str
    title: str
    markdown: str
    content_type: str
    truncated_bytes: bool


class WebSearchProvider(Protocol):
    """Anything that can search the web."""

    name: str

    async def search(self, query: str, limit: int) -> list[WebSearchHit]:
        """Up to ``limit`` results for ``query``, best first."""
        ...


class SearxngProvider:
    """Search through a SearXNG instance's JSON API (the instance must enable json)."""

    name = "searxng"

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def search(self, query: str, limit: int) -> list[WebSearchHit]:
        """Results of ``/search?q=…&format=json``, deduplicated by URL."""
        data = await self.client.get_json("/search", {"q": query, "format": "json"})
        seen: set[str] = set()
        hits = []
        for item in (data or {}).get("results") or []:
            url = str(item.get("url") or "")
            if not url or url in seen:
                continue
            seen.add(url)
            hits.append(WebSearchHit(title=str(item.get("title") or url), url=url,
                                     snippet=str(item.get("content") or "")))
        return hits[:limit]


def check_url(url: str) -> str:
    """The URL if it is http(s) with a host; a WebError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebError(
            f"refusing to fetch {url!r}: only http:// and https:// URLs with a host are "
            "allowed (read local files with the file tools instead)"
        )
    return url.strip()


async def fetch_page(
    url: str, *, timeout_s: float = 30.0, max_bytes: int = DEFAULT_MAX_BYTES
) -> FetchedPage:
    """GET ``url`` without credentials and convert HTML to markdown (text stays text)."""
    url = check_url(url)
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s), follow_redirects=True, max_redirects=5,
        headers={"User-Agent": "openintern/0.1 (+research agent)"},
    ) as client:
        try:
            async with client.stream("GET", url) as response:
                chunks: list[bytes] = []
                size = 0
                truncated = False
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= max_bytes:
                        truncated = True
                        break
                status = response.status_code
                content_type = response.headers.get("content-type", "")
                final_url = str(response.url)
                encoding = response.encoding or "utf-8"
        except httpx.TooManyRedirects:
            raise WebError(f"{url} redirected too many times") from None
        except httpx.TimeoutException:
            raise WebError(f"{url} did not answer within {timeout_s:.0f} s") from None
        except httpx.HTTPError as exc:
            raise WebError(f"cannot fetch {url}: {type(exc).__name__}: {exc}") from None
    check_url(final_url)
    body = b"".join(chunks)[:max_bytes]
    if status >= 400:
        raise WebError(f"{final_url} answered HTTP {status}")
    kind = content_type.split(";")[0].strip().lower()
    if kind and not kind.startswith(_TEXT_TYPES):
        raise WebError(f"{final_url} is {kind}, not a text or HTML page; it was not converted")
    text = body.decode(encoding, errors="replace")
    looks_html = not kind and "<html" in text[:500].lower()
    if kind in ("text/html", "application/xhtml+xml") or looks_html:
        page = html_to_markdown(text)
        return FetchedPage(final_url, page.title, page.markdown, kind, truncated)
    return FetchedPage(final_url, "", text, kind, truncated)
