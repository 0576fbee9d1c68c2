"""The explicit opt-out (``--sandbox none``): commands run directly on the host.

There is no filesystem or network isolation; the environment is still the scrubbed
allowlist (secrets removed), ``HOME`` still points to a private directory, packages
still go into the workspace venv and the resource limits still apply.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from openintern.sandbox.base import CommandResult, SandboxError
from openintern.sandbox.environment import sandbox_environment
from openintern.sandbox.limits import ResourceLimits
from openintern.sandbox.network import NetworkLevel, normalise_level
from openintern.sandbox.paths import resolve_cwd
from openintern.sandbox.process import bash_path, run_limited
from openintern.sandbox.venv import ensure_venv, ensure_venv_blocking, venv_dir

logger = logging.getLogger(__name__)


class UnsandboxedRunner:
    """Runs commands on the host in the workspace, with the same scrubbed environment as
    the sandbox but no isolation. Logs a warning once at creation (see ``warning``)."""

    name = "none"

    def __init__(
        self,
        workspace: Path,
        *,
        network: bool | str = "full",
        limits: ResourceLimits | None = None,
        cgroup_root: str | None = None,
        secret_values: list[str] | None = None,
    ) -> None:
        """``network`` is recorded but cannot be enforced without a sandbox; ``limits``
        are (through cgroups or rlimits, see :mod:`openintern.sandbox.limits`)."""
        self.workspace = workspace.resolve()
        if not self.workspace.is_dir():
            raise SandboxError(f"The workspace {self.workspace} does not exist; create it first.")
        self.network: NetworkLevel = normalise_level(network)
        self.limits = limits or ResourceLimits()
        self.cgroup_root = cgroup_root
        self._secret_values = list(secret_values or [])
        self.home = self.workspace / ".openintern" / "home"
        self._warning = (
            "Sandbox disabled (--sandbox none): agent commands run directly on this machine "
            f"with your user's permissions and can read or change any file you can, not only "
            f"the workspace {self.workspace}. Secrets are still removed from their "
            "environment."
        )
        if self.network != "full":
            self._warning += (f" The network level {self.network!r} cannot be enforced "
                              "without a sandbox: commands use the host's network.")
        logger.warning(self._warning)

    @property
    def warning(self) -> str:
        """What the user should be told about running without isolation."""
        return self._warning

    def environment(self, env: dict[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
        """The environment a command would get and the caller variables refused as secret."""
        return sandbox_environment(
            env,
            home=str(self.home),
            venv=venv_dir(self.workspace),
            secret_values=self._secret_values,
        )

    async def prepare(self) -> None:
        """Create the workspace venv and private home if needed (non-blocking)."""
        self.home.mkdir(parents=True, exist_ok=True)
        await ensure_venv(self.workspace)

    async def run(
        self,
        command: str,
        *,
        timeout_s: float,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        max_output_chars: int = 16_000,
    ) -> CommandResult:
        """Run ``command`` with ``bash -c`` in the workspace; never raises for a failing
        command. Background processes it leaves behind are killed when it ends."""
        directory = resolve_cwd(self.workspace, cwd)
        await self.prepare()
        environment, dropped = self.environment(env)
        if dropped:
            logger.warning("Not passing secret-looking variables to the command: %s", dropped)
        return await run_limited([bash_path(), "-c", command], limits=self.limits,
                                 cgroup_root=self.cgroup_root, env=environment, cwd=directory,
                                 timeout_s=timeout_s, max_output_chars=max_output_chars)

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
        """Return (argv, environment) for a detached launcher: ``argv`` preceded by a
        ``cd`` into ``cwd`` (default the workspace), and the scrubbed environment
        (``writable`` and ``gpu`` change nothing: everything is reachable already).
        Creates the venv synchronously if needed."""
        directory = resolve_cwd(self.workspace, cwd)
        self.home.mkdir(parents=True, exist_ok=True)
        ensure_venv_blocking(self.workspace)
        environment, dropped = self.environment(env)
        if dropped:
            logger.warning("Not passing secret-looking variables to the command: %s", dropped)
        launcher = [bash_path(), "-c", 'cd "$0" && exec "$@"', str(directory), *argv]
        return launcher, environment
