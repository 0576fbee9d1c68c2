"""End-to-end: a scripted `intern` session runs two ledger experiments (real sandboxed
jobs, one of them crashing) with `trackers = ["mlflow", "trackio", "wandb"]`; each run then
appears in a local MLflow file store, Trackio's local SQLite and W&B's offline run files,
with its name, config, seed, code hash and metric series."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from e2e_helpers import intern_env, run_intern, store

from openintern.llm.script import Step
from openintern.llm.scripted import ScriptedServer
from openintern.research.ledger import Ledger

pytest.importorskip("mlflow")
pytest.importorskip("trackio")
pytest.importorskip("wandb")

TRAIN = """\
import json, os, sys
lr = float(sys.argv[1])
for step in (1, 2, 3):
    print(json.dumps({"step": step, "score": step * lr, "loss": 1.0 / (step * lr)}),
          flush=True)
if lr > 1:
    raise SystemExit("diverged")
"""


class StudyModel:
    """Writes the script, runs two experiments, waits until both jobs ended, reads the
    ledger, stops."""

    def __init__(self) -> None:
        self.ended: set[str] = set()
        self.status_read = False

    def __call__(self, body: dict[str, Any], index: int) -> Step | None:
        tools = [str(m.get("content") or "") for m in body["messages"] if m["role"] == "tool"]
        if index == 0:
            return Step.model_validate({"tool_calls": [{"name": "write_file", "arguments": {
                "path": "train.py", "content": TRAIN}}]})
        if index in (1, 2):
            lr = 0.25 if index == 1 else 2.0
            return Step.model_validate({"tool_calls": [{"name": "experiment", "arguments": {
                "operation": "run", "name": f"lr-{lr}", "hypothesis": "a larger step helps",
                "command": f"python train.py {lr}", "config": {"lr": lr}, "seed": 7,
                "primary_metric": "score"}}]})
        jobs = [j for t in tools for j in re.findall(r"local job (\S+) ", t)]
        self.ended |= {j for j, state in re.findall(r"local:(\S+) (\w+)", tools[-1])
                       if state in ("succeeded", "failed")}
        pending = [j for j in jobs if j not in self.ended]
        if pending and index < 30:
            return Step.model_validate({"tool_calls": [{"name": "jobs", "arguments": {
                "operation": "wait", "job_ids": pending, "wait_timeout_s": 60}}]})
        if not self.status_read:
            self.status_read = True
            return Step.model_validate({"tool_calls": [{"name": "experiment", "arguments": {
                "operation": "status"}}]})
        return None


def test_finished_runs_appear_in_mlflow_trackio_and_wandb(
        workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mlruns = tmp_path / "mlruns"
    trackio_dir = tmp_path / "trackio"
    wandb_dir = tmp_path / "wandb-files"
    with ScriptedServer(StudyModel()) as server:
        env = intern_env(
            server.base_url,
            OPENINTERN_TRACKERS=json.dumps(["mlflow", "trackio", "wandb"]),
            OPENINTERN_TRACKER_PROJECT="digits-study",
            OPENINTERN_MLFLOW_TRACKING_URI=mlruns.as_uri(),
            OPENINTERN_WANDB_MODE="offline",
            OPENINTERN_WANDB_DIR=str(wandb_dir),
            TRACKIO_DIR=str(trackio_dir),
            WANDB_SILENT="true",
        )
        result = run_intern("compare two step sizes", env=env, cwd=workspace, timeout=400)
    assert result.code == 0, result.output
    assert "could not mirror" not in result.output, result.output
    sid = store().list_sessions()[0].id
    exps = {e.name: e for e in Ledger(store()).experiments(sid)}
    assert {e.status for e in exps.values()} == {"succeeded", "failed"}

    # MLflow: a file store, read back with MLflow's own client.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlruns.as_uri())
    experiment = client.get_experiment_by_name("digits-study")
    assert experiment is not None
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"lr-0.25", "lr-2.0"}
    good = runs["lr-0.25"]
    assert good.info.status == "FINISHED" and runs["lr-2.0"].info.status == "FAILED"
    assert good.data.params["lr"] == "0.25" and good.data.params["seed"] == "7"
    assert good.data.params["code_hash"] == exps["lr-0.25"].code_hash
    assert good.data.tags["openintern.experiment_id"] == exps["lr-0.25"].id
    assert good.data.tags["openintern.hypothesis"] == "a larger step helps"
    history = client.get_metric_history(good.info.run_id, "score")
    assert [(m.step, m.value) for m in history] == [(1, 0.25), (2, 0.5), (3, 0.75)]

    # Trackio: its local SQLite store, read with its own storage class (which took its
    # directory from TRACKIO_DIR when this process imported it).
    import trackio.sqlite_storage
    from trackio.sqlite_storage import SQLiteStorage

    monkeypatch.setattr(trackio.sqlite_storage, "TRACKIO_DIR", trackio_dir)

    names = SQLiteStorage.get_runs("digits-study")
    good_name = f"lr-0.25-{exps['lr-0.25'].id}"
    assert set(names) == {good_name, f"lr-2.0-{exps['lr-2.0'].id}"}
    logs = SQLiteStorage.get_logs("digits-study", good_name)
    assert [(row["step"], row["score"]) for row in logs] == [(1, 0.25), (2, 0.5), (3, 0.75)]

    # W&B offline: one run directory per experiment (named by the experiment id), whose
    # run file holds the config, the history rows and the exit code.
    import wandb_log

    runs_dir = {d.name.rsplit("-", 1)[-1]: d
                for d in (wandb_dir / "wandb").glob("offline-run-*")}
    assert set(runs_dir) == {exps["lr-0.25"].id, exps["lr-2.0"].id}
    good_file = runs_dir[exps["lr-0.25"].id] / f"run-{exps['lr-0.25'].id}.wandb"
    rows = wandb_log.history(good_file)
    assert [(json.loads(r["_step"]), json.loads(r["score"])) for r in rows] == [
        (1, 0.25), (2, 0.5), (3, 0.75)]
    config = wandb_log.config(good_file)
    assert _value(config["lr"]) == 0.25 and _value(config["seed"]) == 7
    assert _value(config["code_hash"]) == exps["lr-0.25"].code_hash
    assert wandb_log.exit_code(good_file) == 0
    bad_file = runs_dir[exps["lr-2.0"].id] / f"run-{exps['lr-2.0'].id}.wandb"
    assert wandb_log.exit_code(bad_file) == 1


def _value(text: str) -> Any:
    """A config value (run records wrap it as {"value": ...}, updates do not)."""
    value = json.loads(text)
    return value["value"] if isinstance(value, dict) and "value" in value else value
