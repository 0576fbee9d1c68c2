"""Suite-wide isolation: no test touches the user's data, config or the internet."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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
