"""Which host paths a sandboxed command may touch: its working directory (inside the
workspace), the directories hidden from it (homes, openintern's config and data), and
the interpreter directories that must stay visible even when they live in a hidden one."""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import site
import stat
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
    anywhere, e.g. into a project directory we must not hide as a whole) and the ``.env``
    the settings read from the current directory (a config source of the host process,
    wherever it is, never visible to agent code)."""
    found: list[Path] = []
    for path in (config_file(), Path.cwd() / ".env"):
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):
            continue
        if resolved.is_file():
            found.append(resolved)
    return list(dict.fromkeys(found))


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


# --- what agent code and the file tools never see ----------------------------------------

#: OpenIntern's own folder in a workspace (venv, spill files, snapshots, job outputs).
INTERNAL_DIR = ".openintern"
#: Sub-folders of it the model may read with the file tools (job outputs, spilled output).
READABLE_INTERNALS = frozenset({"spill", "runs", "snapshots", "repro"})
# Folders never searched for .env files (big, and not where secrets live).
_SKIP_SCAN = frozenset({".git", INTERNAL_DIR, ".venv", "venv", "node_modules", "__pycache__",
                        ".mypy_cache", ".ruff_cache", ".pytest_cache"})


def is_env_file_name(name: str) -> bool:
    """``.env``, ``.env.local``, ``.envrc``, ...: where secrets for tools are kept."""
    return name.startswith(".env")


def env_files(workspace: Path) -> list[Path]:
    """The ``.env*`` entries in the workspace and its first level of folders (resolved;
    symbolic links only when they point inside the workspace)."""
    root = workspace.resolve()
    found: list[Path] = []

    def scan(directory: Path) -> list[Path]:
        subdirs: list[Path] = []
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return []
        for entry in entries:
            path = Path(entry.path)
            if is_env_file_name(entry.name):
                with contextlib.suppress(OSError, RuntimeError):
                    target = path.resolve()
                    if is_within(target, root) and target.exists():
                        found.append(target)
            elif entry.name not in _SKIP_SCAN:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        subdirs.append(path)
        return subdirs

    for subdir in scan(root):
        scan(subdir)
    return list(dict.fromkeys(found))


def internal_root(workspace: Path) -> Path:
    """``<workspace>/.openintern``, created as a real directory. Host code writes there
    (venv, spill files), so a symbolic link planted in its place (or as one of its
    entries) is refused: it could point host writes anywhere."""
    root = workspace.resolve() / INTERNAL_DIR
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        raise SandboxError(
            f"{root} is not a plain directory (a symbolic link or a file); OpenIntern keeps "
            "its own files there and will not follow it. Remove it and try again.")
    root.mkdir(exist_ok=True)
    for entry in os.scandir(root):
        if entry.is_symlink():
            raise SandboxError(
                f"{entry.path} is a symbolic link; OpenIntern writes to its own folder as "
                "the host user and will not follow links there. Remove it and try again.")
    return root


def hidden_reason(path: Path, workspace: Path, *, write: bool) -> str | None:
    """Why a file tool must not touch ``path`` (checked as given and as resolved), or
    None. Covers ``.env*`` files, OpenIntern's internals and its store/config if they
    lie inside the workspace: what the sandbox hides must not leak through a host tool."""
    root = workspace.resolve()
    candidates = [path]
    with contextlib.suppress(OSError, RuntimeError):
        candidates.append(path.resolve())
    private = [*openintern_private_dirs(), *openintern_private_files()]
    for candidate in candidates:
        if not candidate.is_absolute():
            candidate = root / candidate
        try:
            parts = candidate.relative_to(root).parts
        except ValueError:
            continue
        if any(is_env_file_name(part) for part in parts):
            return (".env files hold credentials; they are hidden from the agent (the user's "
                    "tools read them directly)")
        if parts and parts[0] == INTERNAL_DIR:
            if write:
                return "OpenIntern's own folder .openintern/ is read-only for the agent"
            if len(parts) < 2 or parts[1] not in READABLE_INTERNALS:
                return ("this part of .openintern/ is OpenIntern's internal state; only "
                        "spill/, runs/, snapshots/ and repro/ are readable")
        # A data directory that *contains* the workspace (e.g. per-owner workspaces
        # under it) hides only what lies inside the workspace, like the sandbox does.
        if any(is_within(candidate, p) and not is_within(root, p) for p in private):
            return "OpenIntern's store and configuration are hidden from the agent"
    return None


# --- for root callers: what the system keeps from other users ---------------------------

#: Folders of services' state and logs: hidden from agent code whole when we run as root.
ROOT_PRIVATE_DIRS = ("/var/lib", "/var/log", "/var/backups", "/var/spool", "/var/mail",
                     "/boot", "/lost+found")
_SCANNED_FOR_PRIVATE = ("/etc", "/opt", "/srv", "/usr/local/etc", "/var/cache")
_SCAN_LIMIT = 50_000


@functools.cache
def root_private_paths() -> list[Path]:
    """System files and folders that other users may not read (``/etc/shadow``, host SSH
    keys, ``/etc/ssl/private``, service data). Agent code of a root caller runs as root's
    uid (without capabilities), so file ownership alone would let it read them; the
    sandbox hides them instead. Scanned once per process."""
    found = [Path(d) for d in ROOT_PRIVATE_DIRS if Path(d).is_dir()]
    seen = 0
    for top in _SCANNED_FOR_PRIVATE:
        for dirpath, dirnames, filenames in os.walk(top):
            seen += len(dirnames) + len(filenames)
            if seen > _SCAN_LIMIT:
                break
            keep = []
            for name in dirnames:
                path = Path(dirpath) / name
                with contextlib.suppress(OSError):
                    mode = path.lstat().st_mode
                    if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
                        found.append(path)
                    elif stat.S_ISDIR(mode):
                        keep.append(name)
            dirnames[:] = keep
            for name in filenames:
                path = Path(dirpath) / name
                with contextlib.suppress(OSError):
                    mode = path.lstat().st_mode
                    if stat.S_ISREG(mode) and not mode & stat.S_IROTH:
                        found.append(path)
    return found
