"""Shared HTTP access to external services: retries, rate spacing, token scoping, cache."""

from openintern.http.cache import CachedResponse, DiskCache, default_cache_dir
from openintern.http.client import FetchedResponse, ServiceClient
from openintern.http.errors import (
    ServiceBadResponse,
    ServiceError,
    ServiceHTTPError,
    ServiceNotFound,
    ServiceOffline,
    ServiceRateLimited,
    ServiceTimeout,
    ServiceUnauthorized,
    parse_retry_after,
)

__all__ = [
    "CachedResponse",
    "DiskCache",
    "FetchedResponse",
    "ServiceBadResponse",
    "ServiceClient",
    "ServiceError",
    "ServiceHTTPError",
    "ServiceNotFound",
    "ServiceOffline",
    "ServiceRateLimited",
    "ServiceTimeout",
    "ServiceUnauthorized",
    "default_cache_dir",
    "parse_retry_after",
]
