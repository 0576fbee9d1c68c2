"""Does a GPU job see the GPU inside the sandbox? Starts a CUDA PyTorch job through the
local backend (bubblewrap, GPU device nodes bound in) and prints what the job saw:
``torch.cuda.is_available()``, the device name and count, ``CUDA_VISIBLE_DEVICES`` and
the ``/dev/nvidia*`` nodes inside.

On a machine without a GPU it still runs the job (CPU) and says "no GPU" plainly. Where
bubblewrap cannot run (some container runtimes), it says exactly what failed and then
runs the same check with ``--sandbox none`` to show what the sandbox does instead.

Run: ``python benchmarks/gpu_sandbox_check.py`` (needs torch: ``pip install torch``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from openintern.compute.base import JobSpec, JobStatus
from openintern.compute.local import LocalBackend, detect_gpus
from openintern.config import Settings
from openintern.sandbox import SandboxError, make_sandbox
from openintern.sandbox.devices import gpu_device_nodes

PROBE = """
import glob, json, os
import torch
ok = torch.cuda.is_available()
print(json.dumps({
    "torch": torch.__version__,
    "cuda_available": ok,
    "device_count": torch.cuda.device_count() if ok else 0,
    "device_name": torch.cuda.get_device_name(0) if ok else None,
    "matmul_ok": bool((torch.ones(64, 64, device="cuda") @ torch.ones(64, 64,
                       device="cuda")).sum().item() == 64 ** 3) if ok else None,
    "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    "dev_nodes": sorted(glob.glob("/dev/nvidia*")),
    "uid": os.getuid(),
}))
"""


async def _wait(backend: LocalBackend, job: str, limit_s: float = 600) -> JobStatus:
    deadline = time.monotonic() + limit_s
    while True:
        status = await backend.status(job)
        if status.done or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.2)


async def run_check(sandbox_name: str, ws: Path, gpus: list[str]) -> dict[str, object]:
    """Run the probe as a job in ``sandbox_name``; returns what it printed (or why not)."""
    settings = Settings(workspace=ws, sandbox=sandbox_name,  # type: ignore[arg-type]
                        sandbox_network="off")
    sandbox = make_sandbox(settings, ws)
    backend = LocalBackend(ws, sandbox, gpus=gpus)
    (ws / "probe.py").write_text(PROBE)
    job = await backend.submit(JobSpec(command="python probe.py", workdir=ws,
                                       gpus=1 if gpus else 0, timeout_s=600))
    status = await _wait(backend, job)
    log = await backend.logs(job, tail=50)
    line = next((x for x in reversed(log.splitlines()) if x.startswith("{")), None)
    if status.state != "succeeded" or line is None:
        return {"error": f"job {status.state}: {status.detail or log}"}
    result: dict[str, object] = json.loads(line)
    result["gpu_binds"] = [str(p) for p in gpu_device_nodes()] if sandbox_name == "bwrap" \
        else "(no sandbox: all of /dev)"
    return result


def main() -> int:
    console = Console()
    if importlib.util.find_spec("torch") is None:
        console.print("[red]torch is not installed here: pip install torch[/red]")
        return 2
    gpus = detect_gpus()
    nodes = gpu_device_nodes()
    console.print(f"host: nvidia-smi lists {len(gpus)} GPU(s); device nodes: "
                  f"{', '.join(map(str, nodes)) or 'none'}")
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="oi-gpu-check-") as tmp:
        for name in ("bwrap", "none"):
            (Path(tmp) / name).mkdir()
        try:
            results["bwrap"] = asyncio.run(run_check("bwrap", Path(tmp) / "bwrap", gpus))
        except SandboxError as exc:
            results["bwrap"] = {"error": f"the sandbox cannot start here: {exc}"}
            console.print(f"[yellow]bubblewrap cannot run here:[/yellow] {exc}\n"
                          "A session with --sandbox bwrap refuses to start on this machine; "
                          "with --sandbox none jobs run unsandboxed. Checking that:")
            results["none"] = asyncio.run(run_check("none", Path(tmp) / "none", gpus))
    table = Table(title="CUDA PyTorch job through the local backend")
    table.add_column("")
    for name in results:
        table.add_column(f"sandbox {name}")
    keys = sorted({k for r in results.values() for k in r})
    for key in keys:
        table.add_row(key, *(str(r.get(key, "")) for r in results.values()))
    console.print(table)
    sandboxed = results.get("bwrap", {})
    if sandboxed.get("cuda_available"):
        console.print(f"[green]GPU visible inside the sandbox: {sandboxed['device_name']} "
                      f"({sandboxed['device_count']} device(s)).[/green]")
        return 0
    if not gpus and not nodes:
        where = "inside the sandbox" if "error" not in sandboxed else "here"
        console.print(f"[bold]no GPU[/bold] on this machine (nvidia-smi lists none, no "
                      f"/dev/nvidia* nodes); the job ran {where} and "
                      f"torch.cuda.is_available() = {sandboxed.get('cuda_available', False)}.")
        return 0
    console.print("[red]This machine has a GPU but the sandboxed job did not see it.[/red]")
    return 1


if __name__ == "__main__":
    sys.exit(main())
