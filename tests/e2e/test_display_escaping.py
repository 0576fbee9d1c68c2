"""End-to-end: text that users and models write is printed literally by the CLI, never
read as Rich markup (which silently drops anything in square brackets)."""

from __future__ import annotations

import os
from pathlib import Path

from e2e_helpers import run_intern, store

from openintern.research.ledger import Ledger

COMMAND = 'python -c "import time,json;[print(i) for i in range(3)]"'


def test_runs_show_runs_and_sessions_print_brackets_literally(workspace: Path) -> None:
    Path(os.environ["OPENINTERN_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    s = store()
    info = s.create_session(task="tune [bold]lr[/bold] in [0.1, 1]", model="openai/x[1]",
                            workspace=str(workspace), headless=True)
    ledger = Ledger(s)
    exp = ledger.declare(session_id=info.id, name="lr[0.1]", command=COMMAND,
                         hypothesis="[red]faster[/red] with [warmup]", config={"lr": [0.1]})
    ledger.conclude(exp.id, "kept [x] for later")
    full_env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
    shown = run_intern("runs", "show", exp.id, env=full_env, cwd=workspace)
    assert shown.code == 0, shown.output
    assert COMMAND in shown.output
    assert "lr[0.1]" in shown.output and "[red]faster[/red] with [warmup]" in shown.output
    assert "kept [x] for later" in shown.output
    listing = run_intern("runs", env=full_env, cwd=workspace)
    assert "lr[0.1]" in listing.output
    sessions = run_intern("sessions", env=full_env, cwd=workspace)
    assert "tune [bold]lr[/bold] in [0.1, 1]" in sessions.output
    assert "openai/x[1]" in sessions.output
