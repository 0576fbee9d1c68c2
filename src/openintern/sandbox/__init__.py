"""Where agent-written code runs: bubblewrap by default, or no isolation on request.

``make_sandbox(settings, workspace)`` builds the one the settings ask for.
"""

from __future__ import annotations

from pathlib import Path

from openintern.config import Settings
from openintern.sandbox.base import CommandResult, Sandbox, SandboxError
from openintern.sandbox.bwrap import BwrapSandbox
from openintern.sandbox.environment import sandbox_environment
from openintern.sandbox.limits import ResourceLimits
from openintern.sandbox.none import UnsandboxedRunner
from openintern.sandbox.venv import ensure_venv, venv_bin, venv_dir
from openintern.secrets import is_secret_name


def limits_from_settings(settings: Settings) -> ResourceLimits:
    """The per-command and per-job limits the settings ask for."""
    memory = settings.sandbox_max_memory_mib
    return ResourceLimits(
        max_processes=settings.sandbox_max_processes or None,
        max_memory_bytes=(memory << 20) if memory else None,
        max_cpu_s=settings.sandbox_max_cpu_s,
    )


def make_sandbox(settings: Settings, workspace: Path) -> Sandbox:
    """The sandbox ``settings.sandbox`` names, for ``workspace``, with network per
    ``settings.sandbox_network`` and the limits of the settings. Raises ``SandboxError``
    (with the fix) when bubblewrap is missing or unusable; ``UnsandboxedRunner.warning``
    tells what opting out means."""
    secrets = settings.secret_values()
    limits = limits_from_settings(settings)
    cgroup_root = str(settings.cgroup_root) if settings.cgroup_root else None
    if settings.sandbox == "none":
        return UnsandboxedRunner(workspace, network=settings.sandbox_network, limits=limits,
                                 cgroup_root=cgroup_root, secret_values=secrets)
    return BwrapSandbox(workspace, network=settings.sandbox_network, limits=limits,
                        cgroup_root=cgroup_root, egress_allow=settings.sandbox_egress_allow,
                        secret_values=secrets)


__all__ = [
    "BwrapSandbox",
    "CommandResult",
    "ResourceLimits",
    "Sandbox",
    "SandboxError",
    "UnsandboxedRunner",
    "ensure_venv",
    "is_secret_name",
    "limits_from_settings",
    "make_sandbox",
    "sandbox_environment",
    "venv_bin",
    "venv_dir",
]
