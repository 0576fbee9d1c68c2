"""ServiceClient over real HTTP against local fixture servers."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time

import pytest
from fixture_server import Route, ServeFactory, load_fixture

from openintern.http import (
    DiskCache,
    ServiceBadResponse,
    ServiceClient,
    ServiceHTTPError,
    ServiceNotFound,
    ServiceOffline,
    ServiceRateLimited,
    ServiceTimeout,
    ServiceUnauthorized,
    parse_retry_after,
)

SEARCH = "/graph/v1/paper/search"


def client_for(url: str, **kwargs: object) -> ServiceClient:
    defaults: dict[str, object] = {"backoff_base_s": 0.01, "backoff_max_s": 2.0,
                                   "timeout_s": 5.0}
    defaults.update(kwargs)
    return ServiceClient(service="semantic-scholar", base_url=url, **defaults)  # type: ignore[arg-type]


async def test_json_is_decoded_and_params_are_sent(serve: ServeFactory) -> None:
    server = serve({SEARCH: Route(fixture="semanticscholar/paper_search.json")})
    async with client_for(server.url) as client:
        data = await client.get_json(SEARCH, {"query": "turing", "limit": 100})
    assert data == json.loads(load_fixture("semanticscholar/paper_search.json"))
    assert server.requests[0].query == {"query": "turing", "limit": "100"}
    assert server.requests[0].headers["user-agent"] == "openintern/0.1"


async def test_cache_hit_does_not_touch_the_server_and_is_fast(
    serve: ServeFactory, http_cache: DiskCache
) -> None:
    server = serve({SEARCH: Route(fixture="semanticscholar/paper_search.json")})
    async with client_for(server.url, cache=http_cache) as client:
        first = await client.get_json(SEARCH, {"query": "turing"})
        started = time.perf_counter()
        second = await client.get_json(SEARCH, {"query": "turing"})
        elapsed = time.perf_counter() - started
        other = await client.get_json(SEARCH, {"query": "other"})
    assert first == second == other
    assert len(server.requests) == 2  # the repeated query never reached the server
    assert elapsed < 0.010


async def test_only_2xx_is_cached(serve: ServeFactory, http_cache: DiskCache) -> None:
    server = serve({SEARCH: Route(status=404, fixture="semanticscholar/paper_not_found_404.json")})
    async with client_for(server.url, cache=http_cache) as client:
        for _ in range(2):
            with pytest.raises(ServiceNotFound):
                await client.get_json(SEARCH)
    assert len(server.requests) == 2


async def test_429_then_200_honours_retry_after(serve: ServeFactory) -> None:
    server = serve({SEARCH: [
        Route(status=429, times=1, headers={"Retry-After": "1"},
              fixture="semanticscholar/rate_limited_429.json"),
        Route(fixture="semanticscholar/paper_search_year.json"),
    ]})
    async with client_for(server.url) as client:
        started = time.monotonic()
        data = await client.get_json(SEARCH)
        elapsed = time.monotonic() - started
    assert data["data"]
    assert len(server.requests) == 2
    assert elapsed >= 0.9  # waited for Retry-After, not the 10 ms backoff


async def test_persistent_429_raises_rate_limited_after_retries(serve: ServeFactory) -> None:
    server = serve({SEARCH: Route(status=429, fixture="semanticscholar/rate_limited_429.json")})
    async with client_for(server.url, max_retries=2) as client:
        with pytest.raises(ServiceRateLimited) as info:
            await client.get_json(SEARCH)
    assert len(server.requests) == 3
    assert info.value.status == 429
    assert "SEMANTIC_SCHOLAR_API_KEY" in str(info.value)


async def test_5xx_is_retried_then_succeeds(serve: ServeFactory) -> None:
    server = serve({SEARCH: [
        Route(status=503, times=2, body="upstream down"),
        Route(fixture="semanticscholar/paper_search_year.json"),
    ]})
    async with client_for(server.url) as client:
        data = await client.get_json(SEARCH)
    assert data["total"] >= 1
    assert len(server.requests) == 3


async def test_4xx_errors_are_typed_and_not_retried(serve: ServeFactory) -> None:
    server = serve({
        "/bad": Route(status=400, fixture="semanticscholar/paper_bad_fields_400.json"),
        "/private": Route(status=401, body={"error": "Invalid token"}),
    })
    async with client_for(server.url) as client:
        with pytest.raises(ServiceHTTPError) as bad:
            await client.get_json("/bad")
        with pytest.raises(ServiceUnauthorized) as unauthorized:
            await client.get_json("/private")
    assert bad.value.status == 400
    assert "Unrecognized or unsupported fields" in str(bad.value)
    assert "SEMANTIC_SCHOLAR_API_KEY" in str(unauthorized.value)
    assert len(server.requests) == 2


async def test_offline_fails_fast(serve: ServeFactory) -> None:
    server = serve({SEARCH: Route(fixture="semanticscholar/paper_search.json")})
    url = server.url
    server.stop()
    async with client_for(url, backoff_base_s=0.05) as client:
        started = time.monotonic()
        with pytest.raises(ServiceOffline) as info:
            await client.get_json(SEARCH)
    assert time.monotonic() - started < 2.0
    assert "cannot reach semantic-scholar" in str(info.value)


async def test_stale_cache_is_served_when_offline(
    serve: ServeFactory, http_cache: DiskCache
) -> None:
    server = serve({SEARCH: Route(fixture="semanticscholar/paper_search_year.json")})
    async with client_for(server.url, cache=http_cache, cache_ttl_s=0) as client:
        fresh = await client.fetch("GET", SEARCH, {"query": "turing"})
        server.stop()
        await asyncio.sleep(0.01)  # make the entry older than the 0 s lifetime
        stale = await client.fetch("GET", SEARCH, {"query": "turing"})
        with pytest.raises(ServiceOffline):
            await client.fetch("GET", SEARCH, {"query": "never fetched"})
    assert not fresh.stale
    assert stale.stale and stale.from_cache
    assert stale.body == fresh.body


async def test_timeout_raises_service_timeout(serve: ServeFactory) -> None:
    server = serve({SEARCH: Route(delay_s=1.0, body={"ok": True})})
    async with client_for(server.url, timeout_s=0.2) as client:
        started = time.monotonic()
        with pytest.raises(ServiceTimeout):
            await client.get_json(SEARCH)
    assert time.monotonic() - started < 1.5


async def test_token_goes_only_to_the_base_origin(serve: ServeFactory) -> None:
    home = serve({
        "/api/x": Route(body={"home": True}),
        "/hop": Route(status=302, headers={}),  # Location filled in below
    })
    elsewhere = serve({"/api/x": Route(body={"elsewhere": True})})
    home.add("/hop", Route(status=302, headers={"Location": f"{elsewhere.url}/api/x"}))
    async with client_for(home.url, token="s3cret", token_header="x-api-key",
                          token_prefix="") as client:
        assert await client.get_json("/api/x") == {"home": True}
        assert await client.get_json(f"{elsewhere.url}/api/x") == {"elsewhere": True}
        assert await client.get_json("/hop") == {"elsewhere": True}
        # Even an explicit caller header of the same name is dropped for other origins.
        await client.get_json(f"{elsewhere.url}/api/x", use_cache=False,
                              headers={"x-api-key": "s3cret"})
    assert home.requests_to("/api/x")[0].headers["x-api-key"] == "s3cret"
    assert home.requests_to("/hop")[0].headers["x-api-key"] == "s3cret"
    assert len(elsewhere.requests) == 3
    assert all("x-api-key" not in r.headers for r in elsewhere.requests)


async def test_min_interval_spaces_requests(serve: ServeFactory) -> None:
    server = serve({SEARCH: Route(body={"total": 0, "offset": 0})})
    async with client_for(server.url, min_interval_s=0.2) as client:
        started = time.monotonic()
        for i in range(3):
            await client.get_json(SEARCH, {"i": i})
    assert time.monotonic() - started >= 0.39


async def test_post_body_is_part_of_the_cache_key(
    serve: ServeFactory, http_cache: DiskCache
) -> None:
    server = serve({("POST", "/graph/v1/paper/batch"):
                    Route(fixture="semanticscholar/paper_batch.json")})
    async with client_for(server.url, cache=http_cache) as client:
        await client.post_json("/graph/v1/paper/batch", {"ids": ["a"]})
        await client.post_json("/graph/v1/paper/batch", {"ids": ["a"]})
        await client.post_json("/graph/v1/paper/batch", {"ids": ["b"]})
    assert [r.json() for r in server.requests] == [{"ids": ["a"]}, {"ids": ["b"]}]
    assert server.requests[0].headers["content-type"] == "application/json"


async def test_non_json_body_is_a_bad_response(serve: ServeFactory) -> None:
    server = serve({"/html": Route(body="<html>maintenance</html>", content_type="text/html")})
    async with client_for(server.url) as client:
        with pytest.raises(ServiceBadResponse):
            await client.get_json("/html")
        assert await client.get_text("/html") == "<html>maintenance</html>"


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = time.time()
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    date = email.utils.formatdate(now + 20, usegmt=True)
    waited = parse_retry_after(date, now=now)
    assert waited is not None and 18 <= waited <= 21
