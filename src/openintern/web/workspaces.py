"""A workspace per web user: what one user's agent writes, no other user's agent sees.

The server's own token works in the configured workspace (as ``intern`` does). A named
user (``web_users``) gets ``<web_workspaces>/<name>``; under bubblewrap the folder holding
them (the data directory by default) is hidden from every sandbox except for the
session's own workspace, and the file tools refuse paths outside it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from openintern.config import Settings, data_dir

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def workspaces_root(settings: Settings) -> Path:
    """Where the per-user workspaces live (``web_workspaces``, default: the data
    directory's ``web-workspaces``)."""
    return (settings.web_workspaces or data_dir() / "web-workspaces").resolve()


def folder_name(owner: str) -> str:
    """A file-system-safe folder name for a user; names that had to be changed get a
    short hash, so two users never share one."""
    safe = _SAFE.sub("_", owner).strip(".") or "user"
    if safe != owner:
        safe += "-" + hashlib.sha256(owner.encode()).hexdigest()[:8]
    return safe


def owner_workspace(settings: Settings, owner: str | None) -> Path:
    """The workspace of a session started by ``owner`` (None: the server's token)."""
    if owner is None:
        return settings.workspace
    path = workspaces_root(settings) / folder_name(owner)
    path.mkdir(parents=True, exist_ok=True)
    return path
