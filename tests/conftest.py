"""Suite-wide isolation: no test touches the user's data, config or the internet."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pg_cluster import ExternalServer, PostgresCluster, find_bindir

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# As if the virtual environment were activated: the suite is run as `.venv/bin/python -m
# pytest`, and processes it starts (a Ray head and its jobs, `python` in job commands)
# must find this interpreter's commands first, not the system's.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets its own data dir (store, caches) and an empty config file path."""
    base = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("OPENINTERN_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("OPENINTERN_CONFIG", str(base / "config.toml"))
    yield


@pytest.fixture
def test_output_dir() -> Path:
    """Where tests leave artefacts worth looking at (screenshots, plots)."""
    out = Path(os.environ.get("OPENINTERN_TEST_OUTPUT", "test-output"))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace directory (test folders with special needs override this)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster | ExternalServer | str]:
    """A PostgreSQL server for the whole test session, or why there is none (a string):
    ``OPENINTERN_TEST_POSTGRES_URL`` if set, else a throwaway cluster from the installed
    Debian binaries (``scripts/setup.sh --dev`` installs them)."""
    external = os.environ.get("OPENINTERN_TEST_POSTGRES_URL")
    if external:
        yield ExternalServer(external)
        return
    bindir = find_bindir()
    if bindir is None:
        yield "PostgreSQL is not installed (scripts/setup.sh --dev installs it)"
        return
    try:
        cluster = PostgresCluster.start(bindir)
    except (RuntimeError, OSError) as exc:
        yield f"could not start a PostgreSQL cluster: {exc}"
        return
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of an empty store, once on SQLite and once on PostgreSQL; also set as
    ``OPENINTERN_STORE_URL`` so stores built from settings use it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        server = request.getfixturevalue("postgres")
        if isinstance(server, str):
            # CI must not pass by skipping half the store tests (.ci/run sets this).
            if os.environ.get("OPENINTERN_TEST_POSTGRES_REQUIRED") == "1":
                pytest.fail(f"{server}; OPENINTERN_TEST_POSTGRES_REQUIRED=1 needs it")
            pytest.skip(server)
        url = server.create_database()
    monkeypatch.setenv("OPENINTERN_STORE_URL", url)
    return url
