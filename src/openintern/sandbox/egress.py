"""``python -P -m openintern.sandbox.egress [--allow CIDR]... -- ARGV``: run ARGV (a
bubblewrap command line) inside a fresh egress-only network namespace.

Jobs are started this way so that their argv carries its network policy with it: if the
namespace cannot be made, the job does not start (it never falls back to the host's
network). The helper execs ARGV through ``nsenter``, handing it the holder's pipe and the
NAT's exit fd, so the namespace lives exactly as long as the job.
"""

from __future__ import annotations

import os
import sys

from openintern.sandbox.network import NetworkNamespace, NetworkUnavailable

_CANNOT_START = 126


def main(argv: list[str]) -> int:
    """Parse ``[--allow CIDR]... -- ARGV`` and exec ARGV inside the namespace."""
    allow: list[str] = []
    args = list(argv)
    while args and args[0] == "--allow" and len(args) > 1:
        allow.append(args[1])
        args = args[2:]
    if not args or args[0] != "--" or len(args) < 2:
        print("usage: python -P -m openintern.sandbox.egress [--allow CIDR]... -- ARGV",
              file=sys.stderr)
        return 2
    command = args[1:]
    try:
        network = NetworkNamespace(egress=True, allow=allow)
    except NetworkUnavailable as exc:
        print(f"openintern: the job's egress network could not start: {exc}", file=sys.stderr)
        return _CANNOT_START
    network.keep_across_exec()
    full = [*network.enter_argv(), *command]
    try:
        os.execvp(full[0], full)
    except OSError as exc:
        print(f"openintern: could not start {full[0]}: {exc}", file=sys.stderr)
        network.close()
    return _CANNOT_START


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
