"""Errors of the store: what was asked cannot be done, or the database failed."""

from __future__ import annotations

from sqlalchemy.exc import DataError, InterfaceError, OperationalError

__all__ = ["UNAVAILABLE_ERRORS", "StoreError", "StoreUnavailable", "store_unavailable"]


class StoreError(RuntimeError):
    """The store cannot do what was asked (unknown session, ambiguous id, bad URL)."""


class StoreUnavailable(StoreError):
    """The database failed a read or write (disk full, database locked, connection lost).
    The transaction in progress was rolled back; everything committed before is kept."""


# Database errors that mean "the database cannot do this now", not "the code is wrong".
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, DataError)

_HINTS = (
    ("locked", "another process holds a lock on the database (a second intern, or a "
               "long transaction); stop it or wait"),
    ("full", "the disk is full; free some space"),
    ("disk i/o", "the disk failed; check the file system"),
    ("readonly", "the database file is read-only; check its permissions"),
    ("unable to open", "the database file or its folder cannot be opened; check the path "
                       "and its permissions"),
    ("read-only", "the database is read-only; check its permissions"),
    ("could not connect", "the database server is not reachable; start it or check the "
                          "store URL"),
    ("connection", "the connection to the database server was lost; check the server"),
)


def store_unavailable(exc: Exception, where: str) -> StoreUnavailable:
    """The typed error for a failed database call on the store at ``where``, naming the
    cause and what to do."""
    orig = getattr(exc, "orig", None) or exc
    reason = " ".join(str(orig).split())[:300] or type(orig).__name__
    lowered = reason.lower()
    hint = next((h for key, h in _HINTS if key in lowered), "check the database")
    return StoreUnavailable(
        f"the store ({where}) failed: {reason}. Nothing committed before was lost; "
        f"{hint}, then continue the session with `intern resume <id>`."
    )
