"""Harness benchmarks (issue 2), driven by the scripted model server.

Prints a table with:
- harness overhead per iteration (median/p95 ms, excluding model and tool time);
- a 300-iteration single-turn session with ~4 KB tool outputs against a 32k window:
  iterations finished, peak context tokens, compactions, total prompt tokens sent;
- `intern --help` wall time.

Run: python benchmarks/harness_bench.py [--iterations 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from rich.console import Console
from rich.table import Table

from openintern.agent.longrun import LongRunResponder, write_fixture_files
from openintern.agent.session import ResearchSession, SessionOptions
from openintern.config import Settings
from openintern.events import EventBase, ModelCall, ToolCallFinished
from openintern.llm.scripted import ScriptedServer
from openintern.llm.tokens import estimate_request_tokens

WINDOW = 32_000


def long_session(iterations: int) -> dict[str, float]:
    """Run the long single-turn session in-process; return its measurements."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["OPENINTERN_DATA_DIR"] = str(Path(tmp) / "data")
        ws = Path(tmp) / "ws"
        write_fixture_files(ws)
        events: list[tuple[float, EventBase]] = []
        with ScriptedServer(LongRunResponder(iterations), context_window=WINDOW) as server:
            settings = Settings(
                model="openai/scripted",
                api_base=server.base_url,
                api_key="bench",
                workspace=ws,
                context_window=WINDOW,  # type: ignore[arg-type]
                max_iterations=iterations,
                sandbox="none",
            )
            session = ResearchSession.create(
                settings, "read every log", options=SessionOptions(headless=True)
            )
            session.bus.subscribe(lambda e: events.append((time.perf_counter(), e)))
            start = time.perf_counter()
            result = asyncio.run(session.run("read every log"))
            wall = time.perf_counter() - start
            requests = list(server.requests)
    # Overhead of iteration i: time between the end of model call i and the end of model
    # call i+1, minus model call i+1's own duration and the tool time in between.
    gaps: list[float] = []
    last_model_end: float | None = None
    tool_time = 0.0
    for t, e in events:
        if isinstance(e, ToolCallFinished):
            tool_time += e.duration_s
        elif isinstance(e, ModelCall):
            if last_model_end is not None:
                gaps.append(t - last_model_end - e.duration_s - tool_time)
            last_model_end, tool_time = t, 0.0
    sizes = [estimate_request_tokens(r["messages"], r.get("tools")) for r in requests]
    compactions = sum(1 for _, e in events if e.type == "compaction")  # type: ignore[attr-defined]
    gaps.sort()
    return {
        "iterations": float(result.iterations),
        "wall_s": wall,
        "overhead_median_ms": 1000 * statistics.median(gaps),
        "overhead_p95_ms": 1000 * gaps[int(0.95 * (len(gaps) - 1))],
        "peak_tokens": float(max(sizes)),
        "compactions": float(compactions),
        "total_prompt_tokens": float(sum(sizes)),
        "mean_prompt_tokens": float(sum(sizes) / len(sizes)),
    }


def help_time(repeats: int = 5) -> float:
    """Median wall time of `intern --help` in a fresh process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "openintern.cli", "--help"], capture_output=True, check=True
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Run everything and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()
    r = long_session(args.iterations)
    table = Table(
        title=f"Harness benchmark ({args.iterations}-iteration single turn, "
        f"~4 KB tool outputs, {WINDOW:,}-token window)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target")
    table.add_row("iterations finished", f"{r['iterations']:.0f}", f"{args.iterations}")
    table.add_row(
        "harness overhead / iteration, median", f"{r['overhead_median_ms']:.2f} ms", "< 5 ms"
    )
    table.add_row("harness overhead / iteration, p95", f"{r['overhead_p95_ms']:.2f} ms", "")
    table.add_row("peak context (prompt tokens)", f"{r['peak_tokens']:,.0f}", f"< {WINDOW:,}")
    table.add_row("compactions", f"{r['compactions']:.0f}", "")
    table.add_row("total prompt tokens sent", f"{r['total_prompt_tokens']:,.0f}", "")
    table.add_row("mean prompt tokens / iteration", f"{r['mean_prompt_tokens']:,.0f}", "")
    table.add_row("session wall time", f"{r['wall_s']:.1f} s", "")
    table.add_row(
        "`intern --help` wall time (median of 5)", f"{help_time() * 1000:.0f} ms", "< 500 ms"
    )
    Console().print(table)


if __name__ == "__main__":
    main()
