"""Engine set-up and the store's hot-path statements."""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import Engine, MetaData, bindparam, create_engine, event, insert, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from openintern.store.models import EventRow, MessageRow, SessionRow

# Hot-path statements built once with bound parameters, so SQLAlchemy compiles each once
# (a statement rebuilt with inline values per call costs several times the SQLite work).
ADD_USAGE = (
    update(SessionRow)
    .where(SessionRow.id == bindparam("sid"))
    .values(
        total_cost_usd=SessionRow.total_cost_usd + bindparam("cost"),
        prompt_tokens=SessionRow.prompt_tokens + bindparam("prompt"),
        completion_tokens=SessionRow.completion_tokens + bindparam("completion"),
        iterations=SessionRow.iterations + 1,
        updated_at=bindparam("now"),
    )
    .returning(SessionRow.total_cost_usd)
)
INSERT_MESSAGE = insert(MessageRow)
INSERT_EVENT = insert(EventRow)


# JSON has no NaN or Infinity: PostgreSQL refuses Python's ``NaN`` token, SQLite keeps it
# as text. A metric may well be NaN (a diverged loss), so non-finite numbers are stored as
# this one-key object on every backend and turned back into floats when read.
NON_FINITE_KEY = "$nonfinite"
_NON_FINITE_NAMES = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _tag_non_finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else {NON_FINITE_KEY: _NON_FINITE_NAMES[repr(value)]}
    if isinstance(value, dict):
        return {k: _tag_non_finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tag_non_finite(v) for v in value]
    return value


def _untag_non_finite(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and NON_FINITE_KEY in obj:
        return float(obj[NON_FINITE_KEY])
    return obj


def json_serializer(value: Any) -> str:
    """JSON text every backend accepts: non-finite floats tagged (see above)."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:  # a NaN or an infinity somewhere: the slow path, only then
        return json.dumps(_tag_non_finite(value), allow_nan=False)


def json_deserializer(text: str) -> Any:
    """The inverse of :func:`json_serializer` (also reads the bare ``NaN`` of old rows)."""
    return json.loads(text, object_hook=_untag_non_finite)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout for concurrent readers
    (30 s unless the URL says ``?timeout=...``)."""
    is_sqlite = url.startswith("sqlite")
    connect_args: dict[str, Any] = {}
    if is_sqlite:
        connect_args = {"check_same_thread": False}
        if "timeout" not in make_url(url).query:
            connect_args["timeout"] = 30
    engine = create_engine(
        url,
        connect_args=connect_args,
        pool_pre_ping=not is_sqlite,
        json_serializer=json_serializer,
        json_deserializer=json_deserializer,
    )
    if is_sqlite:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def create_tables(metadata: MetaData, engine: Engine) -> None:
    """Create the missing tables. Two processes opening a new database at once (`intern
    serve` and a CLI run, or a test reading the store a run is creating) both see a table
    missing and both create it: the loser's "already exists" only means the table is
    there now, so check again instead of failing. (PostgreSQL may instead report the
    duplicate row type the other CREATE TABLE inserted: pg_type_typname_nsp_index.)"""
    for attempt in range(5):
        try:
            metadata.create_all(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError) as exc:
            text = str(exc).lower()
            raced = "already exists" in text or "pg_type_typname_nsp_index" in text
            if not raced or attempt == 4:
                raise
