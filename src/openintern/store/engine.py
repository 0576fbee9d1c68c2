"""Engine set-up and the store's hot-path statements."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, bindparam, create_engine, event, insert, update

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


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout for concurrent readers."""
    is_sqlite = url.startswith("sqlite")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30} if is_sqlite else {},
        pool_pre_ping=not is_sqlite,
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
