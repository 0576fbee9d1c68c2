"""Sandbox cost: how long a trivial command (``true``) takes from ``run()`` to its result,
with the first version's isolation and with today's, per network level and with limits.

The first version's layout (bubblewrap with full capabilities, no user namespace, the
host's network or none, no limits) is rebuilt here from its argv so both run on the same
machine under the same load. It measured 52 ms median on this project's 2-core machine.

Run: ``python benchmarks/sandbox_bench.py [--n 30]`` (about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from openintern.machine import default_max_memory_mib, default_max_processes
from openintern.sandbox import BwrapSandbox, ResourceLimits, UnsandboxedRunner
from openintern.sandbox.environment import SANDBOX_HOME
from openintern.sandbox.limits import mechanism
from openintern.sandbox.paths import home_dirs, openintern_private_dirs
from openintern.sandbox.process import bash_path, run_process


def first_version_argv(sandbox: BwrapSandbox, *, network: bool) -> list[str]:
    """The first version's bubblewrap command line for ``bash -c true`` (its _layout)."""
    ws = str(sandbox.workspace)
    args = [sandbox.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", "--tmpfs", "/dev/shm", "--tmpfs", "/var/tmp",
            "--dir", SANDBOX_HOME]
    for hidden in home_dirs():
        args += ["--tmpfs", str(hidden)]
    args += ["--bind", ws, ws]
    for private in openintern_private_dirs():
        args += ["--tmpfs", str(private)]
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        args.append("--unshare-net")
    args += ["--new-session", "--die-with-parent", "--chdir", ws, "--clearenv",
             "--setenv", "PATH", "/usr/bin:/bin", "--", bash_path(), "-c", "true"]
    return args


async def _time(run: Callable[[], Awaitable[object]], n: int) -> list[float]:
    await run()  # warm up (venv, egress namespace, page cache)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def main(n: int) -> None:
    console = Console()
    rows: list[tuple[str, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="oi-sandbox-bench-") as tmp:
        ws = Path(tmp)
        limits = ResourceLimits(max_processes=default_max_processes(),
                                max_memory_bytes=default_max_memory_mib() << 20)
        off = BwrapSandbox(ws, network="off")
        await off.prepare()

        async def first(network: bool) -> None:
            await run_process(first_version_argv(off, network=network), env={}, cwd=ws,
                              timeout_s=30, max_output_chars=1000)

        rows.append(("first version, network off", await _time(lambda: first(False), n)))
        rows.append(("first version, host network", await _time(lambda: first(True), n)))
        cases: list[tuple[str, BwrapSandbox | UnsandboxedRunner]] = [
            ("now, network off", off),
            ("now, network off + limits", BwrapSandbox(ws, network="off", limits=limits)),
            ("now, egress (default)", BwrapSandbox(ws, network="egress")),
            ("now, egress + limits (default)",
             BwrapSandbox(ws, network="egress", limits=limits)),
            ("now, full network", BwrapSandbox(ws, network="full")),
            ("no sandbox (--sandbox none)", UnsandboxedRunner(ws)),
        ]
        for label, box in cases:
            async def once(box: BwrapSandbox | UnsandboxedRunner = box) -> None:
                result = await box.run("true", timeout_s=30)
                assert result.exit_code == 0, result.output
            rows.append((label, await _time(once, n)))
            if isinstance(box, BwrapSandbox):
                box.close()
    table = Table(title=f"Sandbox command start latency (`true`, {n} runs each; limits via "
                        f"{mechanism()})")
    table.add_column("isolation")
    table.add_column("median ms", justify="right")
    table.add_column("p90 ms", justify="right")
    table.add_column("vs first version", justify="right")
    baseline = statistics.median(rows[0][1])
    for label, samples in rows:
        ordered = sorted(samples)
        median = statistics.median(ordered)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        table.add_row(label, f"{median:.1f}", f"{p90:.1f}", f"{median - baseline:+.1f}")
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=30, help="runs per case")
    asyncio.run(main(parser.parse_args().n))
