"""The ``intern mcp`` command (registered in cli.py; heavy imports happen inside)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def mcp_cmd(
    session: Annotated[
        str | None,
        typer.Option("--session", "-s",
                     help="Serve inside this recorded session (id, prefix or 'last'); "
                          "default: a new one."),
    ] = None,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Directory jobs run in (default: current)."),
    ] = None,
    sandbox: Annotated[
        str | None, typer.Option("--sandbox", help="bwrap (default) or none (no isolation).")
    ] = None,
    network: Annotated[
        bool | None, typer.Option("--network/--no-network", help="Network inside the sandbox.")
    ] = None,
    compute_budget: Annotated[
        float | None,
        typer.Option("--compute-budget",
                     help="Dollars of paid compute (HF Jobs) launched without asking."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve every action.")] = False,
) -> None:
    """Serve OpenIntern's research tools over MCP (stdio) for Claude Code, Codex, Cursor:
    papers and citations, datasets, the Hub, jobs, the experiment ledger."""
    import asyncio
    import sys

    from openintern.cli import _fail, _settings

    try:
        import mcp  # noqa: F401
    except ImportError:
        _fail("`intern mcp` needs the MCP SDK: pip install 'openintern[integrations]'")
        return
    settings = _settings(workspace=workspace, sandbox=sandbox, sandbox_network=network,
                         compute_budget_usd=compute_budget, auto_approve=yes)
    from openintern.mcp.server import serve_stdio
    from openintern.sandbox.base import SandboxError
    from openintern.store import StoreError

    # stdout carries the protocol; everything for people goes to stderr.
    print("OpenIntern MCP server on stdio (Ctrl+C to stop)", file=sys.stderr, flush=True)
    try:
        asyncio.run(serve_stdio(settings, session))
    except (SandboxError, StoreError, ValueError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        pass
