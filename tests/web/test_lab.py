"""Experiment pages (per-config mean ± CI, lineage, logs of a real local job, compare),
the session report, and users who cannot see each other's sessions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from web_support import TOKEN, web_settings

from openintern.agent.session import open_store
from openintern.compute.base import JobSpec
from openintern.compute.local import LocalBackend
from openintern.compute.metrics import MetricPoint
from openintern.research.ledger import Ledger
from openintern.sandbox import make_sandbox
from openintern.store import Store
from openintern.web.app import create_app

# Every test here runs against SQLite and against PostgreSQL.
pytestmark = pytest.mark.usefixtures("store_url")

Lab = tuple[httpx.AsyncClient, Store, str, dict[str, str]]


def client(app: object, token: str = TOKEN) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                             base_url="http://127.0.0.1",
                             headers={"Authorization": f"Bearer {token}"})


def seeded(store: Store, workspace: Path) -> tuple[str, dict[str, str]]:
    """A session with two configurations (3 and 1 seeds) and a child run."""
    info = store.create_session(task="tune lr", model="openai/scripted",
                                workspace=str(workspace), headless=False, config={})
    ledger = Ledger(store)
    ids: dict[str, str] = {}
    now = time.time()
    for lr, seed, acc in [(0.1, 0, 0.90), (0.1, 1, 0.92), (0.1, 2, 0.94), (0.01, 0, 0.81)]:
        exp = ledger.declare(session_id=info.id, name=f"lr{lr}-s{seed}", command="python t.py",
                             config={"lr": lr, "seed": seed}, seed=seed, primary_metric="acc",
                             parent_id=ids.get("lr0.1-s0") if lr == 0.01 else None)
        ledger.add_points(exp.id, [MetricPoint(0, "acc", 0.5, now),
                                   MetricPoint(1, "acc", acc, now)], {})
        ledger.set_status(exp.id, "succeeded")
        ids[exp.name] = exp.id
    return info.id, ids


@pytest.fixture
async def lab(workspace: Path) -> AsyncIterator[Lab]:
    settings = web_settings("http://127.0.0.1:9", workspace)
    store = open_store(settings)
    sid, ids = seeded(store, workspace)
    async with client(create_app(settings, TOKEN, store=store)) as c:
        yield c, store, sid, ids


async def test_experiments_page_shows_mean_ci_per_config_and_lineage(
        lab: Lab) -> None:
    c, _store, sid, ids = lab
    page = (await c.get(f"/experiments?session={sid}")).text
    # Three seeds of lr=0.1: mean 0.92, t(0.975, 2)=4.303 * 0.02/sqrt(3) = 0.0497
    assert "0.92</strong> ± 0.05" in page
    assert "[0.8703, 0.9697]" in page
    assert "single seed" in page  # lr=0.01 ran once: no interval claimed
    assert page.index("0.92</strong>") < page.index("0.81</strong>")  # best config first
    tree = page[page.index('<ul class="tree">'):]
    parent, child = tree.index(f'/experiments/{ids["lr0.1-s0"]}"'), tree.index(
        f'/experiments/{ids["lr0.01-s0"]}"')
    assert parent < child and "<ul class=\"tree\">" in tree[parent:child]  # nested under it


async def test_compare_and_experiment_pages(
        lab: Lab) -> None:
    c, _store, _sid, ids = lab
    a, b = ids["lr0.1-s0"], ids["lr0.01-s0"]
    page = (await c.get(f"/experiments/compare?a={a}&b={b}")).text
    row = page[page.index("config · lr"):]
    assert row.index("0.1") < row.index("0.01") and 'class="differs"' in page
    assert (await c.get(f"/experiments/compare?a={a}&b=nope")).status_code == 404
    assert (await c.get("/experiments/compare?a=" + a)).status_code == 422
    detail = (await c.get(f"/experiments/{b}")).text
    assert "derived from" in detail and "lr0.1-s0" in detail
    logs = (await c.get(f"/api/experiments/{b}/logs")).json()
    assert "never submitted" in logs["text"]
    assert (await c.get("/api/experiments/zzz/logs")).status_code == 404


async def test_logs_of_a_real_local_job(workspace: Path) -> None:
    settings = web_settings("http://127.0.0.1:9", workspace)
    store = open_store(settings)
    info = store.create_session(task="t", model="m", workspace=str(workspace), headless=False,
                                config={})
    backend = LocalBackend(workspace, make_sandbox(settings, workspace), max_cpu_jobs=1)
    job = await backend.submit(JobSpec(command="for i in 1 2 3; do echo line $i; done",
                                       workdir=workspace))
    ledger = Ledger(store)
    exp = ledger.declare(session_id=info.id, name="echo", command="echo")
    ledger.mark_submitted(exp.id, backend="local", job_id=job, code_hash=None,
                          snapshot_path=None, snapshot_files=[], data_fingerprint={})
    deadline = time.monotonic() + 20
    while (await backend.status(job)).state not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, "the local job did not finish"
        await asyncio.sleep(0.1)
    async with client(create_app(settings, TOKEN, store=store)) as c:
        text = (await c.get(f"/api/experiments/{exp.id}/logs")).json()["text"]
    assert text.splitlines()[-3:] == ["line 1", "line 2", "line 3"]


async def test_report_links_numbers_to_runs_and_list_shows_best(
        lab: Lab) -> None:
    c, store, sid, ids = lab
    from openintern.llm.types import Message

    store.add_message(sid, Message(role="user", content="tune lr"))
    store.add_message(sid, Message(role="assistant", content=(
        "lr=0.1 reaches 0.94 at best (94.0% on seed 2); lr=0.01 only 0.81. <b>Done</b> "
        "after 2 epochs; 0.123 is unrelated.")))
    page = (await c.get(f"/sessions/{sid}/report")).text
    best = ids["lr0.1-s2"]
    assert (f'<a href="/experiments/{best}" class="metric-link" title="lr0.1-s2: acc">0.94</a>'
            in page)
    assert '="metric-link" title="lr0.1-s2: acc">94.0%</a>' in page
    assert f'<a href="/experiments/{ids["lr0.01-s0"]}" class="metric-link"' in page
    assert ">0.123<" not in page and "0.123 is unrelated" in page
    assert "&lt;b&gt;Done&lt;/b&gt;" in page  # the model's text is escaped
    listing = (await c.get("/")).text
    assert f'<a href="/experiments/{ids["lr0.1-s2"]}">acc = 0.94</a>' in listing


async def test_users_see_only_their_own_sessions(workspace: Path) -> None:
    settings = web_settings("http://127.0.0.1:9", workspace)
    store = open_store(settings)
    sid, ids = seeded(store, workspace)  # started by the server's own token holder
    store.update_session(sid, config={"owner": "alice"})
    app = create_app(settings, TOKEN, store=store, users={"tok-alice": "alice", "tok-bob": "bob"})
    async with client(app, "tok-alice") as alice, client(app, "tok-bob") as bob, \
            client(app) as owner, client(app, "tok-mallory") as mallory:
        assert (await mallory.get("/api/sessions")).status_code == 401
        assert [s["id"] for s in (await alice.get("/api/sessions")).json()] == [sid]
        assert [s["id"] for s in (await owner.get("/api/sessions")).json()] == [sid]
        assert (await bob.get("/api/sessions")).json() == []
        for path in [f"/api/sessions/{sid}", f"/sessions/{sid}", f"/sessions/{sid}/report",
                     f"/api/sessions/{sid}/events", f"/experiments/{ids['lr0.1-s0']}",
                     f"/api/experiments/{ids['lr0.1-s0']}/metrics"]:
            assert (await bob.get(path)).status_code == 404, path
        for path in ["messages", "interrupt", "undo", "budget"]:
            r = await bob.post(f"/api/sessions/{sid}/{path}", json={"text": "x", "budget_usd": 1})
            assert r.status_code in (404, 422), (path, r.status_code)
        assert (await bob.get("/api/experiments")).json() == []
        assert len((await alice.get("/api/experiments")).json()) == 4
        assert sid not in (await bob.get("/")).text and sid in (await alice.get("/")).text
        assert (await alice.get(f"/sessions/{sid}/report")).status_code == 200
        # A user's first visit with ?token= sets their own token as the cookie.
        first = await httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://127.0.0.1").get("/?token=tok-bob")
        assert first.status_code == 303 and "openintern_token=tok-bob" in first.headers[
            "set-cookie"]
