"""The open web: fetch any http(s) URL as readable markdown; search through a pluggable
provider.

Fetching never attaches a token or cookie (the URL is the model's choice), refuses every
scheme but http and https, reaches public addresses only (checked after DNS resolution and
again on every redirect, connecting to the checked address:
:mod:`openintern.sources.address_policy`), follows at most 5 redirects and stops reading
past a byte cap.

Search goes through a :class:`WebSearchProvider`. One provider ships: SearXNG (a
self-hostable metasearch engine; its ``/search?q=…&format=json`` API answers
``{"results": [{"url", "title", "content"}, …]}``). With no provider configured, search
says so instead of failing.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from openintern.http import ServiceClient
from openintern.sources.address_policy import AddressPolicy, AddressRefused
from openintern.sources.html_markdown import html_to_markdown

DEFAULT_MAX_BYTES = 5_000_000
MAX_REDIRECTS = 5
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
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


def _proxied(url: str) -> bool:
    """Whether the environment sends ``url`` through a proxy (then the proxy connects,
    and the address check can only look at what our resolver says)."""
    host = urlsplit(url).hostname or ""
    proxies = urllib.request.getproxies()
    scheme = urlsplit(url).scheme
    return bool(proxies.get(scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(
        host)


async def _target(url: str, policy: AddressPolicy) -> tuple[str, dict[str, str], dict[str, str]]:
    """(URL to request, extra headers, request extensions) for one hop: the checked IP
    address in place of the name, with the name kept for the Host header and TLS."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await policy.resolve(host, port)
    if _proxied(url):
        return url, {}, {}
    address = addresses[0]
    shown = f"[{address}]" if ":" in address else address
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return pinned, {"Host": host_header}, extensions


async def fetch_page(
    url: str, *, timeout_s: float = 30.0, max_bytes: int = DEFAULT_MAX_BYTES,
    allow: Sequence[str] = (),
) -> FetchedPage:
    """GET ``url`` without credentials and convert HTML to markdown (text stays text).
    Only public addresses are reached, unless ``allow`` (hosts, IPs or CIDRs) opens more."""
    policy = AddressPolicy.from_allowlist(allow)
    current = check_url(url)
    for _ in range(MAX_REDIRECTS + 1):
        try:
            target, headers, extensions = await _target(current, policy)
        except AddressRefused as exc:
            raise WebError(str(exc)) from None
        status, content_type, body, truncated, location, encoding = await _get(
            target, headers, extensions, timeout_s, max_bytes, shown=current)
        if status in _REDIRECT_CODES and location:
            current = check_url(urljoin(current, location))
            continue
        return _page(current, status, content_type, body, truncated, encoding)
    raise WebError(f"{url} redirected too many times")


async def _get(target: str, headers: dict[str, str], extensions: dict[str, str],
               timeout_s: float, max_bytes: int, *, shown: str
               ) -> tuple[int, str, bytes, bool, str | None, str]:
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s), follow_redirects=False,
        headers={"User-Agent": "openintern/0.1 (+research agent)"},
    ) as client:
        try:
            request = client.build_request("GET", target, headers=headers,
                                           extensions=extensions)
            response = await client.send(request, stream=True)
            try:
                chunks: list[bytes] = []
                size = 0
                truncated = False
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= max_bytes:
                        truncated = True
                        break
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            raise WebError(f"{shown} did not answer within {timeout_s:.0f} s") from None
        except httpx.HTTPError as exc:
            raise WebError(f"cannot fetch {shown}: {type(exc).__name__}: {exc}") from None
    body = b"".join(chunks)[:max_bytes]
    return (response.status_code, response.headers.get("content-type", ""), body, truncated,
            response.headers.get("location"), response.encoding or "utf-8")


def _page(url: str, status: int, content_type: str, body: bytes, truncated: bool,
          encoding: str) -> FetchedPage:
    if status >= 400:
        raise WebError(f"{url} answered HTTP {status}")
    kind = content_type.split(";")[0].strip().lower()
    if kind and not kind.startswith(_TEXT_TYPES):
        raise WebError(f"{url} is {kind}, not a text or HTML page; it was not converted")
    text = body.decode(encoding, errors="replace")
    looks_html = not kind and "<html" in text[:500].lower()
    if kind in ("text/html", "application/xhtml+xml") or looks_html:
        page = html_to_markdown(text)
        return FetchedPage(url, page.title, page.markdown, kind, truncated)
    return FetchedPage(url, "", text, kind, truncated)
