"""Experiments run for real on the local backend: provenance, ingestion, alerts, reproduce."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from openintern.compute.local import LocalBackend
from openintern.research import Ledger
from openintern.research.report import plot_metrics, render_experiment_table, run_detail, runs_table
from openintern.research.reproduce import reproduce
from openintern.research.runner import launch, sync, wait_until_done


async def test_declare_run_ingest_finalise(ledger: Ledger, backend: LocalBackend,
                                           workspace: Path) -> None:
    exp = ledger.declare(session_id="s1", name="sgd", hypothesis="lr 0.05 learns digits",
                         command="python train.py --lr {lr} --epochs 3 --seed {seed}",
                         config={"lr": 0.05}, seed=1, data_paths=["data"],
                         primary_metric="val_acc")
    assert exp.status == "declared" and exp.mode == "max"
    exp = await launch(ledger, exp.id, backend, workspace)
    assert exp.job_id and exp.backend == "local" and exp.status == "queued"
    assert exp.code_hash and len(exp.code_hash) == 64
    snap = Path(exp.snapshot_path or "")
    assert (snap / "train.py").read_text() == (workspace / "train.py").read_text()
    assert not (snap / ".openintern").exists()
    assert exp.data_fingerprint[str(workspace / "data")]["files"] == 1
    done = await wait_until_done(ledger, exp.id, backend, timeout_s=60)
    assert done.status == "succeeded", done.status_detail
    series = ledger.series(exp.id, "val_acc")
    assert [p.step for p in series] == [1, 2, 3]
    assert done.final_metrics["val_acc"] == series[-1].value
    assert done.best_metrics["val_acc"] == max(p.value for p in series)
    assert done.best_metrics["loss"] == min(p.value for p in ledger.series(exp.id, "loss"))
    assert done.started_at and done.ended_at and done.ended_at >= done.started_at
    # Another sync after the end changes nothing (no double ingestion).
    await sync(ledger, exp.id, backend)
    assert len(ledger.series(exp.id, "val_acc")) == 3
    spec = json.loads((backend.run_dir(done.job_id or "") / "spec.json").read_text())
    assert "--lr 0.05" in spec["command"] and "--seed 1" in spec["command"]
    table = render_experiment_table(ledger, "s1")
    assert exp.id in table and "val_acc=" in table and "n=1, single seed" in table
    assert "val_acc" in plot_metrics(ledger, exp.id, "val_acc")
    assert runs_table(ledger).row_count == 1 and run_detail(ledger, exp.id) is not None


async def test_nan_alert_stops_the_run_early(ledger: Ledger, backend: LocalBackend,
                                             workspace: Path) -> None:
    exp = ledger.declare(session_id="s1", name="unstable",
                         command="python train.py --epochs 40 --sleep 0.5 --nan-at 2",
                         primary_metric="val_acc")
    await launch(ledger, exp.id, backend, workspace)
    done = await wait_until_done(ledger, exp.id, backend, timeout_s=60, poll_s=0.2)
    assert done.status == "cancelled"
    assert "stopped early by an alert" in done.status_detail
    assert any("loss became nan at step 2" in a for a in done.alerts)
    assert max(p.step for p in ledger.series(exp.id)) < 10  # well before epoch 40


async def test_crashing_experiment_is_failed_with_log(ledger: Ledger, backend: LocalBackend,
                                                      workspace: Path) -> None:
    exp = ledger.declare(session_id="s1", name="crash",
                         command="python train.py --epochs 3 --crash-at 2")
    await launch(ledger, exp.id, backend, workspace)
    done = await wait_until_done(ledger, exp.id, backend, timeout_s=60)
    assert done.status == "failed" and "simulated crash" in done.status_detail
    assert done.final_metrics  # the first epoch's metrics were kept


async def test_reproduce_matches(ledger: Ledger, backend: LocalBackend,
                                 workspace: Path) -> None:
    exp = ledger.declare(session_id="s1", name="repro", config={"lr": 0.1}, seed=3,
                         command="python train.py --lr {lr} --epochs 2",
                         primary_metric="val_acc")
    await launch(ledger, exp.id, backend, workspace)
    original = await wait_until_done(ledger, exp.id, backend, timeout_s=60)
    assert original.status == "succeeded"
    # The workspace changes afterwards; the reproduction runs the snapshot.
    (workspace / "train.py").write_text("raise SystemExit('edited after the run')\n")
    result = await reproduce(ledger, exp.id, {"local": backend}, timeout_s=60)
    assert result.status == "succeeded" and result.matched, result.summary()
    # The primary metric is judged; the others are listed beside it.
    assert set(result.compared) == {"val_acc"} and set(result.other) == {"loss"}
    copy = ledger.get(result.reproduction_id)
    assert copy.reproduces == exp.id and copy.parent_id == exp.id
    assert copy.code_hash == original.code_hash
    assert "matches" in result.summary()


async def test_two_jobs_run_in_parallel(ledger: Ledger, backend: LocalBackend,
                                        workspace: Path) -> None:
    ids = []
    for seed in (0, 1):
        exp = ledger.declare(session_id="s2", name="p", command="sleep 1", seed=seed)
        ids.append((await launch(ledger, exp.id, backend, workspace, snapshot=False)).id)
    done = await asyncio.gather(*(wait_until_done(ledger, i, backend, timeout_s=30)
                                  for i in ids))
    first, second = sorted(done, key=lambda e: e.started_at or 0)
    assert second.started_at is not None and first.ended_at is not None
    assert second.started_at < first.ended_at  # overlapped: 2 slots
