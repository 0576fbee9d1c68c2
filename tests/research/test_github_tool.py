"""The github tool against a local server replaying recorded GitHub API bodies."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from data_fixtures import make_ctx, run_tool
from fixture_server import Route, load_fixture

from openintern.sources.github import decode_content
from openintern.sources.notebooks import notebook_to_markdown
from openintern.tools.base import ToolError
from openintern.tools.github import GitHub

NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Fine-tune\n", "Steps below."]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1,
         "source": ["for i in range(3):\n", "    print(i)"],
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["0\n", "1\n", "2\n"]}]},
        {"cell_type": "code", "metadata": {}, "execution_count": 2, "source": "plot()",
         "outputs": [{"output_type": "display_data", "metadata": {},
                      "data": {"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure>"]}},
                     {"output_type": "error", "ename": "ValueError", "evalue": "bad",
                      "traceback": ["\x1b[0;31mValueError\x1b[0m: bad"]}]},
        {"cell_type": "code", "metadata": {}, "source": "print('x' * 5000)",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "x" * 5000}]},
    ],
}


def test_notebook_to_markdown() -> None:
    text = notebook_to_markdown(json.dumps(NOTEBOOK), max_output_chars=200)
    assert text.startswith("# Fine-tune\nSteps below.")
    assert "```python\nfor i in range(3):\n    print(i)\n```" in text
    assert "Output:\n```text\n0\n1\n2\n```" in text
    assert "<Figure>" in text and "ValueError: bad" in text and "\x1b" not in text
    assert "characters of output trimmed" in text and text.count("x") < 400


def test_decode_recorded_file_content() -> None:
    item = json.loads(load_fixture("github/contents_file.json"))
    text = decode_content(item)
    assert text is not None and "class Repository(" in text


async def test_read_file_and_directory(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({
        "/repos/sigmavirus24/github3.py/contents/github3/repos/repo.py":
            Route(fixture="github/contents_file.json"),
        "/repos/sigmavirus24/github3.py/contents/github3/search":
            Route(fixture="github/contents_dir.json"),
    })
    ctx = make_ctx(tmp_path, github_api_url=server.url)
    result = await run_tool(GitHub(), ctx, operation="read_file", repo="sigmavirus24/github3.py",
                            path="github3/repos/repo.py", max_chars=2000)
    source = decode_content(json.loads(load_fixture("github/contents_file.json")))
    assert source is not None and result.text.startswith(source[:1000])
    assert "truncated: showing" in result.text and "raise max_chars" in result.text
    listing = await run_tool(GitHub(), ctx, operation="read_file",
                             repo="sigmavirus24/github3.py", path="github3/search")
    assert "- github3/search/code.py" in listing.text
    assert listing.data["entries"] == 5
    assert all("authorization" not in r.headers for r in server.requests)  # no token set


async def test_read_notebook_as_markdown(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    encoded = base64.encodebytes(json.dumps(NOTEBOOK).encode()).decode()
    body = {"type": "file", "encoding": "base64", "path": "notebooks/train.ipynb",
            "name": "train.ipynb", "size": 900, "content": encoded}
    server = serve({"/repos/o/r/contents/notebooks/train.ipynb": Route(body=body)})
    ctx = make_ctx(tmp_path, github_api_url=server.url)
    result = await run_tool(GitHub(), ctx, operation="read_file", repo="o/r",
                            path="notebooks/train.ipynb")
    assert "```python\nfor i in range(3):" in result.text
    assert '"cell_type"' not in result.text


async def test_find_examples(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({"/repos/sigmavirus24/github3.py/git/trees/HEAD":
                    Route(fixture="github/git_tree_recursive.json", query={"recursive": "1"})})
    ctx = make_ctx(tmp_path, github_api_url=server.url)
    result = await run_tool(GitHub(), ctx, operation="find_examples",
                            repo="https://github.com/sigmavirus24/github3.py", keyword="logging")
    assert result.data["paths"] == ["docs/examples/source/logging_ex.py"]
    none = await run_tool(GitHub(), ctx, operation="find_examples",
                          repo="sigmavirus24/github3.py", keyword="tensorflow")
    assert "No example file" in none.text


async def test_code_search_needs_a_token(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({"/search/code": Route(fixture="github/search_code_text_match.json")})
    ctx = make_ctx(tmp_path, github_api_url=server.url)
    with pytest.raises(ToolError, match="code search needs a token: set GITHUB_TOKEN"):
        await run_tool(GitHub(), ctx, operation="search_code", query="HTTPAdapter")
    assert not server.requests

    ctx = make_ctx(tmp_path, github_api_url=server.url, github_token="ghp_test_token")
    result = await run_tool(GitHub(), ctx, operation="search_code", query="HTTPAdapter",
                            repo="kennethreitz/requests", language="python", limit=2)
    assert result.text.startswith("3 files match; top 2:")
    assert "- kennethreitz/requests: requests/adapters.py" in result.text
    assert "  > " in result.text  # a text-match fragment
    request = server.requests[0]
    assert request.headers["authorization"] == "Bearer ghp_test_token"
    assert request.query["q"] == "HTTPAdapter repo:kennethreitz/requests language:python"


async def test_missing_file_and_bad_repo(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({})
    ctx = make_ctx(tmp_path, github_api_url=server.url)
    with pytest.raises(ToolError, match="HTTP 404"):
        await run_tool(GitHub(), ctx, operation="read_file", repo="o/r", path="nope.py")
    with pytest.raises(ToolError, match="not a repository"):
        await run_tool(GitHub(), ctx, operation="read_file", repo="just-a-name", path="x")


# --- rate limits: GitHub answers them with 403, which is not a token problem ------------

TREE = "/repos/sigmavirus24/github3.py/git/trees/HEAD"


def _primary_limit(reset_in_s: float) -> Route:
    # The documented primary-limit answer; only the reset time is moved to "now + x".
    return Route(status=403, fixture="github/rate_limit_primary_403.json", times=1, headers={
        "X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(time.time() + reset_in_s))})


async def test_primary_rate_limit_403_is_a_rate_limit_not_a_token_error(
        tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({TREE: _primary_limit(3600)})
    ctx = make_ctx(tmp_path, github_api_url=server.url)
    with pytest.raises(ToolError) as info:
        await run_tool(GitHub(), ctx, operation="find_examples",
                       repo="sigmavirus24/github3.py", keyword="search")
    message = str(info.value)
    assert "rate limit" in message and "HTTP 403" in message
    assert "lifts in about 60 min" in message or "lifts in about 59 min" in message
    assert "requires a token" not in message and "rejected the token" not in message
    assert len(server.requests) == 1  # an hour is beyond any retry bound: said at once


async def test_primary_rate_limit_that_resets_soon_is_waited_out(
        tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({TREE: [_primary_limit(1.5),
                           Route(fixture="github/git_tree_recursive.json")]})
    ctx = make_ctx(tmp_path, github_api_url=server.url)
    started = time.monotonic()
    result = await run_tool(GitHub(), ctx, operation="find_examples",
                            repo="sigmavirus24/github3.py", keyword="search")
    assert len(server.requests) == 2 and time.monotonic() - started >= 0.4
    assert "Example files" in result.text or "No example file" in result.text


async def test_secondary_rate_limit_honours_retry_after(
        tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({TREE: [
        Route(status=403, fixture="github/secondary_rate_limit_403.json", times=1,
              headers={"Retry-After": "1", "X-RateLimit-Remaining": "14"}),
        Route(fixture="github/git_tree_recursive.json"),
    ]})
    ctx = make_ctx(tmp_path, github_api_url=server.url)
    started = time.monotonic()
    await run_tool(GitHub(), ctx, operation="find_examples", repo="sigmavirus24/github3.py",
                   keyword="search")
    assert len(server.requests) == 2
    assert time.monotonic() - started >= 0.9  # waited what Retry-After asked


async def test_abuse_detection_without_headers_is_a_rate_limit(
        tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({TREE: Route(status=403, fixture="github/abuse_detection_403.json")})
    ctx = make_ctx(tmp_path, github_api_url=server.url)
    with pytest.raises(ToolError) as info:
        await run_tool(GitHub(), ctx, operation="find_examples",
                       repo="sigmavirus24/github3.py", keyword="search")
    message = str(info.value)
    assert "rate limit" in message and "abuse detection" in message
    assert "lifts in about 60 s" in message  # GitHub: wait at least a minute
    assert "requires a token" not in message
