"""The sandbox's network levels, and the egress-only network namespace.

- ``off``: its own network namespace with only a private loopback.
- ``egress`` (default): its own network namespace whose only way out is user-mode NAT
  (``slirp4netns``, with the host's loopback disabled); routes inside it *prohibit* the
  private, link-local (cloud metadata), shared (CGNAT) and reserved ranges and every
  address of this machine, so services on the host and on the local network are out of
  reach while the internet (package registries) is not. DNS goes through the NAT's
  forwarder at 10.0.2.3.
- ``full``: the host's own network namespace (explicit opt-in: it reaches every service
  the host reaches, its loopback included).

One :class:`NetworkNamespace` is a holder process owning such a namespace (``off`` or
``egress``); a session's commands join it (``nsenter``) before bubblewrap starts, so a
command pays neither the namespace's creation nor the NAT's start-up.
Standard library only: the detached job launcher uses it too.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import itertools
import os
import shutil
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Literal

NetworkLevel = Literal["off", "egress", "full"]
NETWORK_LEVELS: tuple[NetworkLevel, ...] = ("off", "egress", "full")

#: Inside the namespace: the NAT's network, its gateway (the host, loopback disabled) and
#: its DNS forwarder (slirp4netns defaults).
NAT_CIDR = "10.0.2.0/24"
NAT_GATEWAY = "10.0.2.2"
NAT_DNS = "10.0.2.3"

#: Unreachable from ``egress``: private (RFC 1918), shared/CGNAT (RFC 6598; Alibaba's
#: metadata service lives there), link-local (cloud metadata at 169.254.169.254), "this"
#: network, IETF protocol assignments, benchmarking, multicast and reserved space.
BLOCKED_RANGES: tuple[str, ...] = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
    "240.0.0.0/4",
)

_READY_TIMEOUT_S = 30.0  # generous: a busy kernel can take seconds to make a namespace


class NetworkUnavailable(RuntimeError):
    """The egress network cannot be set up here; the message says what to do."""


def normalise_level(value: object) -> NetworkLevel:
    """A network level from a setting or flag: ``off``/``egress``/``full``, or the older
    booleans (True: ``egress``, False: ``off``)."""
    if isinstance(value, bool):
        return "egress" if value else "off"
    text = str(value).strip().lower()
    aliases: dict[str, NetworkLevel] = {"true": "egress", "1": "egress", "yes": "egress",
                                        "on": "egress", "false": "off", "0": "off",
                                        "no": "off", "none": "off"}
    if text in aliases:
        return aliases[text]
    if text in NETWORK_LEVELS:
        return text
    raise ValueError(f"unknown network level {value!r}; use off, egress or full")


def host_addresses() -> list[str]:
    """Every IPv4 address of this machine's interfaces (from the kernel's local routes)."""
    found: list[str] = []
    with contextlib.suppress(OSError):
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
        for previous, line in itertools.pairwise(lines):
            if "/32 host LOCAL" in line:
                address = previous.strip().split()[-1]
                with contextlib.suppress(ValueError):
                    ipaddress.IPv4Address(address)
                    found.append(address)
    return sorted(set(found))


def prohibited_routes(allow: Iterable[str] = ()) -> list[str]:
    """``ip -batch`` lines for the egress namespace: prohibit the blocked ranges and this
    host's addresses; ``allow`` (CIDRs the user opened, e.g. a proxy) go via the NAT."""
    lines = [f"route add prohibit {cidr}" for cidr in BLOCKED_RANGES]
    lines += [f"route add prohibit {address}/32" for address in host_addresses()]
    for cidr in allow:
        network = ipaddress.ip_network(cidr, strict=False)
        if network.version == 4:
            lines.append(f"route add {network} via {NAT_GATEWAY} dev tap0")
    return lines


@functools.cache
def missing_tools(*, nat: bool = True) -> list[str]:
    """The programs a shared namespace needs that are not installed (``nat``: with the
    egress NAT)."""
    tools = ("slirp4netns", "nsenter", "unshare", "ip") if nat else ("nsenter", "unshare", "ip")
    return [tool for tool in tools if shutil.which(tool) is None]


def egress_hint() -> str:
    """What to do when egress cannot be set up."""
    return ("Install slirp4netns, util-linux and iproute2 (Debian/Ubuntu: sudo apt-get "
            "install slirp4netns util-linux iproute2), or choose another network level: "
            "--no-network (off) or --network-level full (the host's network, loopback "
            "included).")


class NetworkNamespace:
    """A network namespace kept by a holder process: with ``egress``, NAT to the internet
    only; without, just a private loopback (``off``).

    The holder is ``cat`` reading a pipe only we write to: when this process ends (even
    killed), the pipe closes, the holder exits, and so does the NAT (its exit fd closes).
    """

    def __init__(self, *, egress: bool = True, allow: Iterable[str] = ()) -> None:
        missing = missing_tools(nat=egress)
        if missing:
            raise NetworkUnavailable(
                f"the egress network needs {', '.join(missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not installed. {egress_hint()}")
        self.egress = egress
        self.allow = list(allow)
        self.rootless = os.geteuid() != 0
        self._holder: subprocess.Popen[bytes] | None = None
        self._nat: subprocess.Popen[bytes] | None = None
        self._exit_w: int | None = None
        self._start()

    # --- set-up -------------------------------------------------------------------------
    def _start(self) -> None:
        unshare = ["unshare", "--net"]
        if self.rootless:
            unshare = ["unshare", "--user", "--map-root-user", "--net"]
        # Diagnostics go to files, not pipes: nobody reads a pipe while the network runs,
        # and a full one (or one closed by an exec) would stall or kill the NAT.
        self._holder_err = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self._nat_err = tempfile.TemporaryFile()  # noqa: SIM115
        holder = subprocess.Popen([*unshare, "--", "cat"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=self._holder_err,
                                  close_fds=True)
        self._holder = holder
        assert holder.stdin is not None
        # If this object is dropped without close() (a finished web session), closing
        # the holder's pipe (and the NAT's exit fd) still ends both processes.
        self._finalizer = weakref.finalize(self, _release_fds, None, holder.stdin)
        try:
            self._wait_for_namespace(holder)
            if self.egress:
                self._start_nat(holder.pid)
            self._configure()
        except BaseException:
            self.close()
            raise

    def _wait_for_namespace(self, holder: subprocess.Popen[bytes]) -> None:
        mine = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if holder.poll() is not None:
                err = _read_file(self._holder_err)
                raise NetworkUnavailable(
                    f"could not create a network namespace for egress: {err.strip()}. "
                    f"{egress_hint()}")
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{holder.pid}/ns/net") != mine:
                    return
            time.sleep(0.001)
        raise NetworkUnavailable("the egress network namespace did not appear in time")

    def _start_nat(self, pid: int) -> None:
        ready_r, ready_w = os.pipe()
        exit_r, exit_w = os.pipe()
        argv = ["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
                f"--ready-fd={ready_w}", f"--exit-fd={exit_r}"]
        if self.rootless:
            argv.append(f"--userns-path=/proc/{pid}/ns/user")
        argv += [str(pid), "tap0"]
        try:
            self._nat = subprocess.Popen(argv, pass_fds=(ready_w, exit_r),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=self._nat_err, close_fds=True)
        finally:
            os.close(ready_w)
            os.close(exit_r)
        self._exit_w = exit_w
        os.set_inheritable(exit_w, False)
        self._finalizer.detach()
        assert self._holder is not None and self._holder.stdin is not None
        self._finalizer = weakref.finalize(self, _release_fds, exit_w, self._holder.stdin)
        try:
            ready = _read_with_timeout(ready_r, _READY_TIMEOUT_S)
        finally:
            os.close(ready_r)
        if not ready:
            err = _read_file(self._nat_err)
            raise NetworkUnavailable(f"slirp4netns did not start: {err or 'no answer'}. "
                                     f"{egress_hint()}")

    def _configure(self) -> None:
        lines = prohibited_routes(self.allow) if self.egress else ["link set lo up"]
        batch = "\n".join(lines) + "\n"
        done = subprocess.run([*self.enter_argv(), "ip", "-batch", "-"], input=batch.encode(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False,
                              timeout=_READY_TIMEOUT_S)
        if done.returncode != 0:
            raise NetworkUnavailable(
                "could not configure the sandbox's network namespace (ip): "
                f"{done.stdout.decode(errors='replace').strip()}")

    # --- use ----------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        """Whether the holder and the NAT still run."""
        holder_up = self._holder is not None and self._holder.poll() is None
        return holder_up and (not self.egress or (self._nat is not None
                                                   and self._nat.poll() is None))

    def enter_argv(self) -> list[str]:
        """The argv prefix that runs a program inside this namespace."""
        assert self._holder is not None
        pid = self._holder.pid
        argv = ["nsenter", f"--net=/proc/{pid}/ns/net"]
        if self.rootless:
            # Joining the holder's user namespace gives the capabilities there; keeping
            # our credentials avoids setgroups, which that namespace denies.
            argv[1:1] = [f"--user=/proc/{pid}/ns/user", "--preserve-credentials"]
        return [*argv, "--"]

    def close(self) -> None:
        """Stop the NAT and the holder (commands still inside lose their network)."""
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer.detach()
        if self._exit_w is not None:
            with contextlib.suppress(OSError):
                os.close(self._exit_w)
            self._exit_w = None
        for process in (self._nat, self._holder):
            if process is None:
                continue
            if process is self._holder and process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)
            if process.poll() is None:
                process.kill()
                process.wait()
        self._nat = self._holder = None
        for handle in (self._holder_err, self._nat_err):
            handle.close()

    def keep_across_exec(self) -> None:
        """Let the program we exec next hold the namespace open: the holder's pipe and the
        NAT's exit fd survive the exec, so both end when that program ends."""
        assert self._holder is not None and self._holder.stdin is not None
        os.set_inheritable(self._holder.stdin.fileno(), True)
        if self._exit_w is not None:
            os.set_inheritable(self._exit_w, True)


def _release_fds(exit_fd: int | None, holder_stdin: IO[bytes]) -> None:
    if exit_fd is not None:
        with contextlib.suppress(OSError):
            os.close(exit_fd)
    with contextlib.suppress(OSError):
        holder_stdin.close()


def _read_with_timeout(fd: int, timeout_s: float) -> bytes:
    import select

    readable, _, _ = select.select([fd], [], [], timeout_s)
    return os.read(fd, 1) if readable else b""


def _read_file(handle: IO[bytes]) -> str:
    with contextlib.suppress(OSError, ValueError):
        handle.seek(0)
        return handle.read().decode(errors="replace").strip()
    return ""


def resolv_conf_text() -> str:
    """The resolver configuration inside the egress namespace."""
    return f"# written by openintern: DNS through the sandbox's NAT\nnameserver {NAT_DNS}\n"
