"""Job start latency on a warm local Ray head, through OpenIntern's Ray Jobs backend.

Usage: ``python benchmarks/ray_bench.py [--runs 5] [--address http://127.0.0.1:8265]``.
Without ``--address`` it starts its own head on 127.0.0.1 (token auth on) and stops it at
the end. One warm-up job runs first (the head's first job pays for worker start-up); then
each run submits ``echo hi`` and measures: the submit call (package check + POST),
submit -> RUNNING, and submit -> SUCCEEDED. Prints the median and max of each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from openintern.compute.base import JobSpec
from openintern.compute.ray_backend import RayJobsBackend


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def local_head() -> Iterator[tuple[str, str]]:
    """A Ray head for the benchmark's duration: yields (dashboard URL, token)."""
    ray = shutil.which("ray")
    if ray is None:
        sys.exit("ray is not installed: pip install 'ray[default]'")
    token = secrets.token_hex(32)
    port = _free_port()
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    flags = ["--port", "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
             "--metrics-export-port", "--runtime-env-agent-port", "--ray-client-server-port"]
    args = [ray, "start", "--head", "--block", "--num-cpus=2", "--disable-usage-stats",
            "--dashboard-host=127.0.0.1", "--node-ip-address=127.0.0.1",
            "--include-dashboard=true", f"--dashboard-port={port}",
            *(f"{flag}={_free_port()}" for flag in flags)]
    started = time.monotonic()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                sys.exit(f"ray start exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.get(url + "/api/version", timeout=2,
                              headers={"Authorization": f"Bearer {token}"})
                if r.status_code == 200:
                    break
            time.sleep(0.2)
        print(f"head ready in {time.monotonic() - started:.1f} s (cold start)")
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)


async def one_job(backend: RayJobsBackend, workdir: Path) -> tuple[float, float, float]:
    """(submit call, submit -> RUNNING, submit -> SUCCEEDED) in seconds."""
    t0 = time.perf_counter()
    job_id = await backend.submit(JobSpec(command="echo hi", workdir=workdir, name="bench"))
    t_submit = time.perf_counter() - t0
    t_running = None
    while True:
        status = await backend.status(job_id)
        now = time.perf_counter() - t0
        if status.state in ("running", "succeeded") and t_running is None:
            t_running = now
        if status.done:
            if status.state != "succeeded":
                raise RuntimeError(f"benchmark job ended {status.state}: {status.detail}")
            return t_submit, t_running or now, now
        await asyncio.sleep(0.05)


async def bench(address: str, token: str | None, runs: int) -> None:
    backend = RayJobsBackend(address, auth_token=token)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "train.py").write_text("print('hi')\n")
        await one_job(backend, workdir)  # warm-up
        results = [await one_job(backend, workdir) for _ in range(runs)]
    print(f"\nRay {await backend.version()} at {address}, {runs} runs after one warm-up\n")
    print(f"{'measure':<28}{'median (s)':>12}{'max (s)':>10}")
    for i, label in enumerate(["submit call", "submit -> RUNNING", "submit -> SUCCEEDED"]):
        values = [r[i] for r in results]
        print(f"{label:<28}{statistics.median(values):>12.2f}{max(values):>10.2f}")


def main() -> None:
    """Parse arguments, get a head, run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--address", default=None, help="an existing head's dashboard URL")
    args = parser.parse_args()
    if args.address:
        asyncio.run(bench(args.address, os.environ.get("RAY_AUTH_TOKEN"), args.runs))
        return
    with local_head() as (url, token):
        asyncio.run(bench(url, token, args.runs))


if __name__ == "__main__":
    main()
