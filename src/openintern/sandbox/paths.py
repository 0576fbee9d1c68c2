"""Which host paths a sandboxed command may touch: its working directory (inside the
workspace), the directories hidden from it (homes, openintern's config and data), and
the interpreter directories that must stay visible even when they live in a hidden one."""

from __future__ import annotations

import contextlib
import os
import pwd
import site
import sys
from pathlib import Path

from openintern.config import config_dir, config_file, data_dir
from openintern.sandbox.base import SandboxError


def resolve_cwd(workspace: Path, cwd: Path | None) -> Path:
    """The directory a command starts in: ``cwd`` (relative ones are taken from the
    workspace), which must exist inside the workspace; the workspace by default."""
    root = workspace.resolve()
    if cwd is None:
        return root
    target = (root / cwd).resolve()
    if not target.is_relative_to(root):
        raise SandboxError(
            f"The working directory {cwd} is outside the workspace {root}; "
            "pass a directory inside the workspace (or a path relative to it)."
        )
    if not target.is_dir():
        raise SandboxError(f"The working directory {target} does not exist; create it first.")
    return target


def _existing_dir(path: Path | str | None) -> Path | None:
    if not path:
        return None
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError):
        return None
    if resolved == Path("/") or not resolved.is_dir():
        return None
    return resolved


def home_dirs() -> list[Path]:
    """Home directories to hide: ``$HOME``, the account's home, ``/home`` and ``/root``."""
    candidates: list[Path | str | None] = [os.environ.get("HOME"), "/home", "/root"]
    with contextlib.suppress(KeyError):
        candidates.append(pwd.getpwuid(os.getuid()).pw_dir)
    return _unique(candidates)


def openintern_private_dirs() -> list[Path]:
    """openintern's data directory (the store) and config directory (API keys may be in
    config.toml), wherever they are."""
    return _unique([data_dir(), config_dir()])


def openintern_private_files() -> list[Path]:
    """Single files to hide: the config file in effect (``$OPENINTERN_CONFIG`` may point
    anywhere, e.g. into a project directory we must not hide as a whole)."""
    path = config_file()
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        return []
    return [resolved] if resolved.is_file() else []


def interpreter_dirs() -> list[Path]:
    """The running Python's installation(s) and user site-packages. A pyenv or user
    interpreter lives in the home directory; the sandbox hides that but must keep Python
    itself visible."""
    dirs: list[Path | str | None] = [
        sys.prefix,
        sys.exec_prefix,
        sys.base_prefix,
        sys.base_exec_prefix,
    ]
    if site.ENABLE_USER_SITE:  # packages from `pip install --user` (code only)
        dirs.append(site.getusersitepackages())
    # Our own package, for `from openintern import track` in jobs: an editable install
    # (a checkout under /tmp or $HOME) is outside the interpreter's directories.
    dirs.append(Path(__file__).resolve().parents[1])
    return _unique(dirs)


def _unique(paths: list[Path | str | None]) -> list[Path]:
    found = [d for p in paths if (d := _existing_dir(p)) is not None]
    return list(dict.fromkeys(found))


def is_within(path: Path, parent: Path) -> bool:
    """True when ``path`` is ``parent`` or lies inside it."""
    return path == parent or path.is_relative_to(parent)
