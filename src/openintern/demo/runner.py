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
    from openintern.sandbox.bwrap import find_bwrap

    try:
        find_bwrap()
        return "bwrap"
    except SandboxError as exc:
        # Not installed, or installed but unable to create namespaces (a chroot, a
        # locked-down container): the error says which, and what to do.
        reason = str(exc)
    console.print(f"[yellow]The demo runs without a sandbox: {escape(reason)}[/yellow]")
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
        session.bus.subscribe(TerminalRenderer(console))
        result = asyncio.run(session.run(DEMO_TASK))
    from openintern.research.report import runs_table

    console.print()
    console.print(runs_table(session.ledger, session.info.id))
    console.print(f"[dim]session {session.info.id} is recorded: `intern sessions`, "
                  f"`intern runs --session {session.info.id}`; files in {ws}[/dim]")
    return 0 if result.reason == "finished" else 1
