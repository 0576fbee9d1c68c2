"""The sandbox contract: where agent-written code runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class SandboxError(RuntimeError):
    """The sandbox cannot run (e.g. bubblewrap missing); the message says how to fix it."""


@dataclass
class CommandResult:
    """Outcome of one command. ``output`` is stdout and stderr interleaved, capped at
    ``max_output_chars`` (head and tail kept); ``truncated`` says whether bytes were cut."""

    exit_code: int
    output: str
    duration_s: float
    timed_out: bool = False
    truncated: bool = False
    total_chars: int = 0


class Sandbox(Protocol):
    """Runs commands with the workspace read-write and the rest of the system protected."""

    name: str
    workspace: Path
    network: bool

    async def run(
        self,
        command: str,
        *,
        timeout_s: float,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        max_output_chars: int = 16_000,
    ) -> CommandResult:
        """Run ``command`` with bash in the sandbox; never raises for a failing command."""
        ...

    def wrap(
        self, argv: list[str], env: dict[str, str] | None = None
    ) -> tuple[list[str], dict[str, str]]:
        """Return (argv, environment) that run ``argv`` inside this sandbox as a plain
        process; used by job backends that start detached processes themselves."""
        ...
