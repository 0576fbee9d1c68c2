"""Who may see what when users are configured.

Without users, the one token holder sees everything. With users (token -> name), each
user sees only the sessions they started (recorded as ``owner`` in the session's config),
and their experiments; the server's own token still sees everything. Another user's
session answers 404, as if it did not exist, so ids cannot be probed.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from openintern.research.ledger import ExperimentRecord, Ledger, LedgerError
from openintern.store import SessionInfo, StoreError


def ledger_of(request: Request) -> Ledger:
    """The app's experiment ledger."""
    ledger: Ledger = request.app.state.hub.ledger
    return ledger


def current_user(request: Request) -> str | None:
    """The user name of the request; None for the server's own token (sees all)."""
    user = request.scope.get("state", {}).get("user")
    return user if isinstance(user, str) else None


def owns(user: str | None, info: SessionInfo) -> bool:
    """Whether ``user`` may see the session."""
    return user is None or info.config.get("owner") == user


def can_see(request: Request, session_id: str) -> bool:
    """Whether the session exists and this request's user may see it."""
    try:
        info = request.app.state.hub.store.get_session(session_id)
    except StoreError:
        return False
    return owns(current_user(request), info)


def visible_sessions(request: Request, limit: int) -> list[SessionInfo]:
    """Sessions this user may see, newest first."""
    user = current_user(request)
    store = request.app.state.hub.store
    if user is None:
        return list(store.list_sessions(limit))
    # Owners are a config field, so filter after reading; a generous window keeps the
    # list full for a user whose sessions are interleaved with others'.
    return [s for s in store.list_sessions(limit * 10) if owns(user, s)][:limit]


def visible_experiments(request: Request, session_id: str | None) -> list[ExperimentRecord]:
    """Experiments (of one session, or all) this user may see."""
    ledger = ledger_of(request)
    if session_id is not None and not can_see(request, session_id):
        return []
    records = ledger.experiments(session_id)
    if current_user(request) is None or session_id is not None:
        return records
    allowed: dict[str, bool] = {}
    for r in records:
        if r.session_id not in allowed:
            allowed[r.session_id] = can_see(request, r.session_id)
    return [r for r in records if allowed[r.session_id]]


def experiment_or_404(request: Request, exp_id: str) -> ExperimentRecord:
    """The experiment (by id or unique prefix) if this user may see it, else 404.
    Blocking (reads the store)."""
    try:
        record = ledger_of(request).get(exp_id)
    except LedgerError:
        raise HTTPException(404, f"no experiment {exp_id!r}") from None
    if not can_see(request, record.session_id):
        raise HTTPException(404, f"no experiment {exp_id!r}")
    return record
