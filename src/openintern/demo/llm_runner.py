"""``intern demo --llm``: an offline LLM post-training study, end to end.

Audit a small instruction set → clean it → synthesize more examples through the scripted
model server (the synthesize tool, for real: validation, dedupe, decontamination, data
card, ledger) → train a 0.6 M-parameter Llama built from a config with TRL's SFT recipe,
as a detached sandboxed job → evaluate the untrained start and the trained model with
inspect_ai on a held-out multiple-choice set → compare (paired CI, McNemar test,
contamination) → conclude. Only the model's turns are scripted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from openintern.agent.session import ResearchSession, SessionOptions
from openintern.config import Settings
from openintern.demo.llm_data import eval_rows, instruction_rows, write_jsonl
from openintern.demo.llm_script import LLMDemoResponder
from openintern.demo.runner import _choose_sandbox
from openintern.llm.scripted import ScriptedServer
from openintern.render import TerminalRenderer
from openintern.sandbox.base import SandboxError

LLM_DEMO_TASK = (
    "Teach a small language model to answer 'in which range is this number?' "
    "multiple-choice questions, using the instruction data in data/ plus synthetic "
    "examples, and show on the held-out set data/eval.jsonl whether it really improved."
)


def run_llm_demo(*, workspace: Path | None = None, sandbox: str | None = None,
                 fast: bool = False) -> int:
    """Play the LLM demo session; returns the process exit code."""
    try:
        import inspect_ai  # noqa: F401
        import trl  # noqa: F401
    except ImportError as exc:
        Console(stderr=True).print(
            f"[bold red]error:[/bold red] the LLM demo needs the llm extra: pip install "
            f"'openintern[llm]' ({exc})")
        return 2
    console = Console()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    ws = (workspace or Path.cwd() / "openintern-demo" / f"llm-{stamp}").resolve()
    write_jsonl(ws / "data" / "instructions.jsonl", instruction_rows())
    write_jsonl(ws / "data" / "eval.jsonl", eval_rows())
    console.print(Panel.fit(
        "OpenIntern LLM demo — the model's turns are [bold]scripted[/bold] (no LLM is "
        "called, no key needed);\nsynthesis, training, evaluation and statistics below are "
        f"[bold]real[/bold].\nworkspace: {ws}", border_style="cyan"))
    chosen = _choose_sandbox(sandbox, console)
    responder = LLMDemoResponder(synthetic=600 if fast else 1200, steps=100 if fast else 150,
                                 eval_limit=120 if fast else 200)
    with ScriptedServer(responder) as server:
        settings = Settings(model="openai/scripted", api_base=server.base_url,
                            api_key="scripted-demo", workspace=ws, sandbox=chosen,
                            context_window=128_000, auto_approve=True, max_iterations=60,
                            retry_base_delay_s=0.1)
        try:
            session = ResearchSession.create(settings, LLM_DEMO_TASK,
                                             options=SessionOptions(headless=True))
        except SandboxError as exc:
            console.print(f"[bold red]error:[/bold red] {exc}")
            return 2
        session.bus.subscribe(TerminalRenderer(console))
        result = asyncio.run(session.run(LLM_DEMO_TASK))
    from openintern.research.report import runs_table

    console.print()
    console.print(runs_table(session.ledger, session.info.id))
    console.print(f"[dim]session {session.info.id} is recorded: `intern runs --session "
                  f"{session.info.id}`; files in {ws}[/dim]")
    return 0 if result.reason == "finished" else 1
