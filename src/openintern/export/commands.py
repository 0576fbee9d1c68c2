"""The ``intern export`` command (registered in cli.py; heavy imports happen inside)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def export_cmd(
    session: Annotated[str, typer.Argument(help="Session id (or a unique prefix, or 'last').")],
    fmt: Annotated[
        str,
        typer.Option("--format", "-f",
                     help="claude-code-jsonl, openai-messages (chat fine-tuning JSONL) or "
                          "parquet."),
    ] = "claude-code-jsonl",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o",
                     help="File to write (default: openintern-<session>.<ext>; - for stdout)."),
    ] = None,
    push_to_hub: Annotated[
        str | None,
        typer.Option("--push-to-hub", help="Also upload to this private Hub dataset "
                                           "(user/name), after you approve."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve the upload.")] = False,
) -> None:
    """Export a session's trace (redacted) as Claude Code JSONL, OpenAI messages or
    Parquet. Nothing is uploaded unless you ask with --push-to-hub and approve."""
    import sys

    from rich.console import Console

    from openintern.cli import _fail, _settings

    settings = _settings()
    from openintern.agent.session import open_store, system_prompt
    from openintern.export.formats import EXTENSIONS, FORMATS, load_trace, render, used_tool_specs
    from openintern.export.hub_push import ExportError, push_trace
    from openintern.secrets import Redactor
    from openintern.store import StoreError
    from openintern.tools.catalog import default_registry

    if fmt not in FORMATS:
        _fail(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    console = Console(stderr=True, highlight=False)
    store = open_store(settings)
    try:
        sid = store.resolve_session_id(session)
        trace = load_trace(store, sid, Redactor.from_environment(settings.secret_values()))
    except StoreError as exc:
        _fail(str(exc))
        return
    tools = used_tool_specs(trace, default_registry().specs())
    data = render(trace, fmt, system_prompt(), tools)  # type: ignore[arg-type]
    ext = EXTENSIONS[fmt]  # type: ignore[index]
    filename = f"openintern-{sid}.{ext}"
    if output is not None and str(output) == "-":
        if ext == "parquet":
            _fail("parquet is binary: give --output FILE")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        path = output or Path(filename)
        path.write_bytes(data)
        console.print(f"wrote {len(trace.messages)} messages of session {sid} to {path} "
                      f"({len(data):,} bytes, {fmt}, redacted)")
    if push_to_hub is None:
        return
    console.print(f"upload {filename} ({len(data):,} bytes, {len(trace.messages)} messages) to "
                  f"the private dataset {push_to_hub} on {settings.hf_endpoint}?")
    if not yes and not (sys.stdin.isatty() and typer.confirm("approve the upload?",
                                                            default=False, err=True)):
        console.print("not uploaded (no approval; --yes approves without asking)")
        raise typer.Exit(1)
    from openintern.accounting.session_accounts import recorded_gate
    from openintern.egress import EgressRefused, egress_purpose, gate_active

    try:
        # Recorded in the session's egress log, under the session's egress policy.
        with gate_active(recorded_gate(settings, store, sid)), egress_purpose(
                f"export push to {push_to_hub}", "upload", files=[filename]):
            url = push_trace(data, filename, push_to_hub, settings)
    except (ExportError, EgressRefused) as exc:
        _fail(str(exc))
        return
    console.print(f"uploaded: {url}")
