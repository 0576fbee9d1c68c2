"""Packing a local working directory the way the Ray Jobs API expects it.

Ray ships a job's ``working_dir`` as a zip stored in the cluster's GCS under a
content-addressed name ``gcs://_ray_pkg_<hex>.zip``. The client checks whether the package
exists (``GET /api/packages/gcs/<name>``) and uploads it when not
(``PUT /api/packages/gcs/<name>`` with the zip bytes); the job then names the URI in its
``runtime_env``. This module builds the zip and its name; the backend does the HTTP.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from openintern.private_paths import PrivatePaths

# Directories never shipped to a cluster: caches, environments, VCS metadata, and
# OpenIntern's own folder (venv, spilled outputs, job outputs).
EXCLUDED_DIRS = frozenset(
    {".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".ruff_cache",
     ".pytest_cache", ".ipynb_checkpoints", ".openintern"}
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def is_excluded(rel_parts: tuple[str, ...]) -> bool:
    """Whether a path (its parts relative to the packed folder) stays out of a code
    package: excluded folders, compiled files, and ``.env*`` files (credentials)."""
    if any(part in EXCLUDED_DIRS or part.startswith(".env") for part in rel_parts):
        return True
    return bool(rel_parts) and rel_parts[-1].endswith(EXCLUDED_SUFFIXES)
# Ray's own limit is the gRPC message size (512 MiB); stay well below it.
MAX_PACKAGE_BYTES = 100 * 1024 * 1024
# A fixed timestamp keeps the zip bytes identical for identical content.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class PackageTooLarge(ValueError):
    """The working directory does not fit in a Ray package."""


@dataclass(frozen=True)
class WorkingDirPackage:
    """A zipped working directory and its content-addressed GCS name."""

    name: str          # "_ray_pkg_<hex>.zip"
    data: bytes
    files: int
    paths: tuple[str, ...] = ()  # what was packed, relative to the root
    # Files under private_paths that were left out (never shipped to a cluster).
    left_out: tuple[str, ...] = field(default=())

    @property
    def uri(self) -> str:
        """The URI a job's ``runtime_env.working_dir`` names."""
        return f"gcs://{self.name}"


def packable_files(root: Path, private: PrivatePaths | None = None
                   ) -> tuple[list[Path], list[str]]:
    """The files of ``root`` a job package takes (caches, environments and VCS folders
    skipped), and the private ones left out (relative paths)."""
    kept, left_out = [], []
    for path in _files(root):
        if private is not None and private.contains(path):
            left_out.append(path.relative_to(root).as_posix())
        else:
            kept.append(path)
    return kept, left_out


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        # Pruning in place stops os.walk from descending into excluded folders.
        dirnames[:] = sorted(d for d in dirnames if not is_excluded((d,)))
        for filename in sorted(filenames):
            if not is_excluded((filename,)):
                path = Path(dirpath) / filename
                if path.is_file():
                    found.append(path)
    return found


def pack_working_dir(root: Path, *, max_bytes: int = MAX_PACKAGE_BYTES,
                     private: PrivatePaths | None = None) -> WorkingDirPackage:
    """Zip ``root`` (files at the zip's top level, as Ray unpacks them) and name it.
    Files under ``private`` paths are left out (listed in ``left_out``).

    Raises ``FileNotFoundError`` if ``root`` is not a directory and ``PackageTooLarge``
    when the zip exceeds ``max_bytes``.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"working directory {root} does not exist")
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    files, left_out = packable_files(root, private)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            rel = path.relative_to(root).as_posix()
            content = path.read_bytes()
            digest.update(rel.encode() + b"\0" + hashlib.sha256(content).digest())
            info = zipfile.ZipInfo(rel, date_time=_ZIP_DATE)
            # Keep the permission bits so shipped scripts stay executable.
            info.external_attr = (path.stat().st_mode & 0o777) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
            if buffer.tell() > max_bytes:
                break
    data = buffer.getvalue()
    if len(data) > max_bytes:
        raise PackageTooLarge(
            f"the working directory {root} packs to more than {max_bytes // (1024 * 1024)} MiB; "
            "move data sets and checkpoints out of it (jobs should download or mount them)"
        )
    return WorkingDirPackage(
        name=f"_ray_pkg_{digest.hexdigest()[:32]}.zip", data=data, files=len(files),
        paths=tuple(p.relative_to(root).as_posix() for p in files), left_out=tuple(left_out),
    )
