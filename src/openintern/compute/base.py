"""The job-backend contract: detached jobs that outlive the agent process.

Every backend (local subprocess, Ray Jobs, Hugging Face Jobs) offers the same five verbs.
A job is identified by (backend name, job id); both are recorded in the ledger so a resumed
session re-attaches to jobs that kept running while the agent was stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled", "timeout", "unknown"]
TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "timeout"})


class JobBackendError(RuntimeError):
    """A backend could not do what was asked; the message says what to do about it."""


@dataclass
class JobSpec:
    """What to run. ``command`` runs with bash in ``workdir`` (inside the workspace).
    ``env`` must hold no secrets (backends scrub it again); ``secrets`` are names of
    secrets a remote backend passes through its own secret mechanism (HF Jobs)."""

    command: str
    workdir: Path
    name: str = ""
    env: dict[str, str] = field(default_factory=dict)
    timeout_s: float | None = None
    gpus: int = 0
    pip: list[str] = field(default_factory=list)
    flavor: str | None = None          # HF Jobs hardware flavor
    image: str | None = None           # HF Jobs / container image
    secrets: list[str] = field(default_factory=list)
    run_dir: Path | None = None        # where logs and metrics go (OPENINTERN_RUN_DIR)


@dataclass
class JobStatus:
    """A job's state as the backend sees it now."""

    job_id: str
    backend: str
    state: JobState
    exit_code: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    detail: str = ""

    @property
    def done(self) -> bool:
        """Whether the job reached a terminal state."""
        return self.state in TERMINAL_STATES


class JobBackend(Protocol):
    """Submit, inspect and stop detached jobs."""

    name: str

    async def submit(self, spec: JobSpec) -> str:
        """Start (or queue) a job; returns its id. Does not wait for it."""
        ...

    async def status(self, job_id: str) -> JobStatus:
        """The job's current state (re-attaches by id after a restart)."""
        ...

    async def logs(self, job_id: str, *, tail: int | None = 200) -> str:
        """The job's output so far (last ``tail`` lines; None for all)."""
        ...

    async def cancel(self, job_id: str) -> JobStatus:
        """Stop the job; returns its final state."""
        ...
