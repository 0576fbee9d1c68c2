"""The per-workspace virtual environment that sandboxed commands and jobs run in.

It lives at ``<workspace>/.openintern/venv`` and is created lazily, once, with
``--system-site-packages`` so every package of the host Python is importable (read-only:
the sandbox mounts the system read-only) while ``pip install`` writes into the venv.

The venv is made ``--without-pip`` (seconds faster); ``python -m pip`` then runs the host's
pip module under the venv's interpreter, which installs into the venv's prefix. Plain
``pip``/``pip3`` would otherwise resolve to the host's script (whose shebang names the host
interpreter and so the host's site-packages), so small shims in the venv's ``bin`` route
them through the venv's interpreter.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import shutil
import site
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from openintern.sandbox.base import SandboxError

_READY_MARKER = ".openintern-ready"
_PTH_NAME = "_openintern_host_site.pth"
_CREATE_TIMEOUT_S = 300.0
_LOCK_POLL_S = 0.05


def venv_dir(workspace: Path) -> Path:
    """Where the workspace's virtual environment lives (it may not exist yet)."""
    return workspace.resolve() / ".openintern" / "venv"


def venv_bin(workspace: Path) -> Path:
    """The ``bin`` directory of the workspace's virtual environment."""
    return venv_dir(workspace) / "bin"


def _fingerprint() -> str:
    # Recreate the venv when the host interpreter changes (its pyvenv.cfg would be stale).
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    return json.dumps({"python": minor, "base_prefix": sys.base_prefix, "pth": 2,
                       "host_site": _host_site_dirs()})


def is_ready(workspace: Path) -> bool:
    """True when the venv exists, is complete, and was made by this host interpreter."""
    marker = venv_dir(workspace) / _READY_MARKER
    try:
        return marker.read_text() == _fingerprint()
    except OSError:
        return False


def _create_command(path: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "venv",
        "--clear",
        "--system-site-packages",
        "--without-pip",
        str(path),
    ]


def _host_site_dirs() -> list[str]:
    # When openintern itself runs in a venv, --system-site-packages only reaches the *base*
    # interpreter's packages; a .pth file adds ours (torch, sklearn, ...) after the venv's.
    # The user site (pip install --user) is added too: the venv's HOME is not the user's.
    candidates = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        candidates.append(site.getusersitepackages())
    dirs = [d for d in candidates if Path(d).is_dir()]
    return list(dict.fromkeys(dirs))


def _site_packages(path: Path) -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return path / "lib" / version / "site-packages"


def _finish(path: Path) -> None:
    """Write the pip shims, the host-site .pth and the ready marker (after venv creation)."""
    bin_dir = path / "bin"
    python = bin_dir / "python"
    if not python.exists():
        raise SandboxError(f"Creating the virtual environment at {path} left no {python}.")
    shim = f'#!/bin/sh\nexec "{python}" -m pip "$@"\n'
    minor = f"pip{sys.version_info.major}.{sys.version_info.minor}"
    for name in ("pip", "pip3", minor):
        script = bin_dir / name
        script.write_text(shim)
        script.chmod(0o755)
    site_packages = _site_packages(path)
    site_packages.mkdir(parents=True, exist_ok=True)
    # site.addsitedir (not a bare path per line) so the .pth files *inside* those
    # directories run too: an editable install of openintern is found through one.
    calls = "; ".join(f"site.addsitedir({d!r})" for d in _host_site_dirs())
    (site_packages / _PTH_NAME).write_text(f"import site; {calls}\n" if calls else "")
    (path / _READY_MARKER).write_text(_fingerprint())


def _failure(path: Path, output: str) -> SandboxError:
    return SandboxError(
        f"Could not create the workspace virtual environment at {path}: {output.strip()}\n"
        "Check that the workspace is writable and that the Python 'venv' module is "
        "installed (Debian: sudo apt-get install python3-venv)."
    )


@contextmanager
def _file_lock_blocking(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@asynccontextmanager
async def _file_lock(lock_path: Path) -> AsyncIterator[None]:
    # Poll a non-blocking flock so the event loop never waits on the kernel.
    with lock_path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(_LOCK_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lock_path(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.parent / "venv.lock"


async def ensure_venv(workspace: Path) -> Path:
    """Create the workspace's venv if needed (idempotent, safe under concurrency) and
    return its directory. Raises ``SandboxError`` if it cannot be created."""
    path = venv_dir(workspace)
    if is_ready(workspace):
        return path
    # flock locks belong to an open file description, so this one lock serialises
    # coroutines of this process (each opens the file anew) as well as other processes.
    async with _file_lock(_lock_path(path)):
        if is_ready(workspace):  # another coroutine or process made it meanwhile
            return path
        process = await asyncio.create_subprocess_exec(
            *_create_command(path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), _CREATE_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise _failure(path, f"timed out after {_CREATE_TIMEOUT_S:.0f}s") from None
        if process.returncode != 0:
            raise _failure(path, out.decode(errors="replace"))
        _finish(path)
    return path


def ensure_venv_blocking(workspace: Path) -> Path:
    """Synchronous ``ensure_venv`` for synchronous callers (e.g. ``Sandbox.wrap``); from
    async code call ``await ensure_venv(...)`` instead, which does not block the loop."""
    path = venv_dir(workspace)
    if is_ready(workspace):
        return path
    with _file_lock_blocking(_lock_path(path)):
        if is_ready(workspace):
            return path
        try:
            done = subprocess.run(
                _create_command(path),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=_CREATE_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise _failure(path, f"timed out after {_CREATE_TIMEOUT_S:.0f}s") from None
        if done.returncode != 0:
            raise _failure(path, done.stdout.decode(errors="replace"))
        _finish(path)
    return path


def remove_venv(workspace: Path) -> None:
    """Delete the workspace's venv (it is recreated on next use)."""
    shutil.rmtree(venv_dir(workspace), ignore_errors=True)


__all__ = [
    "ensure_venv",
    "ensure_venv_blocking",
    "is_ready",
    "remove_venv",
    "venv_bin",
    "venv_dir",
]
