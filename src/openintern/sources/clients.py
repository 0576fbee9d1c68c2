"""Build :class:`~openintern.http.ServiceClient` objects from ``Settings``, once per
session: tools keep them in ``ToolContext.services`` so connections and the cache are shared.

Every token is paired with the base URL it belongs to; the client sends it only to that
URL's scheme+host+port.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from openintern.http import DiskCache, ServiceClient

if TYPE_CHECKING:
    from openintern.config import Settings

T = TypeVar("T")

# Key under which a caller may put a DiskCache (or None to disable caching) in services.
HTTP_CACHE_KEY = "http_cache"


def shared(services: dict[str, Any], key: str, build: Callable[[], T]) -> T:
    """``services[key]``, built on first use."""
    if key not in services:
        services[key] = build()
    value: T = services[key]
    return value


def http_cache(services: dict[str, Any]) -> DiskCache | None:
    """The session's on-disk HTTP cache (the default location unless one was provided)."""
    if HTTP_CACHE_KEY not in services:
        services[HTTP_CACHE_KEY] = DiskCache()
    cache: DiskCache | None = services[HTTP_CACHE_KEY]
    return cache


def make_client(
    settings: Settings,
    services: dict[str, Any],
    *,
    service: str,
    base_url: str,
    token: str | None = None,
    **options: Any,
) -> ServiceClient:
    """A ServiceClient with the session's timeout, cache lifetime and cache."""
    return ServiceClient(
        service=service,
        base_url=base_url,
        token=token,
        timeout_s=settings.http_timeout_s,
        cache=http_cache(services),
        cache_ttl_s=settings.cache_ttl_s,
        **options,
    )


def secret(value: Any) -> str | None:
    """The plain value of a SecretStr setting (None when unset or empty)."""
    if value is None:
        return None
    plain = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return str(plain) or None


def explain(exc: Exception) -> str:
    """A failure of a remote call as one sentence for the model (the exception's message
    already says what to do; this only adds the service name when it is missing)."""
    service = getattr(exc, "service", None)
    message = str(exc) or type(exc).__name__
    if service and service not in message:
        return f"{service}: {message}"
    return message
