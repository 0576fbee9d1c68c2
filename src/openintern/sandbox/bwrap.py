"""The default sandbox: bubblewrap (``bwrap``).

What a command sees: the whole system read-only; a fresh ``/dev``, ``/proc`` and a private
``/tmp`` (also ``/var/tmp`` and ``/dev/shm``); home directories and openintern's config and
data directories replaced by empty tmpfs (the Python installation re-exposed read-only if
it lives there); the workspace read-write at its own path; an allowlisted environment
(secrets removed) with the workspace's venv first on ``PATH``; its own PID, IPC and UTS
namespaces; and, when network is off, its own network namespace (only a private loopback).
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from pathlib import Path

from openintern.sandbox.base import CommandResult, SandboxError
from openintern.sandbox.environment import SANDBOX_HOME, sandbox_environment
from openintern.sandbox.paths import (
    home_dirs,
    interpreter_dirs,
    is_within,
    openintern_private_dirs,
    openintern_private_files,
    resolve_cwd,
)
from openintern.sandbox.process import bash_path, run_process
from openintern.sandbox.venv import ensure_venv, ensure_venv_blocking, venv_dir

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "Install it (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install "
    "bubblewrap), or use --sandbox none to opt out (no isolation)."
)
_PROBE_TIMEOUT_S = 10.0


@functools.cache
def _probe(bwrap: str) -> str | None:
    """Run a trivial sandbox once per bwrap binary; return why it failed, or None.

    Cached, so the cost (a few milliseconds) is paid once per process.
    """
    argv = [bwrap, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--", "true"]
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return done.stdout.decode(errors="replace").strip() or f"exit code {done.returncode}"
    return None


def find_bwrap(bwrap_path: str | None = None) -> str:
    """Locate a working bubblewrap, or raise ``SandboxError`` saying how to fix it."""
    found = shutil.which(bwrap_path or "bwrap")
    if found is None:
        raise SandboxError(f"bubblewrap (bwrap) is not installed. {INSTALL_HINT}")
    failure = _probe(found)
    if failure is not None:
        raise SandboxError(
            f"bubblewrap ({found}) cannot create a sandbox here: {failure}\n"
            "Unprivileged user namespaces are probably disabled. Enable them "
            "(sudo sysctl -w kernel.unprivileged_userns_clone=1, and on Ubuntu 24.04+ "
            "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0), run inside a "
            "container started with user namespaces allowed, or use --sandbox none to opt "
            "out (no isolation)."
        )
    return found


class BwrapSandbox:
    """Runs commands under bubblewrap with the workspace read-write (see module doc)."""

    name = "bwrap"

    def __init__(
        self,
        workspace: Path,
        *,
        network: bool,
        extra_ro_binds: list[Path] | None = None,
        secret_values: list[str] | None = None,
        bwrap_path: str | None = None,
    ) -> None:
        """Check bubblewrap works (raises ``SandboxError`` with a fix if not).

        ``extra_ro_binds`` are host paths made visible read-only even inside hidden
        directories; ``secret_values`` are values never passed into the sandbox under
        any name (e.g. ``Settings.secret_values()``).
        """
        self.workspace = workspace.resolve()
        if not self.workspace.is_dir():
            raise SandboxError(f"The workspace {self.workspace} does not exist; create it first.")
        for home in home_dirs():
            if is_within(home, self.workspace):
                raise SandboxError(
                    f"The workspace {self.workspace} contains the home directory {home}, "
                    "which the sandbox must hide; use a project directory as the workspace."
                )
        self.network = network
        self.extra_ro_binds = [Path(p).resolve() for p in (extra_ro_binds or [])]
        self._secret_values = list(secret_values or [])
        self.bwrap = find_bwrap(bwrap_path)

    # --- environment -------------------------------------------------------------------
    def environment(self, env: dict[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
        """The environment a command would get and the caller variables refused as secret."""
        return sandbox_environment(
            env, home=SANDBOX_HOME, venv=venv_dir(self.workspace), secret_values=self._secret_values
        )

    async def prepare(self) -> None:
        """Create the workspace venv if needed, without blocking the event loop."""
        await ensure_venv(self.workspace)

    # --- layout ------------------------------------------------------------------------
    def _layout(self, *, cwd: Path, attached: bool) -> list[str]:
        workspace = self.workspace
        private = ["/tmp", "/dev/shm"] + (["/var/tmp"] if Path("/var/tmp").is_dir() else [])
        args = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for scratch in private:
            args += ["--tmpfs", scratch]
        args += ["--dir", SANDBOX_HOME]
        homes = home_dirs()  # never inside the workspace: __init__ refuses that
        secret_dirs = openintern_private_dirs()
        # Order matters (later mounts cover earlier ones): hide what contains the
        # workspace, bind the workspace (so one under $HOME works), re-expose what must
        # stay readable, and hide openintern's own directories last (so a store *inside*
        # the workspace or an exposed path stays hidden).
        for hidden in [*homes, *(d for d in secret_dirs if is_within(workspace, d))]:
            args += ["--tmpfs", str(hidden)]
        args += ["--bind", str(workspace), str(workspace)]
        masked = [*map(Path, private), *homes]
        for python_dir in interpreter_dirs():
            if any(is_within(python_dir, m) for m in masked) and not is_within(
                python_dir, workspace
            ):
                args += ["--ro-bind", str(python_dir), str(python_dir)]
        for path in self.extra_ro_binds:
            args += ["--ro-bind-try", str(path), str(path)]
        for secret_dir in secret_dirs:
            if not is_within(workspace, secret_dir):
                args += ["--tmpfs", str(secret_dir)]
        for secret_file in openintern_private_files():
            args += ["--ro-bind", "/dev/null", str(secret_file)]
        args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if not self.network:
            args.append("--unshare-net")
        if attached:
            # A new session keeps the command from pushing keystrokes into our terminal
            # (TIOCSTI); dying with us means a killed or crashed agent leaves nothing.
            args += ["--new-session", "--die-with-parent"]
        # Detached (``wrap``): the launcher starts us with start_new_session=True, so there
        # is no terminal to attack, and everything must stay in the launcher's process
        # group, which is how the job is killed (--new-session would move it out).
        args += ["--chdir", str(cwd)]
        return args

    @staticmethod
    def _env_args(env: dict[str, str]) -> list[str]:
        # Set the environment on bwrap's command line as well as its own environment, so
        # a launcher that forgets to pass ``env`` cannot leak the host's into the sandbox.
        args = ["--clearenv"]
        for name, value in env.items():
            args += ["--setenv", name, value]
        return args

    # --- Sandbox protocol --------------------------------------------------------------
    async def run(
        self,
        command: str,
        *,
        timeout_s: float,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        max_output_chars: int = 16_000,
    ) -> CommandResult:
        """Run ``command`` with ``bash -c`` in the sandbox; never raises for a failing
        command (``SandboxError`` only for a ``cwd`` outside the workspace or a venv that
        cannot be created)."""
        directory = resolve_cwd(self.workspace, cwd)
        await self.prepare()
        environment, dropped = self.environment(env)
        if dropped:
            logger.warning("Not passing secret-looking variables into the sandbox: %s", dropped)
        argv = [
            *self._layout(cwd=directory, attached=True),
            *self._env_args(environment),
            "--",
            bash_path(),
            "-c",
            command,
        ]
        return await run_process(
            argv,
            env=environment,
            cwd=directory,
            timeout_s=timeout_s,
            max_output_chars=max_output_chars,
        )

    def wrap(
        self, argv: list[str], env: dict[str, str] | None = None, *, cwd: Path | None = None
    ) -> tuple[list[str], dict[str, str]]:
        """Return (argv, environment) running ``argv`` in this sandbox as a plain process,
        for job launchers, which must start it with ``start_new_session=True``.
        Killing that process group ends everything inside (PID namespace). Creates the
        venv synchronously if it does not exist yet (call ``await prepare()`` first from
        async code)."""
        directory = resolve_cwd(self.workspace, cwd)
        ensure_venv_blocking(self.workspace)
        environment, dropped = self.environment(env)
        if dropped:
            logger.warning("Not passing secret-looking variables into the sandbox: %s", dropped)
        wrapped = [
            *self._layout(cwd=directory, attached=False),
            *self._env_args(environment),
            "--",
            *argv,
        ]
        return wrapped, environment
