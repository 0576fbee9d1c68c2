"""Persistence: sessions, messages, events, notes, plans (SQLAlchemy 2.x)."""

from openintern.store.records import SessionInfo
from openintern.store.session_store import SessionState, Store, StoreError, StoreUnavailable

__all__ = ["SessionInfo", "SessionState", "Store", "StoreError", "StoreUnavailable"]
