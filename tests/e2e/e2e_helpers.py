"""Helpers for driving the real `intern` command against the scripted model server."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from openintern.store import Store


@dataclass
class CliResult:
    """What a finished `intern` process left behind."""

    code: int
    output: str


def intern_env(base_url: str, **extra: str) -> dict[str, str]:
    """Environment for an `intern` subprocess using the scripted server at ``base_url``."""
    env = dict(os.environ)
    env.update(
        {
            "OPENINTERN_MODEL": "openai/scripted",
            "OPENINTERN_API_BASE": base_url,
            "OPENINTERN_API_KEY": "scripted-test-key",
            "OPENINTERN_RETRY_BASE_DELAY_S": "0.05",
            "OPENINTERN_AUTO_APPROVE": "true",
            "COLUMNS": "200",
            "NO_COLOR": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
    )
    env.update(extra)
    return env


def intern_argv(*args: str) -> list[str]:
    """The `intern` command line (through the installed entry point's module)."""
    return [sys.executable, "-m", "openintern.cli", *args]


def run_intern(*args: str, env: dict[str, str], cwd: Path, timeout: float = 240) -> CliResult:
    """Run `intern` to completion and capture its output."""
    done = subprocess.run(
        intern_argv(*args),
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliResult(done.returncode, done.stdout + done.stderr)


def store() -> Store:
    """The store the `intern` subprocesses of this test write to."""
    path = Path(os.environ["OPENINTERN_DATA_DIR"]) / "openintern.db"
    return Store(f"sqlite:///{path}")
