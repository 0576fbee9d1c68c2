"""Approvals through the real loop: approve, reject, approve with edited arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from openintern.agent.guards import ApprovalDecision
from openintern.agent.session import ResearchSession, SessionOptions
from openintern.config import Settings
from openintern.events import ApprovalRequested, ApprovalResolved, EventBase
from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer
from openintern.tools.base import Tool, ToolContext, ToolRegistry, ToolResult

# Every test here runs against SQLite and against PostgreSQL.
pytestmark = pytest.mark.usefixtures("store_url")


class LaunchParams(BaseModel):
    script: str = Field(description="The job script.")


class Launch(Tool[LaunchParams]):
    """Launch a (pretend) paid job running `script`."""

    name = "launch"
    needs_approval = True

    async def run(self, params: LaunchParams, ctx: ToolContext) -> ToolResult:
        (ctx.workspace / "launched.sh").write_text(params.script)
        return ToolResult(f"launched: {params.script}")


class Recording:
    def __init__(self, answer: bool | ApprovalDecision) -> None:
        self.answer = answer
        self.requests: list[ApprovalRequested] = []

    async def approve(self, request: ApprovalRequested) -> bool | ApprovalDecision:
        self.requests.append(request)
        return self.answer


LAUNCH_ONCE = [
    {"tool_calls": [{"name": "launch", "arguments": {"script": "python train.py --lr 10"}}]},
    {"text": "ok"},
]


async def _run(
    tmp_path: Path,
    approver: Recording,
    *,
    steps: list[dict[str, Any]] = LAUNCH_ONCE,
    tool: Tool[Any] | None = None,
    **settings: Any,
) -> tuple[list[str], list[EventBase], ResearchSession]:
    """Run one session whose scripted model calls ``launch``; returns the tool results
    the model saw last, the events, and the session."""
    events: list[EventBase] = []
    with ScriptedServer(Script.from_steps(steps)) as server:
        config = Settings(model="openai/scripted", api_base=server.base_url, api_key="x",  # type: ignore[arg-type]
                          workspace=tmp_path, sandbox="none", **settings)
        session = ResearchSession.create(
            config,
            "launch it",
            tools=ToolRegistry([tool or Launch()]),
            options=SessionOptions(headless=False, approver=approver),
        )
        session.bus.subscribe(events.append)
        await session.run("launch it")
        sent = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "tool"]
    return sent, events, session


async def test_rejected_action_does_not_run(tmp_path: Path) -> None:
    approver = Recording(False)
    sent, _, _ = await _run(tmp_path, approver)
    launched = tmp_path / "launched.sh"
    assert len(approver.requests) == 1 and approver.requests[0].arguments == {
        "script": "python train.py --lr 10"
    }
    assert not launched.exists()
    assert "did not approve" in sent[0]


async def test_approved_with_edited_script_runs_the_edit(tmp_path: Path) -> None:
    approver = Recording(ApprovalDecision(True, {"script": "python train.py --lr 0.1"}))
    sent, events, _ = await _run(tmp_path, approver)
    launched = tmp_path / "launched.sh"
    assert launched.read_text() == "python train.py --lr 0.1"
    assert "edited the arguments" in sent[0] and "--lr 0.1" in sent[0]
    [resolved] = [e for e in events if isinstance(e, ApprovalResolved)]
    assert resolved.approved and resolved.edited_arguments == {"script": "python train.py --lr 0.1"}


async def test_invalid_edit_is_a_rejection(tmp_path: Path) -> None:
    approver = Recording(ApprovalDecision(True, {"scrpt": "typo"}))
    sent, _, _ = await _run(tmp_path, approver)
    launched = tmp_path / "launched.sh"
    assert not launched.exists() and "did not approve" in sent[0]


class PricedLaunch(Launch):
    """Launch a (pretend) paid job costing $2."""

    name = "launch"

    async def cost_estimate_usd(self, params: LaunchParams, ctx: ToolContext) -> float | None:
        return 2.0


async def test_compute_budget_approves_within_it_then_asks(tmp_path: Path) -> None:
    steps = [
        {"tool_calls": [{"name": "launch", "arguments": {"script": f"job {i}"}}]} for i in range(3)
    ] + [{"text": "done"}]
    approver = Recording(False)
    sent, events, session = await _run(tmp_path, approver, steps=steps, tool=PricedLaunch(),
                                       compute_budget_usd=5.0)
    # $2 + $2 fit the $5 budget; the third ($6 in all) goes to the user, who says no.
    assert [s.startswith("launched") for s in sent] == [True, True, False]
    assert len(approver.requests) == 1 and approver.requests[0].cost_estimate_usd == 2.0
    by = [e.by for e in events if isinstance(e, ApprovalResolved)]
    assert by == ["compute budget", "compute budget", "Recording"]
    assert session.store.get_session(session.info.id).compute_spent_usd == 4.0
