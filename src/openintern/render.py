"""Terminal rendering of session events (Rich). The loop never prints; this does."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from openintern.events import (
    AssistantDelta,
    AssistantMessage,
    Compaction,
    ErrorEvent,
    EventBase,
    GuardTriggered,
    ModelCall,
    NoteSaved,
    PlanUpdated,
    Retrying,
    SessionStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnComplete,
)
from openintern.secrets import Redactor, StreamRedactor

_STATUS_MARK = {"pending": "○", "in_progress": "◐", "done": "●", "cancelled": "✕"}


def _short_args(name: str, args: dict[str, Any] | str, width: int = 90) -> str:
    if isinstance(args, str):
        text = args
    elif name == "plan" and isinstance(args.get("items"), list):
        items = args["items"]
        done = sum(1 for it in items if isinstance(it, dict) and it.get("status") == "done")
        text = f"{done}/{len(items)} done"
    elif name == "note" and "text" in args:
        text = "saved"
    elif "operation" in args:
        # Typed multi-operation tools: the operation and what it acts on, not every field.
        shown = [str(args["operation"])]
        for key in ("name", "query", "experiment_id", "sweep_id", "job_ids", "path",
                    "arxiv_id", "dataset", "repo", "url", "command"):
            value = args.get(key)
            if value:
                shown.append(", ".join(map(str, value)) if isinstance(value, list) else str(value))
                break
        text = " ".join(shown)
    elif name == "shell" and "command" in args:
        text = str(args["command"])
    elif name == "sweep" and isinstance(args.get("space"), dict):
        space = ", ".join(f"{k} ∈ {v}" for k, v in args["space"].items())
        text = f"{args.get('name', '')}: {space} × {args.get('seeds', 3)} seeds"
    elif "path" in args:
        text = str(args["path"])
    else:  # what was given: nulls and empty values say nothing
        text = json.dumps({k: v for k, v in args.items() if v not in (None, "", [], {})},
                          ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def tool_summary(name: str, arguments: dict[str, Any] | str) -> str:
    """The one-line description of a tool call that the terminal prints after the tool's
    name (``jobs`` → ``wait <ids>``); the web's tool cards show the same line."""
    return _short_args(name, arguments)


class TerminalRenderer:
    """Prints a session's events compactly: streamed text, one line per tool call."""

    def __init__(self, console: Console | None = None, *, show_deltas: bool = True,
                 redactor: Redactor | None = None) -> None:
        self.console = console or Console(highlight=False)
        self.show_deltas = show_deltas
        # Secrets never reach the screen (the one policy: openintern.secrets).
        self.redactor = redactor or Redactor.from_environment()
        self._stream = StreamRedactor(self.redactor)
        self._streaming = False
        self._started: dict[str, str] = {}

    def __call__(self, event: EventBase) -> None:
        """Render one event (an EventBus subscriber)."""
        c = self.console
        if isinstance(event, AssistantDelta):
            if self.show_deltas:
                c.print(escape(self._stream.feed(event.text)), end="", style="white",
                        soft_wrap=True)
                self._streaming = True
            return
        event = self.redactor.model(event)
        if self._streaming:
            c.print(escape(self._stream.flush()), style="white", soft_wrap=True)
            self._streaming = False
        if isinstance(event, SessionStarted):
            verb = "resuming" if event.resumed else "session"
            c.print(f"[dim]{verb} {event.session_id} · {escape(event.model)}[/dim]")
        elif isinstance(event, AssistantMessage):
            if not self.show_deltas and event.text.strip():
                c.print(escape(event.text.strip()))
        elif isinstance(event, ToolCallStarted):
            self._started[event.call_id] = _short_args(event.name, event.arguments)
        elif isinstance(event, ToolCallFinished):
            args = self._started.pop(event.call_id, "")
            mark = "[green]✓[/green]" if event.ok else "[red]✗[/red]"
            c.print(
                f"  {mark} [bold cyan]{escape(event.name)}[/bold cyan] {escape(args)} "
                f"[dim]{event.duration_s:.1f}s[/dim]"
            )
            if not event.ok:
                first = event.preview.strip().splitlines()[:3]
                for line in first:
                    c.print(f"      [red]{escape(line[:160])}[/red]")
            elif event.name == "shell":
                lines = [ln for ln in event.preview.strip().splitlines()[1:] if ln.strip()]
                for line in lines[-4:]:
                    c.print(f"      [dim]{escape(line[:160])}[/dim]")
            elif event.name in ("experiment", "sweep", "evaluate", "synthesize", "train"):
                # Results tables are what the user wants to see from these.
                for line in event.preview.strip().splitlines()[:10]:
                    c.print(f"      [dim]{escape(line[:160])}[/dim]")
        elif isinstance(event, PlanUpdated):
            for item in event.items:
                c.print(f"    {_STATUS_MARK[item.status]} {escape(item.text)}", style="magenta")
        elif isinstance(event, NoteSaved):
            c.print(f"  [yellow]✎ note {event.note_id}:[/yellow] {escape(event.text[:200])}")
        elif isinstance(event, Compaction):
            c.print(
                f"  [dim]⟳ context compacted ({event.method}): {event.tokens_before:,} → "
                f"{event.tokens_after:,} tokens[/dim]"
            )
        elif isinstance(event, Retrying):
            c.print(
                f"  [yellow]↻ {escape(event.reason)}; retry {event.attempt} in "
                f"{event.delay_s:.1f}s[/yellow]"
            )
        elif isinstance(event, GuardTriggered):
            c.print(f"  [yellow]⚠ {escape(event.guard)}: {escape(event.detail[:200])}[/yellow]")
        elif isinstance(event, ErrorEvent):
            c.print(f"[bold red]error:[/bold red] {escape(event.message)}")
        elif isinstance(event, ModelCall):
            pass  # shown in the turn summary and /cost
        elif isinstance(event, TurnComplete):
            label = {
                "finished": "done",
                "max_iterations": "stopped: iteration cap",
                "budget": "stopped: budget reached",
                "interrupted": "interrupted",
                "error": "stopped by an error",
                "malformed_reply": "stopped: the model kept sending empty replies",
                "store_error": "stopped: the store could not record the turn",
            }.get(event.reason, event.reason)
            c.print(
                f"[dim]── {label} · {event.iterations} model calls · "
                f"${event.total_cost_usd:.4f}[/dim]"
            )


def shorten(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` characters at a word boundary, with "…" when cut
    (a single word longer than ``width`` is cut inside it)."""
    import textwrap

    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = textwrap.shorten(text, width=width, placeholder="…")
    return cut if cut != "…" else text[: width - 1] + "…"


def sessions_table(rows: list[Any]) -> Table:
    """A table of sessions for ``intern sessions``."""
    import datetime as dt

    table = Table(title="Sessions", show_lines=False)
    for col in ("id", "updated", "status", "model", "iters", "cost", "task"):
        table.add_column(col, overflow="fold" if col == "task" else "ellipsis")
    for s in rows:
        when = dt.datetime.fromtimestamp(s.updated_at).strftime("%Y-%m-%d %H:%M")
        task = shorten(s.task.strip().splitlines()[0], 70) if s.task.strip() else ""
        # Text, not str: a task or model id with "[...]" is not Rich markup.
        table.add_row(
            s.id, when, s.status, Text(s.model), str(s.iterations),
            f"${s.total_cost_usd:.3f}", Text(task),
        )
    return table
