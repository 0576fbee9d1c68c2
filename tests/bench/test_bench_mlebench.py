"""MLE-bench competitions as `mlebench prepare` leaves them: a small competition built
here in mle-bench's layout (the competition's config.yaml, grade.py and leaderboard.csv
in an importable ``mlebench`` package; prepared/public and prepared/private data), then
listed, refused while its answers would be visible, and run and graded by its own
grader once they are hidden."""

from __future__ import annotations

import csv
import os
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from bench_helpers import run_bench, stored_run

from openintern.bench.grader import grade
from openintern.bench.mlebench import medal_thresholds, mlebench_task
from openintern.sandbox.paths import home_dirs, is_within, openintern_private_dirs

COMPETITION = "toy-spaceship"
CONFIG = f"""\
id: {COMPETITION}
name: Toy Spaceship
competition_type: simple
awards_medals: true
prizes: null
description: mlebench/competitions/{COMPETITION}/description.md

dataset:
  answers: {COMPETITION}/prepared/private/test.csv
  sample_submission: {COMPETITION}/prepared/public/sample_submission.csv

grader:
  name: accuracy
  grade_fn: mlebench.competitions.{COMPETITION}.grade:grade

preparer: mlebench.competitions.{COMPETITION}.prepare:prepare
"""
GRADE = """\
import pandas as pd
from sklearn.metrics import accuracy_score


class InvalidSubmissionError(Exception):
    pass


def grade(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    if list(submission.columns) != ["PassengerId", "Transported"]:
        raise InvalidSubmissionError(f"columns must be PassengerId,Transported")
    if len(submission) != len(answers):
        raise InvalidSubmissionError("one row per passenger")
    merged = answers.merge(submission, on="PassengerId", suffixes=("", "_pred"))
    return accuracy_score(merged["Transported"].astype(str),
                          merged["Transported_pred"].astype(str))
"""
DESCRIPTION = """\
# Toy Spaceship

Predict which passengers were transported to another dimension.

## Evaluation

Submissions are evaluated on their classification accuracy.

## Files

- train.csv: passengers with the target `Transported` (True/False)
- test.csv: passengers to predict
- sample_submission.csv: PassengerId,Transported
"""


def make_package(root: Path) -> Path:
    """The competition's definition, as the installed mlebench package holds it."""
    comp = root / "mlebench" / "competitions" / COMPETITION
    comp.mkdir(parents=True)
    (root / "mlebench" / "__init__.py").write_text("")
    (comp / "config.yaml").write_text(CONFIG)
    (comp / "grade.py").write_text(GRADE)
    (comp / "description.md").write_text(DESCRIPTION)
    scores = np.round(np.linspace(0.82, 0.50, 20), 4)
    with (comp / "leaderboard.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["teamId", "score"])
        writer.writerows([[i, s] for i, s in enumerate(scores)])
    return root


def prepare(data_dir: Path) -> None:
    """What `mlebench prepare -c toy-spaceship` writes."""
    rng = np.random.default_rng(0)
    n = 400
    planet = rng.choice(["Earth", "Mars", "Europa"], n)
    age = rng.integers(1, 80, n)
    spend = np.round(rng.gamma(2, 300, n), 1)
    cryo = rng.integers(0, 2, n)
    logit = 1.5 * cryo - 0.002 * spend + 0.8 * (planet == "Europa") + rng.normal(0, 1, n)
    transported = logit > 0
    ids = [f"{i:04d}_01" for i in range(n)]
    public = data_dir / COMPETITION / "prepared" / "public"
    private = data_dir / COMPETITION / "prepared" / "private"
    public.mkdir(parents=True)
    private.mkdir(parents=True)
    head = ["PassengerId", "HomePlanet", "CryoSleep", "Age", "RoomService"]

    def write(path: Path, header: list[str], rows: list[list[object]]) -> None:
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)

    rows = [[ids[i], planet[i], int(cryo[i]), int(age[i]), spend[i]] for i in range(n)]
    write(public / "train.csv", [*head, "Transported"],
          [[*rows[i], bool(transported[i])] for i in range(300)])
    write(public / "test.csv", head, rows[300:])
    write(public / "sample_submission.csv", ["PassengerId", "Transported"],
          [[ids[i], False] for i in range(300, n)])
    write(private / "test.csv", ["PassengerId", "Transported"],
          [[ids[i], bool(transported[i])] for i in range(300, n)])
    (public / "description.md").write_text(DESCRIPTION)


def test_medal_thresholds_follow_the_leaderboard() -> None:
    scores = [round(0.9 - 0.01 * i, 2) for i in range(20)]
    thresholds, lower = medal_thresholds(scores)
    assert not lower
    assert thresholds == {"gold": 0.89, "silver": 0.87, "bronze": 0.83,
                          "above median": pytest.approx(0.805)}
    _, lower = medal_thresholds(sorted(scores))
    assert lower


def _visible_folder(preferred: Path) -> Path:
    """A writable folder the sandbox shows: not under /tmp, /var/tmp, /dev/shm, /run, a
    home directory or OpenIntern's own (the clone itself may sit in one of those)."""
    hidden = [Path(p) for p in ("/tmp", "/var/tmp", "/dev/shm", "/run")]
    hidden += home_dirs() + openintern_private_dirs()
    for candidate in (preferred, Path("/srv"), Path("/opt"), Path("/var/opt")):
        folder = candidate.resolve()
        if folder.is_dir() and os.access(folder, os.W_OK) and not any(
                is_within(folder, h.resolve()) for h in hidden if h.exists()):
            return folder
    pytest.skip("no writable folder outside those the sandbox hides (run as root)")


@pytest.mark.slow
@pytest.mark.timeout(1200)  # many agent processes: slow on a loaded machine
def test_a_prepared_competition_is_listed_refused_when_visible_and_graded(
        bench_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = make_package(tmp_path / "mle-bench")
    env = {"PYTHONPATH": str(package)}
    # Prepared outside every folder the sandbox hides: the answers would be visible.
    visible = _visible_folder(bench_data_dir.parent) / f"{bench_data_dir.name}-mle-visible"
    prepare(visible)
    try:
        listed = run_bench("list", "--mlebench-data", str(visible), data_dir=bench_data_dir,
                           **env)
        assert f"mlebench:{COMPETITION}" in listed.output, listed.output
        refused = run_bench("run", f"mlebench:{COMPETITION}", "--mlebench-data", str(visible),
                            "--model", "scripted/floor", "--seeds", "1",
                            data_dir=bench_data_dir, timeout=300, **env)
        assert refused.code == 2, refused.output[-2000:]
        attempt = stored_run(refused, bench_data_dir).attempts[0]
        assert attempt.status == "refused" and "would be visible" in attempt.error
    finally:
        shutil.rmtree(visible, ignore_errors=True)

    # Prepared inside OpenIntern's data directory, which the sandbox hides.
    hidden = bench_data_dir / "mle-bench-data"
    prepare(hidden)
    result = run_bench("run", f"mlebench:{COMPETITION}", "--mlebench-data", str(hidden),
                       "--model", "scripted/floor", "--seeds", "1", "--no-network",
                       "--max-iterations", "30", data_dir=bench_data_dir, timeout=600, **env)
    assert result.code == 0, result.output[-4000:]
    record = stored_run(result, bench_data_dir)
    (attempt,) = record.attempts
    meta = record.tasks[0]
    assert meta.source == "mlebench" and meta.tiers[0] == "gold"
    assert attempt.status == "finished", attempt.error
    assert attempt.grade.valid, attempt.grade.error
    assert 0.5 < (attempt.grade.score or 0) <= 1.0
    assert attempt.grade.tier in {*meta.tiers, "below median"}
    ws = Path(attempt.attempt_dir) / "workspace"
    assert (ws / "description.md").is_file() and (ws / "data" / "train.csv").is_file()
    assert not (ws / "data" / "description.md").exists()
    assert attempt.integrity.backed and attempt.integrity.claimed is not None
    # The competition's own grader decides validity.
    (ws / "submission.csv").write_text(textwrap.dedent("""\
        PassengerId,Prediction
        0300_01,True
    """))
    monkeypatch.syspath_prepend(str(package))
    g = grade(mlebench_task(COMPETITION, hidden), ws)
    assert not g.valid and "invalid submission: columns must be" in g.error
