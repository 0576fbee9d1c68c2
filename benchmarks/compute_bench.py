"""Local compute benchmark: parallel sweep vs sequential, job start latency, and the cost
of ingesting 1,000 metric lines per second into the ledger.

Run: ``python benchmarks/compute_bench.py`` (takes about a minute on 2 cores).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from openintern.compute.base import JobSpec
from openintern.compute.local import LocalBackend
from openintern.compute.metrics import MetricStream
from openintern.config import Settings
from openintern.research import Ledger
from openintern.sandbox import make_sandbox
from openintern.store import Store

TRAIN = Path(__file__).parents[1] / "tests" / "ledger" / "train_digits.py"
RUNS = 8


async def _run_all(backend: LocalBackend, ws: Path, commands: list[str]) -> float:
    start = time.perf_counter()
    jobs = [await backend.submit(JobSpec(command=c, workdir=ws)) for c in commands]
    pending = set(jobs)
    while pending:
        for job in list(pending):
            status = await backend.status(job)
            if status.done:
                assert status.state == "succeeded", status.detail
                pending.discard(job)
        await asyncio.sleep(0.05)
    return time.perf_counter() - start


async def sweep_speedup(ws: Path, sandbox: str) -> tuple[float, float]:
    """Wall time of 8 real trainings: all slots vs one slot."""
    commands = [f"python train.py --lr {lr} --epochs 6 --seed {seed}"
                for lr in (0.01, 0.05, 0.1, 0.5) for seed in (0, 1)][:RUNS]
    box = make_sandbox(Settings(sandbox=sandbox), ws)  # type: ignore[arg-type]
    parallel = await _run_all(LocalBackend(ws, box), ws, commands)
    sequential = await _run_all(LocalBackend(ws, box, max_cpu_jobs=1), ws, commands)
    return parallel, sequential


async def start_latency(ws: Path, sandbox: str, n: int = 10) -> tuple[float, float]:
    """Median seconds from submit() to the command's first output, and to completion."""
    backend = LocalBackend(ws, make_sandbox(Settings(sandbox=sandbox), ws))  # type: ignore[arg-type]
    firsts, totals = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        job = await backend.submit(JobSpec(command="echo started", workdir=ws))
        log = backend.run_dir(job) / "output.log"
        while not log.stat().st_size:  # noqa: ASYNC110 (polling a file on purpose)
            await asyncio.sleep(0.002)
        firsts.append(time.perf_counter() - t0)
        while not (await backend.status(job)).done:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        totals.append(time.perf_counter() - t0)
    return sorted(firsts)[n // 2], sorted(totals)[n // 2]


WRITER = """
import os, sys, time
path, seconds, rate = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
start = time.time(); i = 0
with open(path, "a") as f:
    while time.time() - start < seconds:
        for _ in range(rate // 20):
            i += 1
            f.write('{"step": %d, "ts": %f, "loss": %f, "acc": %f}\\n'
                    % (i, time.time(), 1 / i, 1 - 1 / i))
        f.flush()
        time.sleep(0.05)
"""


def ingestion_overhead(tmp: Path, seconds: float = 5.0, rate: int = 1000) -> tuple[int, float]:
    """Ingest a file growing at ``rate`` lines/s into a real SQLite ledger every 0.5 s;
    returns (lines ingested, CPU seconds the ingestion used)."""
    store = Store(f"sqlite:///{tmp / 'bench.db'}")
    ledger = Ledger(store)
    exp = ledger.declare(session_id="bench", name="ingest", command="writer")
    path = tmp / "metrics.jsonl"
    path.touch()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(seconds), str(rate)])
    stream = MetricStream(path, require_step=False)
    cpu = 0.0
    lines = 0
    while True:
        finished = writer.poll() is not None
        c0 = time.process_time()
        points = stream.read_new(final=finished)
        ledger.add_points(exp.id, points, {"metrics": stream.state.to_dict()})
        cpu += time.process_time() - c0
        lines += len(points) // 2
        if finished:
            break
        time.sleep(0.5)
    store.close()
    return lines, cpu


def main() -> None:
    """Run the three measurements and print a table."""
    console = Console()
    table = Table(title=f"Local compute benchmark ({os.cpu_count()} cores)")
    for col in ("measurement", "sandbox", "result"):
        table.add_column(col)
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        ws = tmp / "ws"
        ws.mkdir()
        shutil.copy(TRAIN, ws / "train.py")
        sandboxes = ["none", "bwrap"] if shutil.which("bwrap") else ["none"]
        for sandbox in sandboxes:
            parallel, sequential = asyncio.run(sweep_speedup(ws, sandbox))
            table.add_row(f"sweep of {RUNS} real trainings", sandbox,
                          f"parallel {parallel:.1f}s vs sequential {sequential:.1f}s = "
                          f"{parallel / sequential:.2f}x")
            first, total = asyncio.run(start_latency(ws, sandbox))
            table.add_row("job start latency (median)", sandbox,
                          f"first output {first * 1000:.0f} ms, done {total * 1000:.0f} ms")
        lines, cpu = ingestion_overhead(tmp)
        seconds = 5.0
        table.add_row("metric ingestion at 1,000 lines/s", "-",
                      f"{lines} lines in {seconds:.0f}s: {cpu:.2f} CPU-s "
                      f"({100 * cpu / seconds:.1f}% of one core, "
                      f"{1000 * cpu / max(lines, 1) * 1000:.0f} ms per 1,000 lines)")
    console.print(table)


if __name__ == "__main__":
    main()
