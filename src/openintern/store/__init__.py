"""Persistence: sessions, messages, events, notes, plans (SQLAlchemy 2.x)."""

from openintern.store.errors import StoreError, StoreUnavailable
from openintern.store.records import SessionInfo
from openintern.store.session_store import SessionState, Store

__all__ = ["SessionInfo", "SessionState", "Store", "StoreError", "StoreUnavailable"]
