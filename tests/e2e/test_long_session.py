"""End-to-end: a 300-iteration single-turn session through the CLI against a 32k window.
The scripted server refuses any request over the window, so finishing proves the
invariant held at every step."""

from __future__ import annotations

import os
from pathlib import Path

from e2e_helpers import intern_env, run_intern, store

from openintern.agent.longrun import LongRunResponder, write_fixture_files
from openintern.llm.scripted import ScriptedServer

ITERATIONS = int(os.environ.get("OPENINTERN_LONG_RUN_ITERATIONS", "300"))
WINDOW = 32_000


def test_300_iterations_in_one_turn_stay_inside_the_window(workspace: Path) -> None:
    write_fixture_files(workspace)
    with ScriptedServer(LongRunResponder(ITERATIONS), context_window=WINDOW) as server:
        env = intern_env(
            server.base_url,
            OPENINTERN_CONTEXT_WINDOW=str(WINDOW),
            OPENINTERN_MAX_ITERATIONS=str(ITERATIONS),
        )
        result = run_intern("read every log", env=env, cwd=workspace, timeout=600)
        requests = list(server.requests)
    assert result.code == 0, result.output[-3000:]
    from openintern.llm.tokens import estimate_request_tokens

    main_calls = [r for r in requests if r.get("tools")]
    assert len(main_calls) == ITERATIONS
    peak = max(estimate_request_tokens(r["messages"], r.get("tools")) for r in requests)
    assert peak <= WINDOW
    [session] = store().list_sessions()
    assert session.iterations == ITERATIONS and session.status == "idle"
    events = store().events_after(session.id)
    compactions = [e for e in events if e.type == "compaction"]
    assert compactions, "a 300 x 4 KB session must compact"
    last = main_calls[-1]["messages"]
    # The task survives every compaction (pinned block), and the latest step is verbatim.
    assert any("read every log" in str(m.get("content")) for m in last)
    assert last[-1]["role"] == "tool" and "epoch=" in last[-1]["content"]
