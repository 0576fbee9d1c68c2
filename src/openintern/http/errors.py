"""Errors raised by :class:`~openintern.http.client.ServiceClient`.

Every error names the service and URL (without query-string secrets: tokens never travel in
URLs) and says what the user can do about it.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ServiceError(Exception):
    """Base of every external-service failure.

    ``status`` is the HTTP status when the service answered (None when it did not);
    ``body`` is the start of the error body, for clients that parse service-specific
    error formats (arXiv sends an Atom feed, Semantic Scholar ``{"error": ...}``).
    """

    def __init__(
        self,
        message: str,
        *,
        service: str,
        url: str,
        status: int | None = None,
        body: str = "",
    ) -> None:
        super().__init__(message)
        self.service = service
        self.url = url
        self.status = status
        self.body = body


class ServiceOffline(ServiceError):
    """The service could not be reached (DNS failure, connection refused, no network)."""


class ServiceTimeout(ServiceError):
    """The service did not answer within the timeout, even after a retry."""


class ServiceUnauthorized(ServiceError):
    """HTTP 401/403: a token is missing, wrong, or lacks the needed permission."""


class ServiceNotFound(ServiceError):
    """HTTP 404: the requested object does not exist (check the id)."""


class ServiceRateLimited(ServiceError):
    """A rate limit (HTTP 429, or a 403 that says it is one) persisted after every retry,
    or asks for a longer wait than the client allows. ``retry_in_s`` is the wait the
    service asked for, when it said."""

    def __init__(self, message: str, *, retry_in_s: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_in_s = retry_in_s


class ServiceHTTPError(ServiceError):
    """Any other 4xx, or a 5xx that persisted after every retry."""


class ServiceBadResponse(ServiceError):
    """The service answered 2xx with a body that could not be decoded (e.g. not JSON)."""


# Which setting supplies each service's token, for 401/403 messages.
_TOKEN_HINTS = {
    "huggingface": "set HF_TOKEN (or hf_token in the config file)",
    "hub": "set HF_TOKEN (or hf_token in the config file)",
    "datasets-server": "set HF_TOKEN (or hf_token in the config file)",
    "github": "set GITHUB_TOKEN (or github_token in the config file)",
    "semantic-scholar": (
        "set SEMANTIC_SCHOLAR_API_KEY (or semantic_scholar_api_key in the config file)"
    ),
}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# Phrases of 403 bodies that are rate limits, not permission problems (GitHub's primary
# and secondary limits, and the older name of the latter).
_RATE_LIMIT_PHRASES = ("rate limit", "abuse detection", "secondary quota")

# Without any header, GitHub asks to wait at least a minute after a secondary limit.
DEFAULT_RATE_LIMIT_WAIT_S = 60.0


@dataclass
class RateLimit:
    """A rate-limit answer: how long to wait (None: not said, back off) and until when."""

    wait_s: float | None
    reset_at: float | None = None


def rate_limit_of(status: int, headers: Mapping[str, str], body: bytes,
                  now: float | None = None) -> RateLimit | None:
    """The rate limit an answer reports, or None when it is not one. 429 always is; a 403
    is one when ``Retry-After`` is set, ``X-RateLimit-Remaining`` is 0, or the message
    says so (GitHub answers its primary and secondary limits with 403)."""
    if status not in (403, 429):
        return None
    now = time.time() if now is None else now
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = parse_retry_after(lowered.get("retry-after"), now)
    remaining = (lowered.get("x-ratelimit-remaining") or "").strip()
    reset_at: float | None
    try:
        reset_at = float(lowered["x-ratelimit-reset"])
    except (KeyError, ValueError):
        reset_at = None
    said = any(p in _error_excerpt(body).lower() for p in _RATE_LIMIT_PHRASES)
    if status == 403 and retry_after is None and remaining != "0" and not said:
        return None
    if retry_after is not None:
        return RateLimit(retry_after, now + retry_after)
    if remaining == "0" and reset_at is not None:
        return RateLimit(max(0.0, reset_at - now), reset_at)
    if status == 429:
        return RateLimit(None)
    return RateLimit(DEFAULT_RATE_LIMIT_WAIT_S, now + DEFAULT_RATE_LIMIT_WAIT_S)


def rate_limited_error(service: str, url: str, status: int, content: bytes, *,
                       limit: RateLimit, has_token: bool, retries: int) -> ServiceRateLimited:
    """The error for a rate limit the client will not wait out, saying when it lifts."""
    excerpt = _error_excerpt(content)
    when = ""
    if limit.wait_s is not None:
        minutes = limit.wait_s / 60
        span = f"{limit.wait_s:.0f} s" if limit.wait_s < 120 else f"{minutes:.0f} min"
        clock = time.strftime("%H:%M UTC", time.gmtime(limit.reset_at)) if limit.reset_at else ""
        when = f"; it lifts in about {span}" + (f" (at {clock})" if clock else "")
    hint = _TOKEN_HINTS.get(service)
    more = f"; authenticated requests get a higher limit: {hint}" if hint and not has_token else ""
    return ServiceRateLimited(
        f"{service} is rate limiting requests (HTTP {status}, after {retries} retries): "
        f"{excerpt}{when}. Wait and retry later{more}",
        service=service, url=url, status=status,
        body=content.decode("utf-8", errors="replace")[:2000], retry_in_s=limit.wait_s,
    )


def _error_excerpt(body: bytes, limit: int = 300) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:limit]
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            if isinstance(data.get(key), str):
                return str(data[key])[:limit]
    return text[:limit]


def error_for_status(
    service: str,
    url: str,
    status: int,
    content: bytes,
    *,
    token_sent: bool,
    has_token: bool,
    retries: int,
) -> ServiceError:
    """The typed error for a non-2xx answer, with a message saying what to do."""
    excerpt = _error_excerpt(content)
    body = content.decode("utf-8", errors="replace")[:2000]
    hint = _TOKEN_HINTS.get(service, "check the token for this service")
    if status in (401, 403):
        what = "rejected the token" if token_sent else "requires a token"
        return ServiceUnauthorized(
            f"{service} {what} (HTTP {status}) for {url}: {excerpt}; {hint}",
            service=service, url=url, status=status, body=body,
        )
    if status == 404:
        return ServiceNotFound(
            f"{service} has nothing at {url} (HTTP 404: {excerpt}); check the id",
            service=service, url=url, status=status, body=body,
        )
    if status == 429:
        more = f" or {hint} for a higher limit" if service in _TOKEN_HINTS and not has_token else ""
        return ServiceRateLimited(
            f"{service} is rate limiting requests (HTTP 429 after {retries} retries): "
            f"{excerpt}; wait a minute{more}",
            service=service, url=url, status=status, body=body,
        )
    return ServiceHTTPError(
        f"{service} answered HTTP {status} for {url}: {excerpt}",
        service=service, url=url, status=status, body=body,
    )
