"""The files of a run the web shows: its artifacts (what the job left in its run
directory, plus paths the ledger recorded), its code snapshot, and the diff between two
runs' code. Every path comes from the ledger or agent-written code, so each one is
resolved and checked to lie inside the run's own directories before it is read; blocking
file I/O, called from worker threads."""

from __future__ import annotations

import contextlib
import difflib
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

from openintern.compute.runfiles import job_output_dir, runs_root
from openintern.config import Settings
from openintern.research.ledger import ExperimentRecord
from openintern.store import Store, StoreError

# The launcher's own files: state, not results.
_INTERNAL = frozenset({"spec.json", "command.sh", "pid", "child", "gpus", "started_at",
                       "ended_at", "exit_code", "state", "cancel"})
TEXT_LIMIT = 512 * 1024
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


class RunFileError(LookupError):
    """The file is not one of the run's (or does not exist); the message says which."""


def workspace_of(settings: Settings, store: Store, record: ExperimentRecord) -> Path:
    """The workspace the run's session worked in."""
    try:
        return Path(store.get_session(record.session_id).workspace)
    except StoreError:
        return settings.workspace


def local_run_dir(settings: Settings, store: Store, record: ExperimentRecord) -> Path | None:
    """The control directory of a local job (output.log, state, system.jsonl: in the data
    directory, host-only); None for other backends or unsubmitted runs."""
    if record.backend != "local" or not record.job_id or "/" in record.job_id:
        return None
    root = runs_root(workspace_of(settings, store, record)).resolve()
    path = root / record.job_id
    if not path.is_dir() or not path.resolve().is_relative_to(root):
        return None
    return path.resolve()


def local_output_dir(settings: Settings, store: Store, record: ExperimentRecord
                     ) -> Path | None:
    """The folder a local job wrote (its artifacts: metrics, checkpoints, plots), inside
    the workspace; None for other backends, unsubmitted runs, or when it is gone."""
    if record.backend != "local" or not record.job_id or "/" in record.job_id:
        return None
    workspace = workspace_of(settings, store, record).resolve()
    path = job_output_dir(workspace, record.job_id)
    # Agent code can write the workspace: an output folder swapped for a link to "/"
    # must not turn into a window on the host's files.
    if not path.is_dir() or not path.resolve().is_relative_to(workspace):
        return None
    return path.resolve()


@dataclass
class RunFile:
    """A file shown on the run's page."""

    name: str  # relative to its root, as linked
    size: int
    kind: str  # "text", "image" or "binary"


def file_kind(path: Path) -> str:
    """"image" (raster types), "text" (no NUL in its head) or "binary"."""
    guessed = mimetypes.guess_type(path.name)[0] or ""
    if guessed in IMAGE_TYPES:
        return "image"
    try:
        with path.open("rb") as f:
            head = f.read(2048)
    except OSError:
        return "binary"
    return "binary" if b"\0" in head else "text"


def _inside(root: Path, rel: str) -> Path:
    """``root/rel`` resolved, refusing anything outside ``root`` (``..``, symlinks)."""
    base = root.resolve()
    target = (base / rel).resolve()
    if target == base or not target.is_relative_to(base) or not target.is_file():
        raise RunFileError(f"{rel!r} is not a file of this run")
    return target


def artifacts(*roots: Path | None) -> list[RunFile]:
    """The run's artifacts: the files of its folders (the job's output folder, the
    launcher's output.log and system samples), recursively, the launcher's state files
    aside, at most 200. A name in an earlier folder hides the same name in a later one."""
    out: list[RunFile] = []
    seen: set[str] = set()
    for root in roots:
        if root is None:
            continue
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if (not path.is_file() or path.is_symlink() or rel in _INTERNAL
                    or rel.startswith(".") or rel in seen):
                continue
            seen.add(rel)
            out.append(RunFile(rel, path.stat().st_size, file_kind(path)))
            if len(out) >= 200:
                return out
    return out


def artifact_path(rel: str, *roots: Path | None) -> Path:
    """An artifact's path in the first of ``roots`` that has it, checked (RunFileError
    otherwise: outside its folder, a link out, a launcher state file)."""
    if all(root is None for root in roots):
        raise RunFileError("this run has no output folder (not a local job, or gone)")
    if rel in _INTERNAL:
        raise RunFileError(f"{rel!r} is not an artifact")
    for root in roots:
        if root is None:
            continue
        with contextlib.suppress(RunFileError):
            return _inside(root, rel)
    raise RunFileError(f"{rel!r} is not a file of this run")


def read_text(path: Path, limit: int = TEXT_LIMIT) -> tuple[str, bool]:
    """(the file's text, up to ``limit`` bytes, whether it was cut)."""
    with path.open("rb") as f:
        data = f.read(limit + 1)
    return data[:limit].decode("utf-8", errors="replace"), len(data) > limit


# --- code snapshots ---------------------------------------------------------------------


def snapshot_dir(record: ExperimentRecord, workspace: Path) -> Path | None:
    """The run's code snapshot directory, if it is complete and inside ``workspace``."""
    if not record.snapshot_path:
        return None
    path = Path(record.snapshot_path).resolve()
    if not path.is_relative_to(workspace.resolve()) or not (path / ".complete").is_file():
        return None
    return path


def snapshot_files(record: ExperimentRecord, workspace: Path) -> list[str]:
    """The files of the run's code snapshot, in order."""
    root = snapshot_dir(record, workspace)
    if root is None:
        return []
    listed = (root / ".complete").read_text(encoding="utf-8", errors="replace").splitlines()
    return sorted(name for name in listed if name and (root / name).is_file())


def snapshot_file(record: ExperimentRecord, workspace: Path, rel: str) -> Path:
    """One file of the run's code snapshot, checked (RunFileError otherwise)."""
    root = snapshot_dir(record, workspace)
    if root is None:
        raise RunFileError("this run has no code snapshot")
    if rel == ".complete":
        raise RunFileError("not a snapshot file")
    return _inside(root, rel)


@dataclass
class FileDiff:
    """One file's difference between two snapshots: unified diff lines."""

    name: str
    status: str  # "changed", "added", "removed"
    lines: list[str] = field(default_factory=list)


def code_diff(a: ExperimentRecord, a_workspace: Path, b: ExperimentRecord,
              b_workspace: Path) -> list[FileDiff]:
    """What changed in the code from run ``a`` to run ``b`` (files that differ only)."""
    files_a = set(snapshot_files(a, a_workspace))
    files_b = set(snapshot_files(b, b_workspace))
    out: list[FileDiff] = []
    for name in sorted(files_a | files_b):
        old = (read_text(snapshot_file(a, a_workspace, name))[0].splitlines()
               if name in files_a else [])
        new = (read_text(snapshot_file(b, b_workspace, name))[0].splitlines()
               if name in files_b else [])
        if old == new:
            continue
        status = "added" if name not in files_a else "removed" if name not in files_b \
            else "changed"
        lines = list(difflib.unified_diff(old, new, f"a/{name}", f"b/{name}", lineterm=""))
        out.append(FileDiff(name, status, lines))
    return out
