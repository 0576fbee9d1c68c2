"""What the bench suite itself costs: wall time per task with the scripted floor, run
sequentially (one attempt at a time) and in parallel, printed as a table.

Both runs go through the real command (``intern bench run --model scripted/floor``) in a
fresh data directory, so they include everything a user waits for: the agent's start,
its sandbox and venv, the baseline training job, and the grading. The tasks are built
once, before either run (the build time is printed separately).

Run: ``python benchmarks/bench_suite_bench.py [--parallel K] [TASK ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OPENINTERN_DATA_DIR": str(data_dir),
                "OPENINTERN_CONFIG": str(data_dir / "no-config.toml"),
                "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "200"})
    return env


def _intern(args: list[str], data_dir: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "openintern.cli", *args], env=_env(data_dir),
                          capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"intern {' '.join(args)} failed:\n{done.stdout[-3000:]}"
                         f"{done.stderr[-3000:]}")
    return took, done.stdout


def _run(tasks: list[str], parallel: int, data_dir: Path) -> tuple[float, dict[str, float]]:
    took, out = _intern(["bench", "run", *tasks, "--model", "scripted/floor", "--seeds", "1",
                         "--parallel", str(parallel), "--no-network"], data_dir)
    found = re.search(r"bench run (\S+): ", out)
    assert found, out[-2000:]
    record = json.loads((data_dir / "bench" / "runs" / found.group(1) / "run.json").read_text())
    return took, {a["task_id"]: a["wall_s"] for a in record["attempts"]}


def main() -> None:
    """Build the tasks, run the floor sequentially and in parallel, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", help="task ids (default: all bundled tasks)")
    parser.add_argument("--parallel", type=int, default=max(2, os.cpu_count() or 2),
                        help="attempts at once in the parallel run (default: the cores)")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        data_dir = Path(tmp)
        built, _ = _intern(["bench", "list"], data_dir)
        console.print(f"tasks built in {built:.1f}s (cached for both runs)")
        seq_total, seq = _run(args.tasks, 1, data_dir)
        par_total, par = _run(args.tasks, args.parallel, data_dir)
    table = Table(title=f"intern bench run --model scripted/floor ({os.cpu_count()} CPUs)")
    table.add_column("task")
    table.add_column("sequential: attempt wall s", justify="right")
    table.add_column(f"parallel {args.parallel}: attempt wall s", justify="right")
    for task in seq:
        table.add_row(task, f"{seq[task]:.1f}", f"{par.get(task, float('nan')):.1f}")
    table.add_row("[bold]whole run (incl. start, grading, report)[/bold]",
                  f"[bold]{seq_total:.1f}[/bold]", f"[bold]{par_total:.1f}[/bold]")
    console.print(table)
    console.print(f"parallel speed-up: {seq_total / par_total:.2f}× with {args.parallel} "
                  "attempts at once")


if __name__ == "__main__":
    main()
