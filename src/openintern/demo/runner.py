"""Run the offline demo: scripted model server + the real agent stack."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from openintern.agent.session import ResearchSession, SessionOptions
from openintern.config import Settings
from openintern.demo.script import DemoResponder
from openintern.llm.scripted import ScriptedServer
from openintern.render import TerminalRenderer
from openintern.sandbox.base import SandboxError

DEMO_TASK = (
    "Find a better classifier than logistic regression for scikit-learn's digits dataset, "
    "and show whether the improvement is real (several seeds, confidence intervals)."
)


def _choose_sandbox(requested: str | None, console: Console) -> str:
    if requested:
        return requested
    from openintern.sandbox.bwrap_probe import BwrapUnavailable, find_bwrap

    try:
        find_bwrap()
        return "bwrap"
    except BwrapUnavailable as exc:
        problem = exc
    # The demo's code is scripted and known, so it may run without isolation; a real
    # session would refuse to start instead. Say exactly why and what to do.
    if problem.installed:
        console.print(
            f"[yellow]bubblewrap is installed ({problem.path}) but cannot create a sandbox "
            f"here: {escape(problem.cause)}.\nThe demo runs its own scripted code without a "
            f"sandbox. To sandbox real sessions: {escape(problem.fix)}.[/yellow]"
        )
    else:
        console.print(
            "[yellow]bubblewrap is not installed, so the demo runs its own scripted code "
            "without a sandbox (install it with: sudo apt-get install bubblewrap).[/yellow]"
        )
    return "none"


def run_demo(
    *, workspace: Path | None = None, sandbox: str | None = None, fast: bool = False
) -> int:
    """Play the demo session; returns the process exit code."""
    console = Console()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    ws = (workspace or Path.cwd() / "openintern-demo" / stamp).resolve()
    ws.mkdir(parents=True, exist_ok=True)
    console.print(
        Panel.fit(
            "OpenIntern demo — the model's turns are [bold]scripted[/bold] (no LLM is called, no "
            "key needed);\nevery tool call, training run and number below is [bold]real[/bold].\n"
            f"workspace: {ws}",
            border_style="cyan",
        )
    )
    chosen = _choose_sandbox(sandbox, console)
    with ScriptedServer(DemoResponder(seeds=3 if fast else 5)) as server:
        settings = Settings(
            model="openai/scripted",
            api_base=server.base_url,
            api_key="scripted-demo",
            workspace=ws,
            sandbox=chosen,
            sandbox_network="off",  # the scripted study needs no network
            context_window=128_000,
            auto_approve=True,
            max_iterations=20,
            retry_base_delay_s=0.1,
        )
        try:
            session = ResearchSession.create(
                settings, DEMO_TASK, options=SessionOptions(headless=True)
            )
        except SandboxError as exc:
            console.print(f"[bold red]error:[/bold red] {escape(str(exc))}")
            return 2
        session.bus.subscribe(TerminalRenderer(console, redactor=session.store.redactor))
        result = asyncio.run(session.run(DEMO_TASK))
    from openintern.research.report import runs_table

    console.print()
    console.print(runs_table(session.ledger, session.info.id))
    console.print(f"[dim]session {session.info.id} is recorded: `intern sessions`, "
                  f"`intern runs --session {session.info.id}`; files in {ws}[/dim]")
    return 0 if result.reason == "finished" else 1
