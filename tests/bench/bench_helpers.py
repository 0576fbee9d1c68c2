"""Running `intern bench` as a user would: the real command in a child process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from openintern.bench.results import RunRecord


@dataclass
class BenchResult:
    """What a finished `intern bench` process printed and stored."""

    code: int
    output: str


def bench_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of an `intern bench` child: the shared data directory, no user
    config, LiteLLM's bundled price table, a wide terminal."""
    env = dict(os.environ)
    env.update({"OPENINTERN_DATA_DIR": str(data_dir),
                "OPENINTERN_CONFIG": str(data_dir / "no-config.toml"),
                "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "220", "NO_COLOR": "1"})
    env.update(extra)
    return env


def run_bench(*args: str, data_dir: Path, timeout: float = 600, **extra: str) -> BenchResult:
    """Run `intern bench ARGS` to the end."""
    done = subprocess.run([sys.executable, "-m", "openintern.cli", "bench", *args],
                          env=bench_env(data_dir, **extra), capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=data_dir)
    return BenchResult(done.returncode, done.stdout + done.stderr)


def stored_run(result: BenchResult, data_dir: Path) -> RunRecord:
    """The run a finished `intern bench run` stored (its id is in the first line)."""
    found = re.search(r"bench run (\S+): ", result.output)
    assert found, result.output[-3000:]
    path = data_dir / "bench" / "runs" / found.group(1) / "run.json"
    return RunRecord.model_validate_json(path.read_text(encoding="utf-8"))
