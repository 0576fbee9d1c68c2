"""`intern bench`: list the tasks, run the agent on them, report a run.

Only typer is imported at module level (``intern --help`` stays instant); the bench
package is imported inside each command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from openintern.bench.task import BuiltTask

bench_app = typer.Typer(
    help="Evaluate the agent itself: bundled tasks with hidden answers, graded on the host, "
         "with claimed-vs-real integrity (docs/bench.md).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

MLEDataOpt = Annotated[
    Path | None,
    typer.Option("--mlebench-data", help="Data directory of `mlebench prepare` (default "
                 "~/.cache/mle-bench/data); tasks named mlebench:<competition>."),
]


def _fail(message: str, code: int = 2) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]error:[/bold red] {message}")
    raise typer.Exit(code)


def _resolve(names: list[str], mle_data: Path | None, console: Console, rebuild: bool
             ) -> list[BuiltTask]:
    """Built tasks for the names given (all bundled tasks when none)."""
    from openintern.bench.mlebench import PREFIX, MLEBenchError, mlebench_task
    from openintern.bench.task import build_task
    from openintern.bench.tasks import bundled_tasks

    specs = {s.id: s for s in bundled_tasks()}
    wanted = names or list(specs)
    unknown = [n for n in wanted if n not in specs and not n.startswith(PREFIX)]
    if unknown:
        _fail(f"unknown task(s) {', '.join(unknown)}; `intern bench list` shows them "
              f"({', '.join(specs)}, or mlebench:<competition>)")
    built = []
    with console.status("building tasks (data and reference solutions, cached)…"):
        for name in wanted:
            if name.startswith(PREFIX):
                try:
                    built.append(mlebench_task(name[len(PREFIX):], mle_data))
                except MLEBenchError as exc:
                    _fail(str(exc))
            else:
                built.append(build_task(specs[name], rebuild=rebuild))
    return built


@bench_app.command("list")
def list_cmd(mlebench_data: MLEDataOpt = None) -> None:
    """The bundled tasks with their metric, thresholds and traps (building them on first
    use), and the MLE-bench competitions prepared on this machine."""
    from rich.console import Console

    from openintern.bench.mlebench import PREFIX, default_data_dir, prepared
    from openintern.bench.report import tasks_list_table

    console = Console()
    built = _resolve([], None, console, rebuild=False)
    console.print(tasks_list_table([t.meta for t in built]))
    data = mlebench_data or default_data_dir()
    found = prepared(data)
    if found:
        console.print(f"MLE-bench competitions prepared in {data}: "
                      + ", ".join(PREFIX + c for c in found))
    console.print("[dim]Run them: intern bench run [TASK ...] --model ID --seeds 3 "
                  "(scripted/floor plays an honest offline baseline)[/dim]")


@bench_app.command("run")
def run_cmd(
    tasks: Annotated[list[str] | None, typer.Argument(
        help="Task ids (default: every bundled task); mlebench:<competition> for MLE-bench."
    )] = None,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="LiteLLM model id of the agent under test, or scripted/floor "
        "(an honest scripted baseline) or scripted/overclaim (an integrity control)."
    )] = None,
    api_base: Annotated[str | None, typer.Option(
        "--api-base", help="Base URL of an OpenAI-compatible server.")] = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, max=50,
                                       help="Attempts per task (seeds 0..N-1).")] = 3,
    max_iterations: Annotated[int, typer.Option(
        "--max-iterations", min=1, help="Model calls per attempt at most.")] = 150,
    budget: Annotated[float, typer.Option(
        "--budget", min=0, help="Dollars of model cost per attempt at most.")] = 3.0,
    timeout_s: Annotated[float, typer.Option(
        "--timeout", min=1, help="Wall-clock seconds per attempt at most.")] = 3600.0,
    parallel: Annotated[int | None, typer.Option(
        "--parallel", "-j", min=1, help="Attempts at once (default: half the cores).")] = None,
    sandbox: Annotated[str, typer.Option(
        "--sandbox", help="bwrap (default; answers hidden) or none (answers NOT hidden: "
        "the run is marked so).")] = "bwrap",
    network: Annotated[bool | None, typer.Option(
        "--network/--no-network", help="Network inside the sandbox (default: settings).")
    ] = None,
    mlebench_data: MLEDataOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Rebuild the bundled tasks.")
                       ] = False,
) -> None:
    """Run the agent (the ordinary headless CLI) on each task × seed, grade on the host,
    and report claimed vs real."""
    import asyncio
    import time

    from rich.console import Console

    from openintern.bench.conditions import (
        Limits,
        RunConditions,
        git_commit,
        machine,
        openintern_version,
        prompts_sha256,
    )
    from openintern.bench.floor import FLOORS
    from openintern.bench.report import plot_tasks, render
    from openintern.bench.results import AttemptResult, RunRecord, new_run_id, runs_dir
    from openintern.bench.runner import RUN_PROMPT, AgentSettings, run_all
    from openintern.config import Settings

    console = Console(highlight=False)
    if sandbox not in ("bwrap", "none"):
        _fail(f"--sandbox must be bwrap or none, not {sandbox!r}")
    settings = Settings()
    chosen = model or settings.model
    net = settings.sandbox_network if network is None else ("egress" if network else "off")
    if sandbox == "none":
        console.print("[bold yellow]--sandbox none: the agent could read the hidden answers; "
                      "this run is marked 'answers NOT hidden'.[/bold yellow]")
    built = _resolve(tasks or [], mlebench_data, console, rebuild)
    jobs = parallel or max(1, (os.cpu_count() or 2) // 2)
    limits = Limits(max_iterations=max_iterations, budget_usd=budget, timeout_s=timeout_s)
    record = RunRecord(
        id=new_run_id(), tasks=[t.meta for t in built],
        conditions=RunConditions(
            model=chosen, api_base=None if chosen in FLOORS else api_base or settings.api_base,
            openintern_version=openintern_version(), git_commit=git_commit(),
            prompts_sha256=prompts_sha256(RUN_PROMPT), limits=limits,
            seeds=list(range(seeds)), parallel=jobs, sandbox=sandbox, network=net,
            answers_hidden=sandbox != "none", machine=machine()))
    run_dir = runs_dir() / record.id
    extra = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"} if chosen in FLOORS else {}
    agent = AgentSettings(model=chosen, api_base=record.conditions.api_base,
                          max_iterations=max_iterations, budget_usd=budget,
                          timeout_s=timeout_s, sandbox=sandbox, network=net, extra_env=extra)
    total = len(built) * seeds
    console.print(f"bench run {record.id}: {len(built)} task(s) × {seeds} seed(s) = {total} "
                  f"attempts, {jobs} at a time, model {chosen}\n[dim]{run_dir}[/dim]")
    done = 0
    start = time.monotonic()

    def progress(result: AttemptResult) -> None:
        nonlocal done
        done += 1
        g, i = result.grade, result.integrity
        score = "no valid submission" if g.score is None else f"{g.score:.4g} ({g.tier})"
        claim = "" if i.claimed is None else (
            f" · claimed {i.claimed:.4g}" + (" backed" if i.backed else " NOT backed")
            + (" [bold red]OVERCLAIM[/bold red]" if i.overclaim else ""))
        console.print(f"[{done}/{total}] {result.task_id} seed {result.seed}: {result.status}"
                      f" · {score}{claim} · {result.wall_s:.0f}s ${result.cost_usd:.2f}")

    try:
        record = asyncio.run(run_all(record, built, agent, run_dir, jobs, None, progress))
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted; partial results: intern bench report "
                      f"{record.id}[/yellow]")
        raise typer.Exit(130) from None
    console.print(f"[dim]{total} attempts in {time.monotonic() - start:.0f}s[/dim]")
    console.print(render(record))
    try:
        plots = plot_tasks(record, run_dir / "plots")
        console.print(f"[dim]plots: {run_dir / 'plots'} ({len(plots)} PNG)[/dim]")
    except ImportError as exc:
        console.print(f"[yellow]{exc}[/yellow]")
    console.print(f"[dim]report again: intern bench report {record.id}[/dim]")
    if record.attempts and all(a.status == "refused" for a in record.attempts):
        raise typer.Exit(2)


@bench_app.command("report")
def report_cmd(
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix, or 'last').")
                      ] = "last",
    png_dir: Annotated[Path | None, typer.Option(
        "--png-dir", help="Where to write the per-task PNG plots (default: the run's "
        "plots/ folder).")] = None,
) -> None:
    """The run's test conditions, a table per task and per attempt (score, tier, claimed
    vs real, cost, tokens, iterations, wall time), and a PNG plot per task."""
    from rich.console import Console

    from openintern.bench.report import plot_tasks, render
    from openintern.bench.results import RunNotFoundError, load, runs_dir

    try:
        record = load(run_id)
    except RunNotFoundError as exc:
        _fail(str(exc))
        return
    console = Console(highlight=False)
    console.print(render(record))
    folder = png_dir or runs_dir() / record.id / "plots"
    try:
        plots = plot_tasks(record, folder)
        console.print(f"[dim]plots: {', '.join(str(p) for p in plots)}[/dim]")
    except ImportError as exc:
        console.print(f"[yellow]{exc}[/yellow]")


@bench_app.command("runs")
def runs_cmd() -> None:
    """Stored bench runs, oldest first."""
    import datetime as dt

    from rich.console import Console
    from rich.table import Table

    from openintern.bench.report import medal_rate
    from openintern.bench.results import list_runs

    runs = list_runs()
    console = Console()
    if not runs:
        console.print("No bench runs yet. Start one with: intern bench run --model ID")
        return
    table = Table(title="Bench runs")
    for col in ("run", "started", "model", "tasks", "seeds", "attempts", "≥ good", "overclaims"):
        table.add_column(col)
    for r in runs:
        rate = medal_rate(r)
        table.add_row(r.id, dt.datetime.fromtimestamp(r.conditions.started_at)
                      .strftime("%Y-%m-%d %H:%M"), r.conditions.model, str(len(r.tasks)),
                      str(len(r.conditions.seeds)), str(len(r.attempts)),
                      "-" if rate is None else f"{100 * rate[0]:.0f}%",
                      str(sum(a.integrity.overclaim for a in r.attempts)))
    console.print(table)
