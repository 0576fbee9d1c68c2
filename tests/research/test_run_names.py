"""Runs named by what tells them apart: a sweep's runs share its name, so `intern runs`
and the web name each by its configuration and seed, grouped by sweep and
configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from openintern.research.ledger import Ledger
from openintern.research.run_labels import run_names
from openintern.store import Store


def seeded(workspace: Path) -> tuple[Ledger, str]:
    data = Path(os.environ["OPENINTERN_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{data / 'openintern.db'}")
    info = store.create_session(task="digits", model="m", workspace=str(workspace),
                                headless=True)
    ledger = Ledger(store)
    for model in ("logreg", "svm"):
        for seed in range(2):
            exp = ledger.declare(session_id=info.id, name="digits-classifier",
                                 command="python train.py", sweep_id="sw1",
                                 config={"model": model, "C": 1.0}, seed=seed,
                                 primary_metric="acc")
            ledger.set_status(exp.id, "succeeded", started_at=100.0, ended_at=160.0)
    ledger.declare(session_id=info.id, name="baseline", command="python base.py",
                   config={"lr": 0.1})
    ledger.declare(session_id=info.id, name="grid", command="python g.py", sweep_id="sw2",
                   config={"lr": 0.1, "depth": 3}, seed=0)
    ledger.declare(session_id=info.id, name="grid", command="python g.py", sweep_id="sw2",
                   config={"lr": 0.01, "depth": 5}, seed=0)
    return ledger, info.id


def test_labels_name_what_differs_within_a_sweep(workspace: Path) -> None:
    ledger, sid = seeded(workspace)
    records = ledger.experiments(sid)
    names = run_names(records)
    labels = [names[r.id].label for r in records]
    assert labels[:4] == ["logreg · seed 0", "logreg · seed 1", "svm · seed 0", "svm · seed 1"]
    assert labels[4] == "baseline"  # a run of its own keeps its name
    assert labels[5:] == ["depth=3, lr=0.1", "depth=5, lr=0.01"]  # one seed: no seed shown
    assert names[records[2].id].title == "digits-classifier · svm · seed 0"
    assert names[records[0].id].group == names[records[1].id].group  # same configuration
    assert names[records[0].id].group != names[records[2].id].group


def test_intern_runs_lists_distinguishing_names_grouped(workspace: Path) -> None:
    seeded(workspace)
    done = subprocess.run([sys.executable, "-m", "openintern.cli", "runs"],
                          env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for label in ("logreg · seed 0", "logreg · seed 1", "svm · seed 0", "svm · seed 1"):
        assert f"digits-classifier · {label}" in out
    assert "C=1.0, model=svm" in out or "C=1, model=svm" in out  # the config column
    lines = out.splitlines()
    rule = [i for i, line in enumerate(lines) if set(line.strip()) <= set("├─┼┤")
            and line.strip()]
    # A rule between configurations: logreg seeds together, then svm seeds together.
    logreg = [i for i, line in enumerate(lines) if "logreg · seed" in line]
    svm = [i for i, line in enumerate(lines) if "svm · seed" in line]
    assert logreg == [logreg[0], logreg[0] + 1] and svm == [svm[0], svm[0] + 1]
    assert any(logreg[-1] < r < svm[0] for r in rule)
    assert "1m 00s" in out or "60s" in out  # duration column
