"""Fixtures for the ledger tests: a workspace with a real training script, a real store
(on SQLite and on PostgreSQL), a local backend without sandbox, and a tool context."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from openintern.compute.local import LocalBackend
from openintern.config import Settings
from openintern.events import EventBase
from openintern.research import Ledger
from openintern.sandbox import make_sandbox
from openintern.store import SessionState, Store
from openintern.tools.base import ToolContext

TRAIN_SCRIPT = Path(__file__).with_name("train_digits.py")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copy(TRAIN_SCRIPT, ws / "train.py")
    (ws / "data").mkdir()
    (ws / "data" / "notes.csv").write_text("a,b\n1,2\n")
    return ws


@pytest.fixture
def settings(workspace: Path, store_url: str) -> Settings:
    # Every ledger test runs on SQLite and on PostgreSQL (``store_url`` is parametrised).
    return Settings(workspace=workspace, sandbox="none", store_url=store_url)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = Store(settings.resolved_store_url())
    yield s
    s.close()


@pytest.fixture
def ledger(store: Store) -> Ledger:
    return Ledger(store)


@pytest.fixture
def backend(workspace: Path, settings: Settings) -> LocalBackend:
    return LocalBackend(workspace, make_sandbox(settings, workspace), max_cpu_jobs=2)


@pytest.fixture
def events() -> list[EventBase]:
    return []


@pytest.fixture
def ctx(settings: Settings, workspace: Path, store: Store, ledger: Ledger,
        backend: LocalBackend, events: list[EventBase]) -> ToolContext:
    session = store.create_session(task="digits", model="test", workspace=str(workspace),
                                   headless=True)

    def emit(event: EventBase) -> EventBase:
        event.session_id = session.id
        events.append(event)
        return event

    return ToolContext(settings=settings, workspace=workspace, sandbox=backend.sandbox,
                       state=SessionState(store, session.id), session_id=session.id,
                       emit=emit, services={"ledger": ledger, "backends": {"local": backend}})
