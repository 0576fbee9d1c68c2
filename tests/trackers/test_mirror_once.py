"""The mirror writes each finished experiment once: a resumed session (a new mirror over
the same ledger) adds only what finished meanwhile, and unfinished runs wait."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from openintern.compute.metrics import MetricPoint
from openintern.config import Settings
from openintern.events import SessionStarted, TurnComplete
from openintern.research.ledger import Ledger
from openintern.store import Store
from openintern.trackers.mirror import TrackerMirror

pytest.importorskip("mlflow")


def _finished(ledger: Ledger, sid: str, name: str, status: str = "succeeded") -> str:
    exp = ledger.declare(session_id=sid, name=name, command="python t.py",
                         config={"lr": 0.1}, seed=3, primary_metric="acc")
    now = time.time()
    ledger.add_points(exp.id, [MetricPoint(s, "acc", s / 10, now + s) for s in (1, 2)], {})
    ledger.set_status(exp.id, status, started_at=now, ended_at=now + 3)
    return exp.id


def test_each_finished_run_is_written_once(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ledger = Ledger(store)
    sid = store.create_session(task="t", model="m", workspace=str(tmp_path), headless=True,
                               config={}).id
    uri = (tmp_path / "mlruns").as_uri()
    settings = Settings(trackers=["mlflow"], mlflow_tracking_uri=uri, tracker_project="p")
    first = _finished(ledger, sid, "first")
    running = ledger.declare(session_id=sid, name="still running", command="x")

    mirror = TrackerMirror(settings, ledger, sid)
    mirror(TurnComplete(reason="finished", iterations=1))
    mirror(TurnComplete(reason="finished", iterations=2))
    mirror.close()
    assert [e for _, e, _ in mirror.written] == [first] and mirror.failures == []

    second = _finished(ledger, sid, "second", status="failed")
    resumed = TrackerMirror(settings, ledger, sid)
    resumed(SessionStarted(task="t", model="m", resumed=True))
    resumed.close()
    assert [e for _, e, _ in resumed.written] == [second]

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("p")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["first", "second"]
    assert running.id not in {r.data.tags["openintern.experiment_id"] for r in runs}
