"""Compute in the cost ledger: a launch's forecast and, once the job ends, its actual cost
from the measured duration × the hardware's price (HF Jobs against the local Jobs API
stand-in; local jobs at the user's price per job-hour), written on the experiment; a
second run of the same script is forecast from the first. A real ResearchSession with
the scripted model over HTTP drives the tools."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hf_fixture import HfJobsFixture, HfJobsServer
from test_hf_tool_approval import A10G_PER_MINUTE, TOKEN, RecordingApprover

from openintern.accounting.cost_ledger import CostLedger
from openintern.accounting.report import cost_summary
from openintern.agent.session import ResearchSession, SessionOptions
from openintern.config import ComputePrice, Settings
from openintern.llm.script import Step
from openintern.llm.scripted import ScriptedServer
from openintern.research.ledger import Ledger
from openintern.store import Store
from openintern.tools.base import ToolRegistry
from openintern.tools.experiment import Experiment
from openintern.tools.jobs import Jobs


@pytest.fixture
def hf() -> Iterator[HfJobsServer]:
    fixture = HfJobsFixture()
    fixture.hardware = [*fixture.hardware, {
        **fixture.hardware[0], "name": "a10g-small", "unitCostUSD": A10G_PER_MINUTE,
        "unitCostMicroUSD": int(A10G_PER_MINUTE * 1_000_000), "unitLabel": "minute"}]
    srv = HfJobsServer(fixture).start()
    yield srv
    srv.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def run_and_wait(backend: str, **hardware: Any) -> Any:
    """A responder: run the experiment, wait for its job, then finish."""
    def respond(body: dict[str, Any], index: int) -> Step | None:
        last = body["messages"][-1].get("content") or ""
        if index == 0:
            return Step.model_validate({"tool_calls": [{"name": "experiment", "arguments": {
                "operation": "run", "name": "digits", "command": "python train.py --lr 0.1",
                "config": {"lr": 0.1}, "backend": backend, **hardware}}]})
        if index == 1:
            job = re.search(r"job (\S+) \(code", last)
            return Step.model_validate({"tool_calls": [{"name": "jobs", "arguments": {
                "operation": "wait", "backend": backend, "wait_timeout_s": 60,
                "job_ids": [job.group(1) if job else "?"]}}]})
        return Step(text="Done.") if index == 2 else None
    return respond


async def one_session(settings: Settings, store: Store, approver: Any, backend: str,
                      **hardware: Any) -> str:
    from openintern.llm.client import LiteLLMClient

    with ScriptedServer(run_and_wait(backend, **hardware)) as model:
        llm = LiteLLMClient("openai/scripted", api_base=model.base_url, api_key="x",
                            max_retries=0, context_window_override=64_000)
        session = ResearchSession.create(settings, "train", store=store,
                                         options=SessionOptions(approver=approver), llm=llm,
                                         tools=ToolRegistry([Jobs(), Experiment()]))
        turn = await session.run("Train it.")
    assert turn.reason == "finished", turn
    return session.info.id


async def test_hf_job_actual_cost_from_its_duration_and_the_flavor_price(
    tmp_path: Path, hf: HfJobsServer, store: Store,
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "train.py").write_text("print('{\"step\": 1, \"loss\": 0.5}')\n")
    settings = Settings(workspace=ws, sandbox="none", model="openai/scripted",
                        context_window=64_000, hf_endpoint=hf.url, hf_token=TOKEN)
    hardware = {"flavor": "a10g-small", "timeout_s": 1800}
    first = RecordingApprover(True)
    sid = await one_session(settings, store, first, "hf", **hardware)
    # The approval showed hardware × limit: 30 minutes of a10g-small at $0.02/min.
    [asked] = first.requests
    assert asked.cost_estimate_usd == pytest.approx(0.60)
    assert "at most $0.60" in asked.forecast and "a10g-small at $1.20/h" in asked.forecast
    [entry] = CostLedger(store).entries(sid, kind="compute")
    # The fixture's job ran from 10:00:06 to 10:03:06: 3 billed minutes.
    assert entry.status == "actual" and entry.backend == "hf"
    assert entry.forecast_usd == pytest.approx(0.60)
    assert entry.cost_usd == pytest.approx(0.06)
    assert entry.gpu_hours == pytest.approx(180 / 3600)
    exp = Ledger(store).get(entry.experiment_id)
    assert exp.cost_usd == pytest.approx(0.06) and exp.status == "succeeded"
    assert store.get_session(sid).total_cost_usd == pytest.approx(0.06)

    # The same script again: the approval now also says what the last run cost.
    second = RecordingApprover(True)
    sid2 = await one_session(settings, store, second, "hf", **hardware)
    [asked] = second.requests
    assert "about $0.06 expected from 1 earlier run of `python train.py` (180 s" in asked.forecast
    summary = cost_summary(store, sid2)
    by_category = {r.category: r for r in summary.rows}
    assert by_category["compute:hf"].usd == pytest.approx(0.06)
    [job] = summary.jobs
    assert job.expected_usd == pytest.approx(0.06) and job.actual_usd == pytest.approx(0.06)
    assert summary.configurations[0]["runs"] == 1


async def test_local_job_hours_at_the_users_price(tmp_path: Path, store: Store) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "train.py").write_text("import time; time.sleep(1.5); print('{\"step\": 1}')\n")
    settings = Settings(workspace=ws, sandbox="none", model="openai/scripted",
                        context_window=64_000,
                        compute_prices={"local": ComputePrice(cpu_hour_usd=36.0)})
    sid = await one_session(settings, store, RecordingApprover(True), "local")
    [entry] = CostLedger(store).entries(sid, kind="compute")
    seconds = entry.detail["duration_s"]
    assert seconds >= 1.5 and entry.status == "actual"
    assert entry.cpu_hours == pytest.approx(seconds / 3600, rel=1e-3) and entry.gpu_hours == 0
    assert entry.cost_usd == pytest.approx(36.0 * seconds / 3600, rel=1e-3)
    assert Ledger(store).get(entry.experiment_id).cost_usd == pytest.approx(entry.cost_usd)
