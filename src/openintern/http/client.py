"""``ServiceClient``: the one way OpenIntern talks to external HTTP services.

What it guarantees:

- every request has a timeout (no hangs);
- 5xx, timeouts and connection errors are retried with exponential backoff and jitter;
  rate limits (429, and 403s that say they are one, as GitHub's do) wait what
  ``Retry-After`` or ``X-RateLimit-Reset`` asks when that fits ``backoff_max_s``, and are
  reported at once, saying when they lift, when it does not;
  connection errors and timeouts are retried at most once, so an offline machine fails
  within seconds instead of minutes;
- requests to one client are spaced by ``min_interval_s`` (services that rate-limit
  anonymous callers, e.g. Semantic Scholar at about one request per second);
- the token is sent only to the scheme+host+port of ``base_url``; a full URL on any other
  origin (one a model supplied, a redirect target) is fetched without it;
- 2xx responses are cached on disk; an expired entry is served (flagged ``stale``) when
  the service is unreachable, so earlier work stays usable offline.

Hand-written, not yet hishel plus a retrying transport: these guarantees are tested
together (tests/research/test_http_client.py), and a swap must keep all of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx

from openintern.http.cache import CachedResponse, DiskCache
from openintern.http.errors import (
    ServiceBadResponse,
    ServiceError,
    ServiceHTTPError,
    ServiceOffline,
    ServiceRateLimited,
    ServiceTimeout,
    error_for_status,
    rate_limit_of,
    rate_limited_error,
)

log = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}
Params = dict[str, Any] | None


@dataclass
class FetchedResponse:
    """A response as returned by :meth:`ServiceClient.fetch`.

    ``from_cache`` is True when no request was made; ``stale`` is True when an expired
    cache entry was served because the service was unreachable.
    """

    status: int
    content_type: str
    body: bytes
    url: str
    from_cache: bool = False
    stale: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    port = url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme)
    return (url.scheme, url.host, port)


def _full_url(url: str, params: Params) -> str:
    """``url`` with ``params`` appended in sorted order (stable cache keys)."""
    if not params:
        return url
    items = sorted((k, _param_str(v)) for k, v in params.items() if v is not None)
    if not items:
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}{urlencode(items)}"


def _param_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ServiceClient:
    """An async HTTP client for one external service (see the module docstring)."""

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        token: str | None = None,
        token_header: str = "Authorization",
        token_prefix: str = "Bearer ",
        timeout_s: float = 30.0,
        max_retries: int = 4,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 30.0,
        cache: DiskCache | None = None,
        cache_ttl_s: int = 7 * 24 * 3600,
        min_interval_s: float = 0.0,
        user_agent: str = "openintern/0.1",
    ) -> None:
        self.service = service
        self.base_url = base_url
        self._base_origin = _origin(httpx.URL(base_url))
        self._token = token or None
        self._token_header = token_header
        self._token_prefix = token_prefix
        self.timeout_s = timeout_s
        self.max_retries = max(0, max_retries)
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.cache = cache
        self.cache_ttl_s = cache_ttl_s
        self.min_interval_s = min_interval_s
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,  # followed by hand so the token scope is re-checked
            headers={"User-Agent": user_agent},
        )
        self._space_lock: asyncio.Lock | None = None
        self._last_request_at = 0.0

    # --- public API -----------------------------------------------------------------
    async def get_json(
        self,
        path_or_url: str,
        params: Params = None,
        *,
        use_cache: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """GET and decode JSON. Raises a :class:`ServiceError` subclass on failure."""
        response = await self.fetch("GET", path_or_url, params, use_cache=use_cache,
                                    headers=headers)
        return self._decode_json(response)

    async def get_text(
        self,
        path_or_url: str,
        params: Params = None,
        *,
        use_cache: bool = True,
        headers: dict[str, str] | None = None,
    ) -> str:
        """GET and return the body as text."""
        response = await self.fetch("GET", path_or_url, params, use_cache=use_cache,
                                    headers=headers)
        return response.text

    async def get_bytes(
        self,
        path_or_url: str,
        params: Params = None,
        *,
        use_cache: bool = True,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        """GET and return the raw body."""
        response = await self.fetch("GET", path_or_url, params, use_cache=use_cache,
                                    headers=headers)
        return response.body

    async def post_json(
        self,
        path_or_url: str,
        body: Any,
        params: Params = None,
        *,
        use_cache: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """POST ``body`` as JSON and decode the JSON answer (cached: use for idempotent
        lookups such as batch endpoints; pass ``use_cache=False`` otherwise)."""
        response = await self.fetch("POST", path_or_url, params, json_body=body,
                                    use_cache=use_cache, headers=headers)
        return self._decode_json(response)

    async def fetch(
        self,
        method: str,
        path_or_url: str,
        params: Params = None,
        *,
        json_body: Any = None,
        use_cache: bool = True,
        headers: dict[str, str] | None = None,
    ) -> FetchedResponse:
        """The general request: cache lookup, retries, redirects, stale fallback.

        ``use_cache=False`` neither reads nor writes the cache (and so never serves stale
        data). Redirects are followed (at most 5), re-deciding the token for each hop.
        """
        url = _full_url(self.resolve(path_or_url), params)
        payload = (
            None if json_body is None
            else json.dumps(json_body, sort_keys=True, separators=(",", ":")).encode()
        )
        key = self.cache_key(method, url, payload)
        if use_cache and self.cache is not None:
            hit = self.cache.get(key, self.cache_ttl_s)
            if hit is not None:
                return FetchedResponse(hit.status, hit.content_type, hit.body, url,
                                       from_cache=True)
        try:
            response = await self._request_with_retries(method, url, payload, headers or {})
        except (ServiceOffline, ServiceTimeout, ServiceHTTPError, ServiceRateLimited) as exc:
            stale = self._stale_entry(key, exc) if use_cache else None
            if stale is None:
                raise
            return stale
        if use_cache and self.cache is not None and 200 <= response.status < 300:
            self.cache.put(key, CachedResponse(response.status, response.content_type,
                                               response.body, time.time()))
        return response

    def resolve(self, path_or_url: str) -> str:
        """An absolute URL: full URLs pass through, paths are joined to ``base_url``."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        if not path_or_url:
            return self.base_url
        return f"{self.base_url.rstrip('/')}/{path_or_url.lstrip('/')}"

    def token_applies_to(self, url: str) -> bool:
        """True when ``url`` has the same scheme, host and port as ``base_url``."""
        return self._token is not None and _origin(httpx.URL(url)) == self._base_origin

    def cache_key(self, method: str, url: str, payload: bytes | None) -> str:
        """sha256 of method, full URL and body (and of the token, so anonymous and
        authenticated answers never mix)."""
        digest = hashlib.sha256()
        digest.update(method.upper().encode() + b"\n" + url.encode() + b"\n")
        digest.update(payload or b"")
        if self.token_applies_to(url) and self._token is not None:
            digest.update(b"\ntoken:" + hashlib.sha256(self._token.encode()).digest())
        return digest.hexdigest()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- internals ------------------------------------------------------------------
    def _decode_json(self, response: FetchedResponse) -> Any:
        try:
            return json.loads(response.body)
        except ValueError:
            raise ServiceBadResponse(
                f"{self.service} answered {response.url} with a body that is not JSON "
                f"(starts {response.text[:80]!r}); the service may be degraded, retry later",
                service=self.service, url=response.url, status=response.status,
                body=response.text[:300],
            ) from None

    def _stale_entry(self, key: str, exc: ServiceError) -> FetchedResponse | None:
        if self.cache is None:
            return None
        if isinstance(exc, ServiceHTTPError) and (exc.status or 0) < 500:
            return None
        entry = self.cache.get_any_age(key)
        if entry is None:
            return None
        log.warning("%s unreachable (%s); serving a cached response %.0f s old",
                    self.service, exc, entry.age_s())
        return FetchedResponse(entry.status, entry.content_type, entry.body, exc.url,
                               from_cache=True, stale=True)

    def _headers_for(self, url: str, extra: dict[str, str]) -> dict[str, str]:
        headers = dict(extra)
        if self.token_applies_to(url):
            headers[self._token_header] = f"{self._token_prefix}{self._token}"
        else:
            # A caller-supplied header must not smuggle credentials to another origin.
            headers.pop(self._token_header, None)
        return headers

    async def _wait_for_slot(self) -> None:
        if self.min_interval_s <= 0:
            return
        if self._space_lock is None:
            self._space_lock = asyncio.Lock()
        async with self._space_lock:
            wait = self._last_request_at + self.min_interval_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_request_at = time.monotonic()

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max_s)
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0**attempt)
        return ceiling * (0.5 + random.random() / 2)  # jitter spreads synchronized callers

    async def _request_with_retries(
        self, method: str, url: str, payload: bytes | None, extra: dict[str, str]
    ) -> FetchedResponse:
        attempt = 0
        network_failures = 0
        while True:
            try:
                response = await self._send_following_redirects(method, url, payload, extra)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                network_failures += 1
                if network_failures > min(1, self.max_retries):
                    raise self._network_error(exc, url) from None
                await asyncio.sleep(self._backoff(attempt, None))
                attempt += 1
                continue
            limit = rate_limit_of(response.status_code, response.headers, response.content)
            if limit is not None:
                # Wait as long as the service asks, if that fits our bound; a longer wait
                # (GitHub's hourly reset) is reported at once, with when it lifts.
                delay = limit.wait_s if limit.wait_s is not None else self._backoff(attempt,
                                                                                    None)
                if attempt >= self.max_retries or delay > self.backoff_max_s:
                    raise rate_limited_error(
                        self.service, url, response.status_code, response.content,
                        limit=limit, has_token=self._token is not None, retries=attempt)
            elif response.status_code in _RETRY_STATUSES and attempt < self.max_retries:
                delay = self._backoff(attempt, None)
            else:
                return self._check(response, url)
            log.info("%s answered %s for %s; retrying in %.1f s", self.service,
                     response.status_code, url, delay)
            await asyncio.sleep(delay)
            attempt += 1

    async def _send_following_redirects(
        self, method: str, url: str, payload: bytes | None, extra: dict[str, str]
    ) -> httpx.Response:
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            await self._wait_for_slot()
            headers = self._headers_for(current, extra)
            if payload is not None:
                headers.setdefault("Content-Type", "application/json")
            response = await self._client.request(method, current, content=payload,
                                                  headers=headers)
            location = response.headers.get("location")
            if response.status_code not in _REDIRECT_STATUSES or not location:
                return response
            await response.aclose()
            current = str(httpx.URL(current).join(location))
            if response.status_code == 303:
                method, payload = "GET", None
        raise ServiceHTTPError(
            f"{self.service} redirected more than {_MAX_REDIRECTS} times starting at {url}",
            service=self.service, url=url,
        )

    def _network_error(self, exc: Exception, url: str) -> ServiceError:
        if isinstance(exc, httpx.TimeoutException):
            return ServiceTimeout(
                f"{self.service} did not answer within {self.timeout_s:.0f} s ({url}); "
                "the service may be overloaded, retry later",
                service=self.service, url=url,
            )
        return ServiceOffline(
            f"cannot reach {self.service} at {url} ({type(exc).__name__}: {exc}); "
            "check the network connection or the service's base URL setting",
            service=self.service, url=url,
        )

    def _check(self, response: httpx.Response, url: str) -> FetchedResponse:
        status = response.status_code
        if 200 <= status < 300:
            return FetchedResponse(status, response.headers.get("content-type", ""),
                                   response.content, str(response.url),
                                   headers=dict(response.headers))
        raise error_for_status(
            self.service, url, status, response.content,
            token_sent=self.token_applies_to(url), has_token=self._token is not None,
            retries=self.max_retries,
        )
