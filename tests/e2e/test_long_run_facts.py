"""End-to-end: facts saved in the first steps of a 300-step turn are still in the model's
context at step 290, after masking and summaries have replaced the steps that saved them.

The scripted model saves a note, a plan item and a best experiment before step 20, then
prints a 12 KB log at every step in a 32k window (the setting that summarised every third
step before the context was budgeted). At step 290 it looks for the facts in the request
it received and writes what it found to a file; the test checks that request too."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from e2e_helpers import intern_env, run_intern, store

from openintern.llm.script import ScriptedToolCall, Step
from openintern.llm.scripted import ScriptedServer, is_summary_request

STEPS = 300
USE_AT = 289  # call index of step 290
WINDOW = 32_000
NOTE = "best learning rate is 0.00317 (run r7, val_acc 0.912)"
PLAN_ITEM = "compare against baseline b-42"
EXPERIMENT = "lr-0.00317-cosine"


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return content or ""


class FactResponder:
    """Saves three facts, prints logs, uses the facts at step 290, then finishes."""

    def __init__(self) -> None:
        self.seen_at_use: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any], index: int) -> Step:
        """The reply to counted step ``index``."""
        messages = body["messages"]
        if index == 0:
            return self._call("note", text=NOTE, tags=["lr"])
        if index == 1:
            return self._call("plan", items=[{"text": PLAN_ITEM, "status": "in_progress"},
                                             {"text": "write the report"}])
        if index == 2:
            return self._call("experiment", operation="declare", name=EXPERIMENT,
                              hypothesis="cosine schedule helps", command="echo run")
        if index == 3:
            declared = re.search(r"Declared experiment (\S+) ", _text(messages[-1]))
            assert declared, "the declare result names the experiment"
            return self._call("experiment", operation="conclude", best=True,
                              experiment_id=declared.group(1), conclusion="best so far")
        if index == USE_AT:
            self.seen_at_use = messages
            context = "\n".join(_text(m) for m in messages)
            lr = re.search(r"best learning rate is ([0-9.]+)", context)
            baseline = re.search(r"baseline (b-\d+)", context)
            best = re.search(r"Marked best by conclusion: (\S+) \(([^)]+)\)", context)
            found = {"lr": lr.group(1) if lr else None,
                     "baseline": baseline.group(1) if baseline else None,
                     "best": best.group(2) if best else None}
            return self._call("write_file", path="facts.json", content=json.dumps(found))
        if index >= STEPS - 1:
            return Step(text="Done.")
        return self._call("shell", command=f"cat logs/out_{index % 20:02d}.log")

    @staticmethod
    def _call(tool: str, **arguments: Any) -> Step:
        return Step(tool_calls=[ScriptedToolCall(name=tool, arguments=arguments)])


def _write_logs(workspace: Path) -> None:
    logs = workspace / "logs"
    logs.mkdir()
    for f in range(20):
        line = f"run={f:02d} " + "step={:05d} loss={:.6f} acc=0.5\n"
        text = "".join(line.format(i, 1 / (i + 1)) for i in range(400))
        (logs / f"out_{f:02d}.log").write_text(text[:12_288])


def test_facts_saved_before_step_20_are_in_the_context_at_step_290(workspace: Path) -> None:
    _write_logs(workspace)
    responder = FactResponder()
    with ScriptedServer(responder, context_window=WINDOW) as server:
        env = intern_env(server.base_url, OPENINTERN_CONTEXT_WINDOW=str(WINDOW),
                         OPENINTERN_MAX_ITERATIONS=str(STEPS), OPENINTERN_SANDBOX="none")
        result = run_intern("tune the learning rate", env=env, cwd=workspace, timeout=900)
        requests = list(server.requests)
    assert result.code == 0, result.output[-3000:]
    [session] = store().list_sessions()
    assert session.iterations == STEPS and session.status == "idle"
    # The steps that saved the facts are gone from the transcript: summarised.
    summaries = [r for r in requests if is_summary_request(r["messages"])]
    assert summaries, "a 300 x 12 KB turn in a 32k window must summarise"
    seen = responder.seen_at_use
    calls = [c["function"]["name"] for m in seen for c in m.get("tool_calls") or []]
    assert "note" not in calls and "plan" not in calls
    # ... and the facts are in the request of step 290 (the pinned research state).
    pinned = _text(seen[1])
    assert NOTE in pinned and PLAN_ITEM in pinned and EXPERIMENT in pinned
    assert json.loads((workspace / "facts.json").read_text()) == {
        "lr": "0.00317", "baseline": "b-42", "best": EXPERIMENT}
    # Summaries are rare: at most one per 25 steps.
    assert len(summaries) <= STEPS // 25
