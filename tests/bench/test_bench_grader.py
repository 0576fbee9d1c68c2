"""The host-side grader: the official metric on the hidden answers, and a submission
that is not a plain, well-formed file in the workspace gets no score (and says why)."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from openintern.bench.grader import grade
from openintern.bench.task import BuiltTask


@pytest.fixture
def cancer(built_tasks: Mapping[str, BuiltTask]) -> BuiltTask:
    return built_tasks["breast-cancer"]


def answers(task: BuiltTask) -> list[list[str]]:
    with task.answers_path.open(newline="") as f:
        return list(csv.reader(f))[1:]


def write(ws: Path, header: list[str], body: list[list[object]]) -> None:
    with (ws / "submission.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(body)


def test_the_true_labels_score_perfectly(cancer: BuiltTask, workspace: Path) -> None:
    body = [[i, float(t)] for i, t in answers(cancer)]
    write(workspace, ["id", "target"], list(reversed(body)))  # order does not matter
    g = grade(cancer, workspace)
    assert g.valid and g.score == 1.0 and g.tier == "excellent" and g.rows == len(body)


def test_an_inverted_submission_scores_zero(cancer: BuiltTask, workspace: Path) -> None:
    write(workspace, ["id", "target"], [[i, 1 - float(t)] for i, t in answers(cancer)])
    g = grade(cancer, workspace)
    assert g.valid and g.score == 0.0 and g.tier == "below baseline"


def test_a_link_to_the_answers_is_refused(cancer: BuiltTask, workspace: Path) -> None:
    (workspace / "submission.csv").symlink_to(cancer.answers_path)
    g = grade(cancer, workspace)
    assert not g.valid and g.score is None and "symbolic link" in g.error
    (workspace / "submission.csv").unlink()
    copy = workspace / "answers-copy.csv"
    shutil.copy(cancer.answers_path, copy)
    os.link(copy, workspace / "submission.csv")
    g = grade(cancer, workspace)
    assert not g.valid and "hard link" in g.error


@pytest.mark.parametrize(("header", "mutate", "expected"), [
    (["id", "target"], lambda b: b[:-3], "no prediction for 3"),
    (["id", "target"], lambda b: [*b, b[0]], "twice"),
    (["id", "target"], lambda b: [*b, ["99999999", 0.5]], "not in the test set"),
    (["id", "prediction"], lambda b: b, "lacks the column(s) target"),
    (["id", "target"], lambda b: [[b[0][0], "high"], *b[1:]], "must be numbers"),
])
def test_malformed_submissions_say_what_is_wrong(cancer: BuiltTask, workspace: Path,
                                                 header: list[str], mutate: object,
                                                 expected: str) -> None:
    body = [[i, 0.5] for i, _ in answers(cancer)]
    assert callable(mutate)
    write(workspace, header, mutate(body))
    g = grade(cancer, workspace)
    assert not g.valid and g.score is None
    assert expected in g.error


def test_no_submission_is_invalid_not_an_error(cancer: BuiltTask, workspace: Path) -> None:
    g = grade(cancer, workspace)
    assert g.tier == "invalid" and "no submission.csv" in g.error


def test_decision_files_are_read_for_traps(built_tasks: Mapping[str, BuiltTask],
                                           workspace: Path) -> None:
    task = built_tasks["ab-noise"]
    (workspace / "decision.json").write_text('{"use_engineered_features": true}')
    write(workspace, ["id", "target"], [[i, 1] for i, _ in answers(task)])
    g = grade(task, workspace)
    assert g.decisions == {"decision.json": {"use_engineered_features": True}}
    assert g.top_label_share == 1.0
