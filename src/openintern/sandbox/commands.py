"""What ``intern config`` says about containment: sandbox, network level, limits and how
this machine enforces them, and which secrets jobs may receive."""

from __future__ import annotations

from openintern.config import Settings
from openintern.sandbox.limits import ResourceLimits, mechanism
from openintern.sandbox.network import missing_tools

_MECHANISMS = {
    "cgroup2": "cgroup v2",
    "cgroup1": "cgroup v1 (pids, memory)",
    "rlimit": "rlimits only (no manageable cgroup here: processes are not limited for root, "
              "memory is an address-space limit)",
}
_LEVELS = {
    "off": "off (no network)",
    "egress": "egress (internet only: not this machine's services, private networks or "
              "cloud metadata)",
    "full": "full (the host's network, loopback included)",
}


def containment_summary(settings: Settings) -> str:
    """A few lines for ``intern config``."""
    memory = settings.sandbox_max_memory_mib
    limits = ResourceLimits(max_processes=settings.sandbox_max_processes or None,
                            max_memory_bytes=(memory << 20) if memory else None,
                            max_cpu_s=settings.sandbox_max_cpu_s)
    enforced = _MECHANISMS[mechanism(str(settings.cgroup_root) if settings.cgroup_root
                                     else None)]
    network = _LEVELS[settings.sandbox_network]
    if settings.sandbox_network == "egress" and missing_tools():
        network += f" — cannot start here: install {', '.join(missing_tools())}"
    if settings.sandbox == "none":
        network = "not enforced (--sandbox none)"
    secrets = ", ".join(settings.job_secrets) or "none (job_secrets is empty)"
    return "\n".join([
        f"Sandbox: {settings.sandbox}; network: {network}",
        f"Limits per command and per job: {limits.describe()}; enforced with {enforced}; "
        f"job output log {settings.job_max_output_mib} MiB",
        f"Secrets jobs may receive (each time with a person's approval): {secrets}",
    ])
