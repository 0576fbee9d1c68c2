"""Persistence: sessions, messages, events, notes, plans (SQLAlchemy 2.x)."""

from openintern.store.session_store import SessionInfo, SessionState, Store, StoreError

__all__ = ["SessionInfo", "SessionState", "Store", "StoreError"]
