"""Who is spending: a context variable set around each spender (a sub-agent's run, a
summary, a synthesis or judge call), read by the accountant and the egress log.

Tasks and worker threads started inside a scope inherit it, so a sub-agent's tool calls
and its own summaries are attributed to the sub-agent's session.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

SpendKind = Literal["model", "summary", "subagent", "synthesis", "judge", "retry", "compute"]
SPEND_KINDS: tuple[SpendKind, ...] = (
    "model", "summary", "subagent", "synthesis", "judge", "retry", "compute")


@dataclass(frozen=True)
class SpendScope:
    """The kind of spend in progress and the session it belongs to (None: the root)."""

    kind: SpendKind = "model"
    session_id: str | None = None


_SCOPE: ContextVar[SpendScope | None] = ContextVar("openintern_spend_scope", default=None)
_MAIN = SpendScope()


def current_scope() -> SpendScope:
    """The scope of the code running now (the main loop's by default)."""
    return _SCOPE.get() or _MAIN


@contextlib.contextmanager
def spending_as(kind: SpendKind, session_id: str | None = None) -> Iterator[SpendScope]:
    """Attribute the model calls made inside to ``kind`` (and ``session_id``, else the
    enclosing scope's session)."""
    outer = current_scope()
    scope = SpendScope(kind, session_id if session_id is not None else outer.session_id)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        with contextlib.suppress(ValueError):  # reset from another context
            _SCOPE.reset(token)
