"""Launching on Hugging Face Jobs from the tools: approval with the backend's cost estimate.

A real ResearchSession (scripted model over HTTP, real store, ledger and loop) calls the
jobs / experiment / sweep tools; the HF backend talks to the local Jobs API stand-in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hf_fixture import HfJobsFixture, HfJobsServer

from openintern.agent.guards import AutoApprover, DenyingApprover
from openintern.agent.session import ResearchSession, SessionOptions
from openintern.config import Settings
from openintern.events import ApprovalRequested, ApprovalResolved, EventBase, JobUpdate
from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer
from openintern.store import Store
from openintern.tools.base import ToolRegistry
from openintern.tools.experiment import Experiment, Sweep
from openintern.tools.jobs import Jobs

TOKEN = "hf_fixtureTokenAbcdefghijklmnop0123"
WANDB = "wandb-secret-value-0123456789"
# A live price for a10g-small that differs from the documented table ($1/h), so the
# estimate provably comes from the service's hardware list: $0.02/min = $1.20/h.
A10G_PER_MINUTE = 0.02


class RecordingApprover:
    """Records every request and answers with ``answer``."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.requests: list[ApprovalRequested] = []

    async def approve(self, request: ApprovalRequested) -> bool:
        self.requests.append(request)
        return self.answer


@pytest.fixture
def server() -> Iterator[HfJobsServer]:
    fixture = HfJobsFixture()
    fixture.hardware = [*fixture.hardware, {
        **fixture.hardware[0], "name": "a10g-small", "unitCostUSD": A10G_PER_MINUTE,
        "unitCostMicroUSD": int(A10G_PER_MINUTE * 1_000_000), "unitLabel": "minute"}]
    srv = HfJobsServer(fixture).start()
    yield srv
    srv.stop()


@pytest.fixture
def settings(tmp_path: Path, server: HfJobsServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("WANDB_API_KEY", WANDB)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "train.py").write_text("print('{\"step\": 1, \"loss\": 0.5}')\n")
    return Settings(workspace=ws, sandbox="none", model="openai/scripted",
                    context_window=64_000, hf_endpoint=server.url, hf_token=TOKEN,
                    job_secrets=["WANDB_API_KEY"])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def hourly(server: HfJobsServer, flavor: str) -> float:
    """The flavor's hourly price in the fixture's hardware list."""
    entry = next(e for e in server.fixture.hardware if e["name"] == flavor)
    assert entry["unitLabel"] == "minute"
    return float(entry["unitCostUSD"]) * 60


def launches(server: HfJobsServer) -> list[dict[str, Any]]:
    """Bodies of the job-creation requests the fixture received."""
    return [r.body for r in server.fixture.requests
            if r.method == "POST" and r.path == "/api/jobs/alice"]


async def run_call(settings: Settings, store: Store, approver: Any, name: str,
                   arguments: dict[str, Any]) -> tuple[list[EventBase], list[str], str]:
    """One session turn in which the model makes one tool call; returns the events, the
    tool results the model received, and the session id."""
    from openintern.llm.client import LiteLLMClient

    script = Script.from_steps([
        {"tool_calls": [{"name": name, "arguments": arguments}]},
        {"text": "Done."},
    ])
    with ScriptedServer(script) as model:
        llm = LiteLLMClient("openai/scripted", api_base=model.base_url, api_key="x",
                            max_retries=0, context_window_override=64_000)
        info = store.create_session(task="train on HF", model=settings.model,
                                    workspace=str(settings.workspace), headless=True)
        session = ResearchSession(settings, store, info,
                                  options=SessionOptions(approver=approver), llm=llm,
                                  tools=ToolRegistry([Jobs(), Experiment(), Sweep()]))
        events: list[EventBase] = []
        session.bus.subscribe(events.append)
        turn = await session.run("Train it.")
    assert turn.reason == "finished"
    tool_texts = [m.content for m in store.load_messages(info.id) if m.role == "tool"]
    return events, tool_texts, info.id


def approvals(events: list[EventBase]) -> list[ApprovalRequested]:
    return [e for e in events if isinstance(e, ApprovalRequested)]


HF_JOB = {"backend": "hf", "flavor": "a10g-small", "timeout_s": 1800,
          "secrets": ["WANDB_API_KEY"], "pip": ["scikit-learn"], "image": "python:3.11"}


@pytest.mark.parametrize("name, arguments", [
    ("jobs", {"operation": "submit", "command": "python train.py", "name": "digits", **HF_JOB}),
    ("experiment", {"operation": "run", "command": "python train.py", "name": "digits",
                    "hypothesis": "it trains", "primary_metric": "loss", **HF_JOB}),
])
async def test_approved_launch_shows_the_cost_and_sends_flavor_and_secrets(
    settings: Settings, store: Store, server: HfJobsServer, name: str,
    arguments: dict[str, Any],
) -> None:
    approver = RecordingApprover(answer=True)
    events, tool_texts, session_id = await run_call(settings, store, approver, name,
                                                    arguments)

    (request,) = approvals(events)
    assert approver.requests == [request]
    assert request.name == name
    assert request.reason == ("launching 1 Hugging Face Job on a10g-small costs money; "
                              "hands the secret(s) WANDB_API_KEY to the job's code")
    assert request.forwards_secrets == ["WANDB_API_KEY"]
    # Live hourly price × the time limit in hours (0.5 h): $0.60, not the table's $0.50.
    assert request.cost_estimate_usd == pytest.approx(hourly(server, "a10g-small") * 0.5)
    assert request.arguments["secrets"] == ["WANDB_API_KEY"]

    (sent,) = launches(server)
    assert sent["flavor"] == "a10g-small"
    assert sent["timeoutSeconds"] == 1800
    assert sent["dockerImage"] == "python:3.11"
    assert sent["secrets"] == {"WANDB_API_KEY": WANDB}
    assert WANDB not in json.dumps(sent["environment"]) + json.dumps(sent["command"])
    assert "pip install --quiet scikit-learn" in sent["command"][2]
    assert "alice/" in tool_texts[0] and not tool_texts[0].startswith("ERROR")

    # The secret's value is in no event (as emitted, before the store's redaction) and in
    # nothing the model received.
    emitted = json.dumps([e.model_dump(mode="json") for e in events])
    assert len(store.events_after(session_id)) > 0
    assert WANDB not in emitted and WANDB not in " ".join(tool_texts)


async def test_denied_launch_reaches_no_job_endpoint_and_tells_the_model(
    settings: Settings, store: Store, server: HfJobsServer
) -> None:
    events, tool_texts, _ = await run_call(
        settings, store, DenyingApprover(), "jobs",
        {"operation": "submit", "command": "python train.py", **HF_JOB, "secrets": []})
    (request,) = approvals(events)
    assert request.cost_estimate_usd == pytest.approx(hourly(server, "a10g-small") * 0.5)
    assert launches(server) == [] and server.fixture.jobs == {}
    (text,) = tool_texts
    assert text.startswith("ERROR")
    assert "launching 1 Hugging Face Job on a10g-small costs money" in text
    assert "--yes" in text


async def test_sweep_on_hf_asks_once_for_the_total_of_all_runs(
    settings: Settings, store: Store, server: HfJobsServer
) -> None:
    approver = RecordingApprover(answer=True)
    events, tool_texts, _ = await run_call(settings, store, approver, "sweep", {
        "name": "lr sweep", "command": "python train.py --lr {lr} --seed {seed}",
        "space": {"lr": [0.1, 0.01]}, "seeds": 2, "primary_metric": "loss", **HF_JOB})

    (request,) = approvals(events)
    assert request.reason == ("launching 4 Hugging Face Jobs on a10g-small costs money; "
                              "hands the secret(s) WANDB_API_KEY to the job's code")
    assert request.cost_estimate_usd == pytest.approx(4 * hourly(server, "a10g-small") * 0.5)
    sent = launches(server)
    assert len(sent) == 4
    assert {s["flavor"] for s in sent} == {"a10g-small"}
    assert all(s["secrets"] == {"WANDB_API_KEY": WANDB} for s in sent)
    assert "4 runs on hf" in tool_texts[0]


async def test_unknown_flavor_is_approved_without_an_estimate_and_says_so(
    settings: Settings, store: Store, server: HfJobsServer
) -> None:
    approver = RecordingApprover(answer=False)
    events, tool_texts, _ = await run_call(settings, store, approver, "experiment", {
        "operation": "run", "command": "python train.py", **HF_JOB,
        "flavor": "quantum-x1"})
    (request,) = approvals(events)
    assert request.cost_estimate_usd is None
    assert request.reason.startswith("launching 1 Hugging Face Job on quantum-x1 costs money")
    assert "cost is unknown" in request.reason
    assert launches(server) == []
    assert tool_texts[0].startswith("ERROR")


async def test_gpus_without_a_flavor_fail_before_asking(
    settings: Settings, store: Store, server: HfJobsServer
) -> None:
    approver = RecordingApprover(answer=True)
    events, tool_texts, _ = await run_call(settings, store, approver, "jobs", {
        "operation": "submit", "command": "python train.py", "backend": "hf", "gpus": 1})
    assert approvals(events) == [] and approver.requests == []
    assert launches(server) == []
    assert "flavor" in tool_texts[0] and tool_texts[0].startswith("ERROR")


async def test_local_submit_needs_no_approval(
    settings: Settings, store: Store, server: HfJobsServer
) -> None:
    approver = RecordingApprover(answer=False)
    events, tool_texts, _ = await run_call(settings, store, approver, "jobs", {
        "operation": "submit", "command": "echo hello", "backend": "local",
        "flavor": "a10g-small"})
    assert approvals(events) == [] and approver.requests == []
    assert tool_texts[0].startswith("Submitted job") and "on local" in tool_texts[0]
    assert server.fixture.requests == []


# --- secrets: the user's allowlist, and a person's approval every time -------------------


async def test_a_model_chosen_secret_outside_the_allowlist_is_refused(
    settings: Settings, store: Store, server: HfJobsServer
) -> None:
    approver = RecordingApprover(answer=True)
    events, tool_texts, _ = await run_call(settings, store, approver, "jobs", {
        "operation": "submit", "command": "env", "backend": "local",
        "secrets": ["ANTHROPIC_API_KEY"]})
    assert approvals(events) == [] and approver.requests == []
    (text,) = tool_texts
    assert text.startswith("ERROR") and "ANTHROPIC_API_KEY" in text
    assert "job_secrets" in text and "OPENINTERN_JOB_SECRETS" in text  # how to allow it
    assert not any(isinstance(e, JobUpdate) for e in events)  # nothing was submitted


async def test_the_compute_budget_never_approves_forwarding_a_secret(
    settings: Settings, store: Store, server: HfJobsServer
) -> None:
    rich = settings.model_copy(update={"compute_budget_usd": 100.0})
    approver = RecordingApprover(answer=False)
    events, _, _ = await run_call(rich, store, approver, "jobs", {
        "operation": "submit", "command": "python train.py", **HF_JOB})
    (request,) = approvals(events)
    assert request.cost_estimate_usd is not None and request.cost_estimate_usd < 100
    assert approver.requests == [request]  # asked a person despite the budget
    assert [e.by for e in events if isinstance(e, ApprovalResolved)] == ["RecordingApprover"]
    assert launches(server) == []
    # Without the secret the same launch fits the budget and needs nobody.
    approver = RecordingApprover(answer=False)
    events, _, _ = await run_call(rich, store, approver, "jobs", {
        "operation": "submit", "command": "python train.py", **HF_JOB, "secrets": []})
    assert approver.requests == []
    assert [e.by for e in events if isinstance(e, ApprovalResolved)] == ["compute budget"]


async def test_yes_does_not_approve_forwarding_a_secret_even_to_a_local_job(
    settings: Settings, store: Store, server: HfJobsServer
) -> None:
    events, tool_texts, _ = await run_call(settings, store, AutoApprover(), "jobs", {
        "operation": "submit", "command": "echo $WANDB_API_KEY", "backend": "local",
        "secrets": ["WANDB_API_KEY"]})
    (request,) = approvals(events)
    assert request.forwards_secrets == ["WANDB_API_KEY"]
    (text,) = tool_texts
    assert text.startswith("ERROR") and "only a person may approve" in text
    assert not any(isinstance(e, JobUpdate) for e in events)
