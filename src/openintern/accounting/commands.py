"""``intern cost`` and ``intern egress``. Only typer is imported at module level, so
``intern --help`` stays instant; the work is imported inside the commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from openintern.store import Store

SessionArg = Annotated[
    str, typer.Argument(help="Session id (or a unique prefix, or 'last').")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _open(session: str) -> tuple[Store, str]:
    from openintern.agent.session import open_store
    from openintern.config import Settings
    from openintern.store import StoreError

    store = open_store(Settings())
    try:
        return store, store.resolve_session_id(session)
    except StoreError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/bold red] {exc}")
        raise typer.Exit(2) from None


def cost_command(
    session: SessionArg = "last",
    png: Annotated[
        Path | None, typer.Option("--png", help="Also plot spend over time to this PNG.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """What a session cost: model calls, summaries, sub-agents and compute by backend
    (tokens, GPU-hours, dollars), per job and per configuration."""
    import json

    from rich.console import Console

    from openintern.accounting.report import (
        cost_summary,
        cost_tables,
        requirements_text,
        spend_plot,
    )
    store, sid = _open(session)
    summary = cost_summary(store, sid)
    console = Console()
    if json_out:
        print(json.dumps(summary.to_json(), indent=1, default=str))
    else:
        console.print(cost_tables(summary))
        console.print(requirements_text(store, sid))
    if png is not None:
        console.print(spend_plot(summary, png))


def egress_command(
    session: SessionArg = "last",
    every: Annotated[bool, typer.Option("--all", help="List every request.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """What left the machine in a session: every request's destination, purpose, bytes
    and content (prompt characters by file and tool output, packed job files), and what
    the egress policy refused."""
    import json

    from rich.console import Console

    from openintern.accounting.egress_log import egress_entries
    from openintern.accounting.report import egress_summary, egress_tables, root_of
    store, sid = _open(session)
    if json_out:
        print(json.dumps(egress_summary(store, sid), indent=1, default=str))
        return
    entries = egress_entries(store, root_of(store, sid))
    console = Console()
    if not entries:
        console.print(f"No request is recorded for session {sid} (it made none, or it ran "
                      "before OpenIntern kept an egress log).")
        return
    console.print(egress_tables(entries, every=every))
