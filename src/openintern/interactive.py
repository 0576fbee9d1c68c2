"""Terminal front-ends: headless runs, the interactive prompt, resume.

Ctrl+C interrupts the current turn, not the program: the turn runs as a task, and SIGINT
cancels that task; the loop records the interruption and the prompt comes back.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable
from typing import TypeVar

from rich.console import Console
from rich.markup import escape

from openintern.agent.guards import Approver
from openintern.agent.session import ResearchSession, SessionOptions
from openintern.config import Settings, data_dir
from openintern.events import ApprovalRequested, TurnComplete
from openintern.render import TerminalRenderer
from openintern.sandbox.base import SandboxError
from openintern.store import StoreError

T = TypeVar("T")

EXIT_CODES = {
    "finished": 0,
    "needs_input": 0,
    "interrupted": 130,
    "error": 1,
    "budget": 3,
    "max_iterations": 3,
    "malformed_reply": 1,
    "store_error": 4,
}

SLASH_HELP = """\
/model [ID]   show or switch the model
/plan         show the plan
/notes        show saved notes
/cost         tokens and dollars so far
/compact      compact the context before the next call
/undo         undo the last turn
/quit         leave (the session can be resumed)"""


async def _interruptible(coro: Awaitable[T]) -> T:
    """Run ``coro`` as a task that SIGINT cancels (instead of killing the program)."""
    task = asyncio.ensure_future(coro)
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        installed = True
    except (NotImplementedError, RuntimeError):
        installed = False
    try:
        return await task
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


class TerminalApprover:
    """Asks the user at the terminal before an action that needs approval."""

    def __init__(self, console: Console) -> None:
        self.console = console

    async def approve(self, request: ApprovalRequested) -> bool:
        """Show the action (and its estimated cost) and wait for y/N."""
        from prompt_toolkit import PromptSession

        cost = (
            f" (estimated ${request.cost_estimate_usd:.2f})"
            if request.cost_estimate_usd is not None
            else ""
        )
        self.console.print(
            f"[bold yellow]approval needed[/bold yellow]: {escape(request.name)}{cost} — "
            f"{escape(request.reason)}"
        )
        if request.forecast:
            self.console.print(f"forecast: {request.forecast}")
        self.console.print_json(data=request.arguments)
        answer = await PromptSession[str]().prompt_async("approve? [y/N] ")
        return answer.strip().lower() in ("y", "yes")


def _start(
    settings: Settings, task: str, headless: bool, approver: Approver | None, console: Console
) -> ResearchSession:
    session = ResearchSession.create(
        settings, task, options=SessionOptions(headless=headless, approver=approver)
    )
    session.bus.subscribe(TerminalRenderer(console, redactor=session.store.redactor))
    return session


def _report_setup_error(console: Console, exc: Exception) -> int:
    console.print(f"[bold red]error:[/bold red] {escape(str(exc))}")
    return 2


def run_headless(settings: Settings, task: str) -> int:
    """Run ``task`` to the end without asking anything (budget-capped)."""
    console = Console(highlight=False)
    try:
        session = _start(settings, task, True, None, console)
    except (SandboxError, StoreError, ValueError) as exc:
        return _report_setup_error(console, exc)
    result = asyncio.run(_interruptible(session.run(task)))
    console.print(
        f"[dim]session {session.info.id} · resume with: intern resume {session.info.id}[/dim]"
    )
    return EXIT_CODES.get(result.reason, 1)


def resume_session(
    settings: Settings, session_id: str, message: str | None, interactive: bool
) -> int:
    """Continue a recorded session: its interrupted turn, or a new message."""
    console = Console(highlight=False)
    try:
        session = ResearchSession.open(
            settings,
            session_id,
            options=SessionOptions(
                headless=not interactive,
                approver=TerminalApprover(console) if interactive else None,
            ),
        )
    except (SandboxError, StoreError, ValueError) as exc:
        return _report_setup_error(console, exc)
    session.bus.subscribe(TerminalRenderer(console, redactor=session.store.redactor))
    result: TurnComplete | None = None
    if message is not None:
        result = asyncio.run(_interruptible(session.run(message)))
    elif session.stopped_mid_turn:
        blocked = _still_blocked(session)
        if blocked is not None:
            console.print(blocked, markup=False)
            return EXIT_CODES.get(session.store.get_session(session.info.id).status, 1)
        console.print(f"[dim]continuing the interrupted turn of {session.info.id}[/dim]")
        result = asyncio.run(_interruptible(session.run(None)))
    elif not interactive:
        console.print(
            f"session {session.info.id} is {session.store.get_session(session.info.id).status}; "
            "nothing to continue. Add --message or --interactive."
        )
        return 0
    if interactive:
        return _prompt_loop(session, console)
    return EXIT_CODES.get(result.reason, 1) if result else 0


def _budget_to_raise(session: ResearchSession, spent: float) -> str | None:
    """The option that lifts the budget stop (``--budget 0.12``), when the budget in
    effect still leaves no room for the call the accountant refused as the turn stopped
    (it stops before the call that would pass the cap); None when the call fits now."""
    limits = session.loop.limits
    stop = session.store.get_session(session.info.id).config.get("budget_stop")
    stop = stop if isinstance(stop, dict) else {}
    usd, tokens = stop.get("needed_usd"), stop.get("needed_tokens")
    budget = limits.budget_usd
    if budget is not None and (spent >= budget or (isinstance(usd, int | float) and budget < usd)):
        needed = usd if isinstance(usd, int | float) else spent
        return f"--budget {max(budget * 2, needed * 1.5, spent + 1.0):.2f}"
    token_budget = session.settings.token_budget
    if isinstance(tokens, int) and token_budget is not None and token_budget < tokens:
        return f"--token-budget {max(token_budget * 2, tokens * 3 // 2)}"
    return None


def _still_blocked(session: ResearchSession) -> str | None:
    """Why continuing the stopped turn would stop again at once, with the command that
    lifts the limit; None when it can continue."""
    info = session.store.get_session(session.info.id)
    sid = info.id
    limits = session.loop.limits
    raise_option = (_budget_to_raise(session, info.total_cost_usd)
                    if info.status == "budget" else None)
    if raise_option is not None:
        budget = limits.budget_usd
        of = f" of ${budget:.2f}" if budget is not None else ""
        return (
            f"session {sid} stopped at its budget: ${info.total_cost_usd:.4f} spent{of}. "
            f"To continue the turn, raise the budget: intern resume {sid} {raise_option}"
        )
    if info.status == "max_iterations":
        done = session.store.model_calls_in_turn(sid)
        if done >= limits.max_iterations:
            return (
                f"session {sid} stopped at the iteration cap ({done} model calls in this "
                f"turn, cap {limits.max_iterations}). To continue the turn, raise the cap: "
                f"intern resume {sid} --max-iterations {done + 100}"
            )
    return None


def run_interactive(settings: Settings) -> int:
    """The interactive prompt: first input is the task, later ones steer the session."""
    console = Console(highlight=False)
    console.print(
        "[bold]OpenIntern[/bold] · model [cyan]" + escape(settings.model) + "[/cyan] · "
        "type your research goal; /help for commands; Ctrl+D to quit"
    )
    task = _ask(console)
    if task is None:
        return 0
    try:
        session = _start(settings, task, False, TerminalApprover(console), console)
    except (SandboxError, StoreError, ValueError) as exc:
        return _report_setup_error(console, exc)
    asyncio.run(_interruptible(session.run(task)))
    return _prompt_loop(session, console)


def _ask(console: Console) -> str | None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history = data_dir() / "prompt_history"
    history.parent.mkdir(parents=True, exist_ok=True)
    prompt: PromptSession[str] = PromptSession(history=FileHistory(str(history)))
    while True:
        try:
            text = prompt.prompt("› ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return None
        if text.strip():
            return text.strip()


def _prompt_loop(session: ResearchSession, console: Console) -> int:
    console.print(f"[dim]session {session.info.id} · /help for commands[/dim]")
    while True:
        text = _ask(console)
        if text is None or text in ("/quit", "/exit", "/q"):
            console.print(f"[dim]resume later with: intern resume {session.info.id} -i[/dim]")
            return 0
        if text.startswith("/"):
            _slash(session, console, text)
            continue
        asyncio.run(_interruptible(session.run(text)))


def _slash(session: ResearchSession, console: Console, text: str) -> None:
    from openintern.tools.plan import render_plan

    cmd, _, arg = text.partition(" ")
    info = session.store.get_session(session.info.id)
    if cmd == "/help":
        console.print(SLASH_HELP)
    elif cmd == "/model":
        if arg.strip():
            session.set_model(arg.strip())
            console.print(f"model: {escape(arg.strip())}")
        else:
            console.print(f"model: {escape(session.settings.model)}")
    elif cmd == "/plan":
        console.print(render_plan(session.store.get_plan(info.id)), markup=False)
    elif cmd == "/notes":
        for nid, note, _tags in session.store.list_notes(info.id) or [(0, "(no notes)", [])]:
            console.print(f"({nid}) {escape(note)}")
    elif cmd == "/cost":
        console.print(
            f"{info.iterations} model calls · {info.prompt_tokens:,} prompt + "
            f"{info.completion_tokens:,} completion tokens · ${info.total_cost_usd:.4f}"
        )
    elif cmd == "/compact":
        session.request_compaction()
        console.print("the context will be compacted before the next model call")
    elif cmd == "/undo":
        removed = session.undo()
        console.print(f"undid the last turn ({removed} messages)" if removed else "nothing to undo")
    else:
        console.print(f"unknown command {escape(cmd)}; /help lists them")
