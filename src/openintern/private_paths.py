"""Private paths: workspace files whose contents must not leave the machine.

``settings.private_paths`` lists them relative to the workspace: a folder (``data/``), a
file (``labels.csv``) or a glob (``data/*.parquet``, ``**/*.jsonl``). Files under them
are never packed into a remote job (Ray, HF Jobs), and their contents never enter a model
prompt beyond what the user allows (``private_data_view``: schema and summary statistics
by default); see ``openintern.accounting.private_filter`` for the prompt side.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class PrivatePaths:
    """The private-path patterns of one workspace (see the module docstring)."""

    workspace: Path
    patterns: tuple[str, ...] = ()

    @classmethod
    def of(cls, workspace: Path, patterns: Iterable[str]) -> PrivatePaths:
        """The patterns, normalised (``./data/`` and ``data`` mean the same)."""
        clean = []
        for raw in patterns:
            pattern = raw.strip().replace("\\", "/").removeprefix("./").rstrip("/")
            if pattern and pattern not in clean:
                clean.append(pattern)
        return cls(Path(os.path.realpath(workspace)), tuple(clean))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def relative(self, path: Path) -> str | None:
        """``path`` relative to the workspace (posix), None when it is outside."""
        real = Path(os.path.realpath(path))
        try:
            return real.relative_to(self.workspace).as_posix()
        except ValueError:
            return None

    def contains(self, path: Path) -> bool:
        """Whether ``path`` (absolute, or relative to the workspace) is private."""
        if not self.patterns:
            return False
        full = path if path.is_absolute() else self.workspace / path
        rel = self.relative(full)
        return rel is not None and self.matches(rel)

    def matches(self, rel: str) -> bool:
        """Whether a workspace-relative posix path is private."""
        for pattern in self.patterns:
            if _GLOB_CHARS & set(pattern):
                if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(rel, pattern + "/*"):
                    return True
            elif rel == pattern or rel.startswith(pattern + "/"):
                return True
        return False

    def files(self, *, limit: int = 10_000) -> Iterator[Path]:
        """The private files that exist now (at most ``limit``), skipping caches."""
        if not self.patterns:
            return
        found = 0
        for dirpath, dirnames, filenames in os.walk(self.workspace):
            dirnames[:] = sorted(d for d in dirnames if d not in (".git", ".openintern",
                                                                   ".venv", "__pycache__"))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                rel = path.relative_to(self.workspace).as_posix()
                if self.matches(rel) and path.is_file():
                    yield path
                    found += 1
                    if found >= limit:
                        return
