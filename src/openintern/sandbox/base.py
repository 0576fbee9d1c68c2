"""The sandbox contract: where agent-written code runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from openintern.sandbox.limits import ResourceLimits
    from openintern.sandbox.network import NetworkLevel


class SandboxError(RuntimeError):
    """The sandbox cannot run (e.g. bubblewrap missing); the message says how to fix it."""


@dataclass
class CommandResult:
    """Outcome of one command. ``output`` is stdout and stderr interleaved, capped at
    ``max_output_chars`` (head and tail kept); ``truncated`` says whether bytes were cut.
    ``limits_reached`` names the resource limits the command hit (also noted in
    ``output``, so the model reads them)."""

    exit_code: int
    output: str
    duration_s: float
    timed_out: bool = False
    truncated: bool = False
    total_chars: int = 0
    limits_reached: list[str] = field(default_factory=list)

    def note_limits(self, reached: list[str]) -> None:
        """Record limits that were hit and say so at the end of the output."""
        if not reached:
            return
        self.limits_reached = list(reached)
        if self.output and not self.output.endswith("\n"):
            self.output += "\n"
        self.output += "\n".join(f"[{sentence}]" for sentence in reached)


class Sandbox(Protocol):
    """Runs commands with the workspace read-write and the rest of the system protected."""

    name: str
    workspace: Path
    #: ``off``, ``egress`` or ``full`` (see :mod:`openintern.sandbox.network`).
    network: NetworkLevel
    #: What each command and each job may use.
    limits: ResourceLimits

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
        self,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        cwd: Path | None = None,
        writable: Sequence[Path] = (),
        read_only: Sequence[Path] = (),
        gpu: bool = False,
    ) -> tuple[list[str], dict[str, str]]:
        """Return (argv, environment) that run ``argv`` inside this sandbox as a plain
        process; used by job backends that start detached processes themselves.
        ``writable`` are folders the job may write although agent code may not (its own
        output folder); ``read_only`` host paths it may read at the same path although
        they are hidden otherwise (its control folder's public part); ``gpu`` adds the
        GPU device nodes. The network namespace (for
        ``egress``) and the limits are applied by whoever starts it (the launcher)."""
        ...
