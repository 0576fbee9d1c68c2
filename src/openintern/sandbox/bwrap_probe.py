"""Finding a bubblewrap that works here, and saying exactly why not when it does not.

The probe runs the isolation the sandbox relies on (own user namespace with an
unprivileged uid, no capabilities, own PID namespace) around ``true``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from openintern.sandbox.base import SandboxError

#: The uid and gid agent code runs as inside the sandbox ("nobody").
SANDBOX_UID = 65534
INSTALL_HINT = (
    "Install it (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install "
    "bubblewrap), or use --sandbox none to opt out (no isolation)."
)
OPT_OUT_HINT = "or use --sandbox none to opt out (no isolation)."
# Generous: on a very busy machine namespace creation can take seconds, and a probe that
# times out would refuse a sandbox that works.
_PROBE_TIMEOUT_S = 60.0


class BwrapUnavailable(SandboxError):
    """bubblewrap is missing (``installed`` False) or cannot create a sandbox here."""

    def __init__(self, message: str, *, installed: bool, path: str | None = None,
                 cause: str = "", fix: str = "") -> None:
        super().__init__(message)
        self.installed = installed
        self.path = path
        self.cause = cause
        self.fix = fix


@dataclass(frozen=True)
class BwrapFeatures:
    """What the installed bubblewrap supports."""

    path: str
    disable_userns: bool  # --disable-userns (0.8+): no nested user namespaces inside


def _isolation_args(uid: int = SANDBOX_UID) -> list[str]:
    # No --unshare-net: a new network namespace is the slowest part to create (and to
    # tear down) on a busy kernel, and the sandbox's network is checked where it is made.
    return ["--unshare-user", "--uid", str(uid), "--gid", str(uid), "--unshare-pid",
            "--cap-drop", "ALL"]


def _run(argv: list[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=_PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {_PROBE_TIMEOUT_S:g} s"
    except OSError as exc:
        return 126, str(exc)
    return done.returncode, done.stdout.decode(errors="replace").strip()


@functools.cache
def _probe(bwrap: str) -> BwrapFeatures | str:
    """Features of a working bwrap, or why it failed (cached: once per process)."""
    base = [bwrap, "--ro-bind", "/", "/", "--proc", "/proc", *_isolation_args()]
    code, out = _run([*base, "--disable-userns", "--", "true"])
    if code == 0:
        return BwrapFeatures(bwrap, disable_userns=True)
    if "disable-userns" in out:  # an older bubblewrap: isolation without that extra
        code, out = _run([*base, "--", "true"])
        if code == 0:
            return BwrapFeatures(bwrap, disable_userns=False)
    return out or f"exit code {code}"


def _read(path: str) -> str | None:
    with contextlib.suppress(OSError):
        return Path(path).read_text().strip()
    return None


def _in_chroot() -> bool:
    with contextlib.suppress(OSError):
        root, init_root = os.stat("/"), os.stat("/proc/1/root")
        return (root.st_dev, root.st_ino) != (init_root.st_dev, init_root.st_ino)
    return False


def _in_container() -> bool:
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return True
    cgroup = _read("/proc/1/cgroup") or ""
    return any(word in cgroup for word in ("docker", "kubepods", "containerd", "lxc"))


def diagnose(failure: str) -> tuple[str, str]:
    """(what really failed, what to do) for a bwrap that cannot create its namespaces."""
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        return ("user namespaces are disabled on this machine (user.max_user_namespaces=0)",
                "enable them: sudo sysctl -w user.max_user_namespaces=15000")
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0" and os.geteuid() != 0:
        return ("unprivileged user namespaces are disabled "
                "(kernel.unprivileged_userns_clone=0)",
                "enable them: sudo sysctl -w kernel.unprivileged_userns_clone=1")
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1" \
            and os.geteuid() != 0:
        return ("AppArmor restricts unprivileged user namespaces (Ubuntu 23.10 and later)",
                "allow them: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, "
                "or add an AppArmor profile for bwrap")
    if _in_chroot():
        return ("this process runs inside a chroot, where the kernel refuses to create "
                "user namespaces",
                "run OpenIntern outside the chroot (or in a container or VM instead)")
    if _in_container():
        return ("this is a container whose security profile (seccomp/AppArmor) or runtime "
                "blocks the namespaces bubblewrap needs",
                "start the container with user namespaces allowed (Docker: --security-opt "
                "seccomp=unconfined --security-opt apparmor=unconfined, or a runtime such "
                "as sysbox), or run OpenIntern on the host")
    return ("the kernel refused to create the namespaces the sandbox needs",
            "check that user namespaces are enabled (sysctl user.max_user_namespaces, "
            "kernel.unprivileged_userns_clone) and not blocked by a security profile")


def find_bwrap(bwrap_path: str | None = None) -> BwrapFeatures:
    """A working bubblewrap, or ``BwrapUnavailable`` saying what failed and the fix."""
    found = shutil.which(bwrap_path or "bwrap")
    if found is None:
        raise BwrapUnavailable(f"bubblewrap (bwrap) is not installed. {INSTALL_HINT}",
                               installed=False, cause="bubblewrap is not installed",
                               fix="sudo apt-get install bubblewrap")
    probed = _probe(found)
    if isinstance(probed, BwrapFeatures):
        return probed
    cause, fix = diagnose(probed)
    raise BwrapUnavailable(
        f"bubblewrap is installed ({found}) but cannot create a sandbox here: {probed}\n"
        f"Why: {cause}.\nFix: {fix}; {OPT_OUT_HINT}",
        installed=True, path=found, cause=f"{cause} ({probed})", fix=fix,
    )
