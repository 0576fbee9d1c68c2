"""Where agent-written code runs: bubblewrap by default, or no isolation on request.

``make_sandbox(settings, workspace)`` builds the one the settings ask for.
"""

from __future__ import annotations

from pathlib import Path

from openintern.config import Settings
from openintern.sandbox.base import CommandResult, Sandbox, SandboxError
from openintern.sandbox.bwrap import BwrapSandbox
from openintern.sandbox.environment import is_secret_name, sandbox_environment
from openintern.sandbox.none import UnsandboxedRunner
from openintern.sandbox.venv import ensure_venv, venv_bin, venv_dir


def make_sandbox(settings: Settings, workspace: Path) -> Sandbox:
    """The sandbox ``settings.sandbox`` names, for ``workspace``, with network per
    ``settings.sandbox_network``. Raises ``SandboxError`` (with the fix) when bubblewrap
    is missing or unusable; ``UnsandboxedRunner.warning`` tells what opting out means."""
    secrets = settings.secret_values()
    if settings.sandbox == "none":
        return UnsandboxedRunner(workspace, network=settings.sandbox_network, secret_values=secrets)
    return BwrapSandbox(workspace, network=settings.sandbox_network, secret_values=secrets)


__all__ = [
    "BwrapSandbox",
    "CommandResult",
    "Sandbox",
    "SandboxError",
    "UnsandboxedRunner",
    "ensure_venv",
    "is_secret_name",
    "make_sandbox",
    "sandbox_environment",
    "venv_bin",
    "venv_dir",
]
