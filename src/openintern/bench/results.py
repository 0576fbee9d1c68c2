"""A bench run on disk: its conditions, the tasks as built, and one result per attempt.

Layout: ``<data>/bench/runs/<run id>/run.json`` and, per attempt,
``attempts/<task>-s<seed>/`` with the agent's ``workspace/``, its ``store.db``, its
``agent.log`` and ``result.json``. ``run.json`` is rewritten as attempts finish, so an
interrupted run still reports what it got.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import time
from pathlib import Path

from pydantic import BaseModel, Field

from openintern.bench.conditions import RunConditions
from openintern.bench.grader import Grade
from openintern.bench.integrity import Integrity
from openintern.bench.task import TaskMeta, bench_home


class RunNotFoundError(LookupError):
    """No stored bench run matches the id given."""


class AttemptResult(BaseModel):
    """One agent attempt at one task with one seed."""

    task_id: str
    seed: int
    status: str = Field(description="finished, max_iterations, budget, error, timeout, "
                        "refused (answers visible) or crashed")
    exit_code: int | None = None
    wall_s: float = 0.0
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    iterations: int = 0
    session_id: str = ""
    grade: Grade = Field(default_factory=Grade)
    integrity: Integrity = Field(default_factory=Integrity)
    error: str = ""
    attempt_dir: str = ""


class RunRecord(BaseModel):
    """A whole bench run."""

    id: str
    conditions: RunConditions
    tasks: list[TaskMeta]
    attempts: list[AttemptResult] = Field(default_factory=list)
    finished_at: float | None = None

    def task(self, task_id: str) -> TaskMeta:
        """The built task's meta by id."""
        return next(t for t in self.tasks if t.id == task_id)


def runs_dir(home: Path | None = None) -> Path:
    """Where runs are stored."""
    return (home or bench_home()) / "runs"


def new_run_id() -> str:
    """A sortable, unique run id (local time plus a random suffix)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def save(record: RunRecord, home: Path | None = None) -> Path:
    """Write ``run.json`` atomically; returns its path."""
    folder = runs_dir(home) / record.id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(record.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def load(run_id: str, home: Path | None = None) -> RunRecord:
    """A stored run by id, unique id prefix, or ``last``."""
    root = runs_dir(home)
    ids = sorted(p.name for p in root.glob("*") if (p / "run.json").is_file()) \
        if root.is_dir() else []
    if not ids:
        raise RunNotFoundError("no bench runs yet; start one with `intern bench run`")
    if run_id in ("last", "latest"):
        chosen = ids[-1]
    else:
        matches = [i for i in ids if i.startswith(run_id)]
        if not matches:
            raise RunNotFoundError(f"no bench run {run_id!r}; `intern bench runs` lists them")
        if len(matches) > 1:
            raise RunNotFoundError(f"{run_id!r} matches several runs; give more characters")
        chosen = matches[0]
    data = json.loads((root / chosen / "run.json").read_text(encoding="utf-8"))
    return RunRecord.model_validate(data)


def list_runs(home: Path | None = None) -> list[RunRecord]:
    """Every stored run, oldest first (unreadable ones skipped)."""
    root = runs_dir(home)
    out = []
    for folder in sorted(root.glob("*")) if root.is_dir() else []:
        try:
            out.append(RunRecord.model_validate_json((folder / "run.json").read_text("utf-8")))
        except (OSError, ValueError):
            continue
    return out


def elapsed(since: float) -> float:
    """Seconds since ``since`` (monotonic), rounded."""
    return round(time.monotonic() - since, 2)
