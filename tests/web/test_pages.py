"""Pages render from the store, escape what the model or user wrote, and the
experiments API serves metric series for charts."""

from __future__ import annotations

import math
import time
from pathlib import Path

import httpx
from web_support import TOKEN, web_settings

from openintern.agent.session import open_store
from openintern.compute.metrics import MetricPoint
from openintern.research.ledger import Ledger
from openintern.web.app import create_app


async def test_pages_and_experiment_metrics(workspace: Path) -> None:
    settings = web_settings("http://127.0.0.1:9", workspace)
    store = open_store(settings)
    info = store.create_session(task="<script>alert(1)</script> tune lr", model="openai/scripted",
                                workspace=str(workspace), headless=False, config={})
    ledger = Ledger(store)
    exp = ledger.declare(session_id=info.id, name="lr-0.1", command="python train.py",
                         config={"lr": 0.1}, primary_metric="loss")
    now = time.time()
    ledger.add_points(exp.id, [MetricPoint(s, "loss", v, now) for s, v in
                               [(0, 2.0), (1, 1.2), (2, math.nan)]], {})
    app = create_app(settings, TOKEN, store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        index = await client.get("/")
        assert index.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt; tune lr" in index.text
        assert "<script>alert(1)" not in index.text
        assert '<label for="goal">' in index.text
        page = await client.get(f"/sessions/{info.id}")
        assert page.status_code == 200 and f'data-session="{info.id}"' in page.text
        assert (await client.get("/sessions/nope")).status_code == 404
        experiments = await client.get("/experiments", params={"session": info.id})
        assert experiments.status_code == 200 and "lr-0.1" in experiments.text
        rows = (await client.get("/api/experiments", params={"session": info.id})).json()
        assert [r["id"] for r in rows] == [exp.id]
        # The latest loss is NaN (sent as null, not a broken JSON); the best is kept.
        assert rows[0]["final_metrics"] == {"loss": None}
        assert rows[0]["best_metrics"] == {"loss": 1.2}
        series = (await client.get(f"/api/experiments/{exp.id}/metrics")).json()["series"]
        assert series == {"loss": [{"step": 0, "value": 2.0}, {"step": 1, "value": 1.2},
                                   {"step": 2, "value": None}]}
        for asset in ("app.css", "session.js", "experiments.js", "index.js"):
            assert (await client.get(f"/static/{asset}")).status_code == 200
