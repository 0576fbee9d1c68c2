"""A small on-disk HTTP response cache: one file per key.

Each file holds one JSON metadata line (status, content type, fetch time) followed by the
raw body bytes, so a lookup is a single file read. Writes go through a temporary file and
an atomic rename, so concurrent writers never leave a torn entry.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CachedResponse:
    """A stored 2xx response.

    ``stale`` is set by the client when an expired entry was served because the service
    was unreachable; it is never written to disk.
    """

    status: int
    content_type: str
    body: bytes
    fetched_at: float
    stale: bool = False

    def age_s(self, now: float | None = None) -> float:
        """Seconds since the response was fetched."""
        return (time.time() if now is None else now) - self.fetched_at


def default_cache_dir() -> Path:
    """The default cache directory: ``<data dir>/cache/http``."""
    from openintern.config import data_dir

    return data_dir() / "cache" / "http"


class DiskCache:
    """Responses keyed by an opaque string (the client uses a sha256 hex digest)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_cache_dir()

    def _path(self, key: str) -> Path:
        # Two-character fan-out keeps directories small for large caches.
        return self.directory / key[:2] / f"{key}.entry"

    def get(self, key: str, ttl_s: int) -> CachedResponse | None:
        """The entry for ``key`` if present and younger than ``ttl_s`` seconds."""
        entry = self.get_any_age(key)
        if entry is None or entry.age_s() > ttl_s:
            return None
        return entry

    def get_any_age(self, key: str) -> CachedResponse | None:
        """The entry for ``key`` however old it is (for serving stale data offline)."""
        try:
            raw = self._path(key).read_bytes()
        except OSError:
            return None
        header, sep, body = raw.partition(b"\n")
        if not sep:
            return None
        try:
            meta = json.loads(header)
            return CachedResponse(
                status=int(meta["status"]),
                content_type=str(meta["content_type"]),
                body=body,
                fetched_at=float(meta["fetched_at"]),
            )
        except (ValueError, KeyError, TypeError):
            # A corrupt entry is a miss, not a crash; the next put overwrites it.
            return None

    def put(self, key: str, response: CachedResponse) -> None:
        """Store ``response`` under ``key`` (atomically replacing any older entry)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "status": response.status,
            "content_type": response.content_type,
            "fetched_at": response.fetched_at,
        }
        header = json.dumps(meta).encode() + b"\n"
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(header)
                handle.write(response.body)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
