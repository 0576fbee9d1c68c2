"""The default sandbox: bubblewrap (``bwrap``).

What a command sees: the whole system read-only; a fresh ``/dev`` (GPU jobs also get the
NVIDIA device nodes), ``/proc`` and a private ``/tmp`` (also ``/var/tmp``, ``/dev/shm`` and
``/run``, where the host's service sockets live); home directories and openintern's
config and data directories replaced by empty tmpfs (the Python installation re-exposed
read-only if it lives there); the workspace read-write at its own path, except its
``.env*`` files (hidden) and ``.openintern/`` (read-only; its venv writable); an
allowlisted environment (secrets removed) with the workspace's venv first on ``PATH``.

Agent code runs as uid/gid 65534 ("nobody") in its own user namespace with every
capability dropped and no way to make further user namespaces, whoever starts OpenIntern
(root included), in its own PID, IPC, UTS, cgroup and network namespaces (network per
level: :mod:`openintern.sandbox.network`), in a session of its own, with per-command
limits (:mod:`openintern.sandbox.limits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from openintern.config import data_dir
from openintern.sandbox.base import CommandResult, SandboxError
from openintern.sandbox.bwrap_probe import (
    INSTALL_HINT,
    SANDBOX_UID,
    BwrapUnavailable,
    find_bwrap,
)
from openintern.sandbox.devices import gpu_device_nodes
from openintern.sandbox.environment import SANDBOX_HOME, sandbox_environment
from openintern.sandbox.limits import ResourceLimits
from openintern.sandbox.network import (
    NetworkLevel,
    NetworkNamespace,
    NetworkUnavailable,
    egress_hint,
    missing_tools,
    normalise_level,
    resolv_conf_text,
)
from openintern.sandbox.paths import (
    env_files,
    home_dirs,
    internal_root,
    interpreter_dirs,
    is_within,
    openintern_private_dirs,
    openintern_private_files,
    resolve_cwd,
    root_private_paths,
)
from openintern.sandbox.process import bash_path, run_limited
from openintern.sandbox.venv import ensure_venv, ensure_venv_blocking, venv_dir

logger = logging.getLogger(__name__)

__all__ = ["INSTALL_HINT", "BwrapSandbox", "BwrapUnavailable", "find_bwrap"]


def _resolv_conf_file() -> Path:
    """A host file holding the egress namespace's resolver configuration (bound over
    ``/etc/resolv.conf``; it lives in the data directory, which the sandbox cannot see)."""
    path = data_dir() / "sandbox" / "resolv.conf"
    text = resolv_conf_text()
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".resolv.conf.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def _mount_target(path: Path) -> Path:
    """Where a bind onto ``path`` lands: its resolved target when it is a link (e.g.
    ``/etc/resolv.conf`` -> ``/run/systemd/resolve/stub-resolv.conf``)."""
    with contextlib.suppress(OSError, RuntimeError):
        return path.resolve()
    return path


class BwrapSandbox:
    """Runs commands under bubblewrap with the workspace read-write (see module doc)."""

    name = "bwrap"

    def __init__(
        self,
        workspace: Path,
        *,
        network: bool | str = "egress",
        limits: ResourceLimits | None = None,
        cgroup_root: str | None = None,
        egress_allow: Sequence[str] = (),
        extra_ro_binds: list[Path] | None = None,
        secret_values: list[str] | None = None,
        bwrap_path: str | None = None,
        gpu_devices: Sequence[Path] | None = None,
    ) -> None:
        """Check bubblewrap works (raises ``SandboxError`` with a fix if not).

        ``network``: ``off``, ``egress`` or ``full`` (True/False mean egress/off).
        ``limits`` apply to every command (and are recorded for jobs); ``cgroup_root`` is
        a delegated cgroup v2 folder to use. ``extra_ro_binds`` are host paths made
        visible read-only even inside hidden directories; ``secret_values`` are values
        never passed into the sandbox under any name (e.g. ``Settings.secret_values()``);
        ``gpu_devices`` overrides the detected GPU device nodes (tests).
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
        self.network: NetworkLevel = normalise_level(network)
        if self.network == "egress" and missing_tools():
            raise SandboxError(
                f"The sandbox's default network level (egress: internet only, not the "
                f"host's services) needs {', '.join(missing_tools())}. {egress_hint()}")
        self.limits = limits or ResourceLimits()
        self.cgroup_root = cgroup_root
        self.egress_allow = list(egress_allow)
        self.extra_ro_binds = [Path(p).resolve() for p in (extra_ro_binds or [])]
        self._secret_values = list(secret_values or [])
        self._gpu_devices = None if gpu_devices is None else [Path(p) for p in gpu_devices]
        self.features = find_bwrap(bwrap_path)
        self.bwrap = self.features.path
        self._namespace: NetworkNamespace | None = None
        self._namespace_lock = threading.Lock()
        # Commands share one namespace (cheaper than a new one each time) where the tools
        # for it exist; for ``off`` each command can also simply unshare its own.
        self._shared_net = self.network == "egress" or (
            self.network == "off" and not missing_tools(nat=False))

    # --- environment -------------------------------------------------------------------
    def environment(self, env: dict[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
        """The environment a command would get and the caller variables refused as secret."""
        return sandbox_environment(
            env, home=SANDBOX_HOME, venv=venv_dir(self.workspace), secret_values=self._secret_values
        )

    async def prepare(self) -> None:
        """Create the workspace venv if needed, without blocking the event loop."""
        await asyncio.to_thread(internal_root, self.workspace)
        await ensure_venv(self.workspace)

    # --- network -----------------------------------------------------------------------
    def namespace(self) -> NetworkNamespace:
        """The network namespace this sandbox's commands share (``off``: a loopback only;
        ``egress``: NAT to the internet only), started on first use and restarted if it
        died. Blocking: tens of milliseconds the first time."""
        with self._namespace_lock:
            current = self._namespace
            if current is None or not current.alive:
                if current is not None:
                    current.close()
                try:
                    current = NetworkNamespace(egress=self.network == "egress",
                                               allow=self.egress_allow)
                except NetworkUnavailable as exc:
                    raise SandboxError(str(exc)) from None
                self._namespace = current
            return current

    def close(self) -> None:
        """Stop the shared network namespace (it also ends when this process exits)."""
        with self._namespace_lock:
            if self._namespace is not None:
                self._namespace.close()
                self._namespace = None

    def gpu_devices(self) -> list[Path]:
        """The GPU device nodes a GPU job gets."""
        return gpu_device_nodes() if self._gpu_devices is None else list(self._gpu_devices)

    # --- layout ------------------------------------------------------------------------
    @functools.cached_property
    def _system_layout(self) -> tuple[list[str], list[str]]:
        """The parts of the layout that depend only on this machine and the settings
        (computed once: resolving these paths costs tens of milliseconds), as the mounts
        before the workspace's own protection and those after it."""
        workspace = self.workspace
        private = ["/tmp", "/dev/shm"] + (["/var/tmp"] if Path("/var/tmp").is_dir() else [])
        head = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for scratch in private:
            head += ["--tmpfs", scratch]
        # /run holds the host's service sockets (Docker, D-Bus, PostgreSQL): agent code
        # runs under the caller's uid on the host side, so never let it connect to them.
        resolv = _mount_target(Path("/etc/resolv.conf"))
        if Path("/run").is_dir():
            head += ["--tmpfs", "/run"]
            if self.network == "full" and is_within(resolv, Path("/run")) and resolv.exists():
                head += ["--ro-bind", str(resolv), str(resolv)]
        if self.network == "egress":
            head += ["--ro-bind", str(_resolv_conf_file()), str(resolv)]
        root_private = root_private_paths() if os.geteuid() == 0 else []
        # Agent code of a root caller keeps root's uid outside (without capabilities):
        # hide what only root may read, since ownership would not.
        for path in root_private:
            head += (["--tmpfs", str(path)] if path.is_dir()
                     else ["--ro-bind", "/dev/null", str(path)])
        head += ["--dir", SANDBOX_HOME]
        homes = home_dirs()  # never inside the workspace: __init__ refuses that
        secret_dirs = openintern_private_dirs()
        # Order matters (later mounts cover earlier ones): hide what contains the
        # workspace, bind the workspace (so one under $HOME works), re-expose what must
        # stay readable, protect and hide inside the workspace, and hide openintern's own
        # directories last (so a store *inside* the workspace stays hidden).
        for hidden in [*homes, *(d for d in secret_dirs if is_within(workspace, d))]:
            head += ["--tmpfs", str(hidden)]
        head += ["--bind", str(workspace), str(workspace)]
        masked = [*map(Path, private), *homes, *root_private]
        for python_dir in interpreter_dirs():
            if any(is_within(python_dir, m) for m in masked) and not is_within(
                python_dir, workspace
            ):
                head += ["--ro-bind", str(python_dir), str(python_dir)]
        for path in self.extra_ro_binds:
            head += ["--ro-bind-try", str(path), str(path)]
        tail: list[str] = []
        for secret_dir in secret_dirs:
            if not is_within(workspace, secret_dir):
                tail += ["--tmpfs", str(secret_dir)]
        for secret_file in openintern_private_files():
            tail += ["--ro-bind", "/dev/null", str(secret_file)]
        return head, tail

    def _layout(self, *, cwd: Path, attached: bool, writable: Sequence[Path] = (),
                read_only: Sequence[Path] = (), gpu: bool = False) -> list[str]:
        head, tail = self._system_layout
        args = [*head, *self._workspace_protection(writable), *tail]
        for path in read_only:  # after the masks above: these are shown on purpose
            args += ["--ro-bind", str(path), str(path)]
        if gpu:
            for device in self.gpu_devices():
                args += ["--dev-bind", str(device), str(device)]
        args += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
                 "--cap-drop", "ALL"]
        if self.features.disable_userns:
            args.append("--disable-userns")
        args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if self.network == "off" and not (attached and self._shared_net):
            # A job gets a namespace of its own; commands join the shared one (run()).
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

    def _workspace_protection(self, writable: Sequence[Path]) -> list[str]:
        """``.openintern/`` read-only (its venv and the job's own folders writable), and
        the ``.env*`` files hidden."""
        args: list[str] = []
        internal = internal_root(self.workspace)
        args += ["--ro-bind", str(internal), str(internal)]
        venv = venv_dir(self.workspace)
        if venv.is_dir():
            args += ["--bind", str(venv), str(venv)]
        home = internal / "home"  # the unsandboxed runner's HOME: may hold credentials
        if home.is_dir():
            args += ["--tmpfs", str(home)]
        for path in writable:
            resolved = Path(path).resolve()
            if not is_within(resolved, self.workspace):
                raise SandboxError(f"{resolved} is outside the workspace {self.workspace}")
            args += ["--bind", str(resolved), str(resolved)]
        for path in env_files(self.workspace):
            if path.is_dir():
                args += ["--tmpfs", str(path)]
            else:
                args += ["--ro-bind", "/dev/null", str(path)]
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
        command (``SandboxError`` only for a ``cwd`` outside the workspace, a venv that
        cannot be created or an egress network that cannot start). A limit the command
        hits is named at the end of its output and in ``limits_reached``."""
        directory = resolve_cwd(self.workspace, cwd)
        await self.prepare()
        environment, dropped = self.environment(env)
        if dropped:
            logger.warning("Not passing secret-looking variables into the sandbox: %s", dropped)
        if "_system_layout" not in self.__dict__:  # resolved once, off the event loop
            await asyncio.to_thread(lambda: self._system_layout)
        argv = [*self._layout(cwd=directory, attached=True), *self._env_args(environment),
                "--", bash_path(), "-c", command]
        if self._shared_net:
            shared = self._namespace
            if shared is None or not shared.alive:
                shared = await asyncio.to_thread(self.namespace)
            argv = [*shared.enter_argv(), *argv]
        return await run_limited(argv, limits=self.limits, cgroup_root=self.cgroup_root,
                                 env=environment, cwd=directory, timeout_s=timeout_s,
                                 max_output_chars=max_output_chars)

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
        """Return (argv, environment) running ``argv`` in this sandbox as a plain process,
        for job launchers, which must start it with ``start_new_session=True`` (and apply
        ``limits``). With ``egress`` the argv starts with a helper that makes the job's
        own namespace, so the policy travels with the argv. Killing its process group
        ends everything inside (PID namespace). Creates the venv synchronously if it does
        not exist yet (call ``await prepare()`` first from async code)."""
        directory = resolve_cwd(self.workspace, cwd)
        internal_root(self.workspace)
        ensure_venv_blocking(self.workspace)
        environment, dropped = self.environment(env)
        if dropped:
            logger.warning("Not passing secret-looking variables into the sandbox: %s", dropped)
        wrapped = [
            *self._layout(cwd=directory, attached=False, writable=writable,
                          read_only=read_only, gpu=gpu),
            *self._env_args(environment),
            "--",
            *argv,
        ]
        if self.network == "egress":
            # The job makes its own namespace as it starts and never runs without it.
            # -P: the job's working directory (the workspace) is not put on sys.path.
            allow = [a for cidr in self.egress_allow for a in ("--allow", cidr)]
            wrapped = [sys.executable, "-P", "-m", "openintern.sandbox.egress", *allow, "--",
                       *wrapped]
        return wrapped, environment
