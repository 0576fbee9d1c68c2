"""Errors raised by :class:`~openintern.http.client.ServiceClient`.

Every error names the service and URL (without query-string secrets: tokens never travel in
URLs) and says what the user can do about it.
"""

from __future__ import annotations

import email.utils
import json
import time


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
    """HTTP 429 persisted after every retry."""


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
