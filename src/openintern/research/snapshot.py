"""Code snapshots and data fingerprints: what exactly an experiment ran on.

A snapshot hashes the workspace's source files (``*.py *.yaml *.yml *.json *.toml *.sh
*.cfg``; skipping ``.openintern/``, ``.git``, virtual environments, caches and files over
the size cap) and keeps a copy under ``.openintern/snapshots/<hash>/`` so an experiment
can be re-run as it was. A data fingerprint hashes size, mtime and sampled bytes of the
given data paths (whole content for small files), cheap even for very large files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE_SUFFIXES = frozenset({".py", ".yaml", ".yml", ".json", ".toml", ".sh", ".cfg"})
SKIP_DIRS = frozenset({".openintern", ".git", ".hg", "__pycache__", "node_modules",
                       ".venv", "venv", ".mypy_cache", ".pytest_cache", ".ruff_cache",
                       "wandb", "mlruns", ".ipynb_checkpoints"})
FILE_CAP_BYTES = 512 * 1024
TOTAL_CAP_BYTES = 32 * 1024 * 1024
_SAMPLE_BYTES = 64 * 1024
_WHOLE_FILE_BYTES = 4 * 1024 * 1024
_MAX_DATA_FILES = 10_000


class SnapshotError(RuntimeError):
    """A snapshot cannot be taken or restored; the message says why."""


@dataclass
class Snapshot:
    """A content hash of the code an experiment ran, and where its copy is kept."""

    hash: str
    path: Path
    files: list[str]


def source_files(workspace: Path) -> list[Path]:
    """The workspace's source files a snapshot covers, in sorted relative order."""
    root = workspace.resolve()
    found: list[Path] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        # Skip virtual environments wherever they are (they hold thousands of .py files).
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS
                             and not (here / d / "pyvenv.cfg").exists())
        for name in sorted(filenames):
            path = here / name
            if path.suffix not in SOURCE_SUFFIXES or path.is_symlink():
                continue
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if size > FILE_CAP_BYTES or total + size > TOTAL_CAP_BYTES:
                continue
            total += size
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def take_snapshot(workspace: Path) -> Snapshot:
    """Hash the workspace's source files and keep a copy (once per distinct hash).
    Blocking file I/O: run it in a worker thread from async code."""
    root = workspace.resolve()
    files = source_files(root)
    digest = hashlib.sha256()
    contents: dict[str, bytes] = {}
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            data = path.read_bytes()
        except OSError:
            continue
        contents[rel] = data
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    code_hash = digest.hexdigest()
    target = root / ".openintern" / "snapshots" / code_hash
    if not (target / ".complete").exists():
        tmp = target.with_name(f".{code_hash}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for rel, data in contents.items():
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / ".complete").write_text("\n".join(contents))
        if target.exists():  # another process won the race
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, target)
    return Snapshot(code_hash, target, sorted(contents))


def restore_snapshot(snapshot_path: Path, workspace: Path, dest: Path) -> Path:
    """Copy a snapshot to ``dest`` for a re-run, and link the workspace's other top-level
    entries (data, checkpoints) next to it so relative paths keep working."""
    if not (snapshot_path / ".complete").exists():
        raise SnapshotError(f"snapshot {snapshot_path} is missing or incomplete; the code "
                            "of this experiment cannot be restored")
    shutil.copytree(snapshot_path, dest, ignore=shutil.ignore_patterns(".complete"))
    for entry in workspace.resolve().iterdir():
        if entry.name == ".openintern" or (dest / entry.name).exists():
            continue
        (dest / entry.name).symlink_to(entry)
    return dest


def _file_fingerprint(path: Path) -> str:
    stat = path.stat()
    digest = hashlib.sha256(f"{stat.st_size}:{int(stat.st_mtime)}".encode())
    with open(path, "rb") as handle:
        if stat.st_size <= _WHOLE_FILE_BYTES:
            digest.update(handle.read())
        else:
            # Head, middle and tail samples: catches appended, truncated or replaced data.
            for offset in (0, stat.st_size // 2, stat.st_size - _SAMPLE_BYTES):
                handle.seek(max(0, offset))
                digest.update(handle.read(_SAMPLE_BYTES))
    return digest.hexdigest()


def fingerprint_data(paths: list[Path]) -> dict[str, Any]:
    """``{path: {"hash", "bytes", "files"}}`` for each data file or directory. Missing
    paths are recorded as such (the experiment still runs; the record says so)."""
    out: dict[str, Any] = {}
    for path in paths:
        key = str(path)
        if not path.exists():
            out[key] = {"missing": True}
            continue
        members = [path] if path.is_file() else sorted(
            p for p in path.rglob("*") if p.is_file())[:_MAX_DATA_FILES]
        digest = hashlib.sha256()
        total = 0
        for member in members:
            rel = member.relative_to(path).as_posix() if member != path else member.name
            digest.update(rel.encode() + b"\0" + _file_fingerprint(member).encode())
            total += member.stat().st_size
        out[key] = {"hash": digest.hexdigest(), "bytes": total, "files": len(members)}
    return out
