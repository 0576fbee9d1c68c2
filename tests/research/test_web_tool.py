"""The web tool: fetch local pages as markdown, refuse other schemes, search providers."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_fixtures import make_ctx, run_tool
from fixture_server import Route

from openintern.http import ServiceClient
from openintern.sources.web import SearxngProvider, fetch_page
from openintern.tools.base import ToolError
from openintern.tools.web import Web

# The fixture servers listen on loopback, which the web tool refuses unless the user opens
# it (web_fetch_allow); tests/research/test_web_ssrf.py attacks that refusal.
LOCAL = ["127.0.0.1"]

PAGE = """<html><head><title>Scaling laws, briefly</title></head><body>
<header><a href="/">Blog</a></header><nav><a href="/about">About</a></nav>
<article><h1>Scaling laws</h1><p>Loss falls as a <em>power law</em> in compute.</p>
<table><tr><th>N</th><th>loss</th></tr><tr><td>1e8</td><td>3.1</td></tr></table>
<p>See <a href="https://arxiv.org/abs/2001.08361">Kaplan et al.</a></p></article>
<script>alert(1)</script><footer>(c) someone</footer></body></html>"""


async def test_fetch_html_as_markdown(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({"/post": Route(body=PAGE, content_type="text/html; charset=utf-8"),
                    "/old": Route(status=301, headers={"Location": "/post"})})
    # Tokens are configured, but a model-chosen URL never receives any of them.
    ctx = make_ctx(tmp_path, hf_token="hf_x", github_token="ghp_y", hf_endpoint=server.url,
                   web_fetch_allow=LOCAL)
    result = await run_tool(Web(), ctx, operation="fetch", url=f"{server.url}/old")
    text = result.text
    assert text.startswith(f"# Scaling laws, briefly\nSource: {server.url}/post")
    assert "# Scaling laws" in text and "*power law*" in text
    assert "[Kaplan et al.](https://arxiv.org/abs/2001.08361)" in text
    assert "| 1e8 | 3.1 |" in text
    for noise in ("alert(1)", "About", "(c) someone"):
        assert noise not in text
    assert all("authorization" not in r.headers for r in server.requests)


async def test_fetch_plain_text_and_size_cap(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({"/big.txt": Route(body="line\n" * 100_000)})
    page = await fetch_page(f"{server.url}/big.txt", max_bytes=10_000, allow=LOCAL)
    assert page.truncated_bytes and len(page.markdown) == 10_000
    ctx = make_ctx(tmp_path, web_fetch_allow=LOCAL)
    result = await run_tool(Web(), ctx, operation="fetch", url=f"{server.url}/big.txt",
                            max_chars=2000)
    assert "truncated: showing" in result.text


async def test_fetch_refusals_and_failures(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({"/img": Route(body=b"\x89PNG....", content_type="image/png")})
    ctx = make_ctx(tmp_path, web_fetch_allow=LOCAL)
    for url in ("file:///etc/passwd", "ftp://example.org/x", "javascript:alert(1)", "/etc"):
        with pytest.raises(ToolError, match="only http:// and https://"):
            await run_tool(Web(), ctx, operation="fetch", url=url)
    with pytest.raises(ToolError, match="image/png, not a text or HTML page"):
        await run_tool(Web(), ctx, operation="fetch", url=f"{server.url}/img")
    with pytest.raises(ToolError, match="HTTP 404"):
        await run_tool(Web(), ctx, operation="fetch", url=f"{server.url}/missing")
    url = server.url
    server.stop()
    with pytest.raises(ToolError, match="cannot fetch"):
        await run_tool(Web(), ctx, operation="fetch", url=f"{url}/post")


async def test_search_without_provider_says_how_to_enable(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    result = await run_tool(Web(), ctx, operation="search", query="grpo reward hacking")
    assert not result.ok
    assert "web search is not configured" in result.text
    assert "OPENINTERN_WEB_SEARCH_PROVIDER=searxng" in result.text


async def test_search_through_searxng(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    # GAP: no recorded SearXNG body; built from its documented JSON format
    # (/search?q=…&format=json -> {"query", "results": [{"url", "title", "content", …}]}).
    body = {"query": "grpo", "number_of_results": 3, "results": [
        {"url": "https://a.example/grpo", "title": "GRPO explained", "content": "Group  relative",
         "engine": "duckduckgo"},
        {"url": "https://a.example/grpo", "title": "GRPO explained (dup)", "content": ""},
        {"url": "https://b.example/r1", "title": "R1 report", "content": "RL for reasoning"},
    ]}
    server = serve({"/search": Route(body=body, query={"format": "json"})})
    ctx = make_ctx(tmp_path)
    ctx.services["web_search_provider"] = SearxngProvider(
        ServiceClient(service="web-search", base_url=server.url))
    result = await run_tool(Web(), ctx, operation="search", query="grpo", limit=5)
    assert result.data["urls"] == ["https://a.example/grpo", "https://b.example/r1"]
    assert "1. GRPO explained — https://a.example/grpo\n   Group relative" in result.text
    assert server.requests[0].query == {"q": "grpo", "format": "json"}
