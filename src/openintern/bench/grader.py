"""Grading on the host, after the agent has stopped.

The submission is untrusted: it is read only if it is a plain file in the workspace (no
symbolic or hard link that could point at the hidden answers), within a size limit, and
parsed as data, never executed. The score is the task's official metric on the hidden
answers; a submission that cannot be scored gets no score and says why.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from openintern.bench.metrics import MetricError, get_metric
from openintern.bench.task import BuiltTask

SUBMISSION = "submission.csv"
MAX_SUBMISSION_BYTES = 64 * 1024 * 1024
MAX_DECISION_BYTES = 64 * 1024


class SubmissionError(ValueError):
    """The submission is missing, unsafe to read, or does not match the format."""


class Grade(BaseModel):
    """The real result of one attempt, from the hidden answers."""

    score: float | None = None
    tier: str = "invalid"
    valid: bool = False
    error: str = ""
    rows: int = 0
    top_label_share: float | None = Field(
        None, description="share of the most frequent predicted value (classification)")
    decisions: dict[str, Any] = Field(default_factory=dict)


def read_workspace_file(workspace: Path, name: str, max_bytes: int) -> bytes:
    """The bytes of ``workspace/name`` if it is a plain file there (not a link)."""
    path = workspace / name
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise SubmissionError(f"no {name} in the workspace") from None
    if stat.S_ISLNK(info.st_mode):
        raise SubmissionError(f"{name} is a symbolic link; the grader reads plain files only")
    if not stat.S_ISREG(info.st_mode):
        raise SubmissionError(f"{name} is not a regular file")
    if info.st_nlink > 1:
        raise SubmissionError(f"{name} is a hard link; the grader reads plain files only")
    if info.st_size > max_bytes:
        raise SubmissionError(f"{name} is {info.st_size:,} bytes (limit {max_bytes:,})")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read(max_bytes + 1)[:max_bytes]


def _read_rows(data: bytes, what: str) -> tuple[list[str], list[list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionError(f"{what} is not UTF-8 text") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise SubmissionError(f"{what} is empty")
    header = [h.strip() for h in rows[0]]
    return header, [r for r in rows[1:] if r]


def _predictions(data: bytes, id_col: str, target_col: str, ids: list[str]) -> list[str]:
    header, rows = _read_rows(data, SUBMISSION)
    missing = [c for c in (id_col, target_col) if c not in header]
    if missing:
        raise SubmissionError(f"{SUBMISSION} lacks the column(s) {', '.join(missing)} "
                              f"(header: {', '.join(header[:10])})")
    i, t = header.index(id_col), header.index(target_col)
    found: dict[str, str] = {}
    for row in rows:
        if len(row) <= max(i, t):
            raise SubmissionError(f"{SUBMISSION} has a short row: {row[:5]}")
        key = row[i].strip()
        if key in found:
            raise SubmissionError(f"{SUBMISSION} has id {key} twice")
        found[key] = row[t].strip()
    absent = [k for k in ids if k not in found]
    if absent:
        raise SubmissionError(f"{SUBMISSION} has no prediction for {len(absent)} of the "
                              f"{len(ids)} test ids (e.g. {', '.join(absent[:3])})")
    extra = len(found) - len(ids)
    if extra:
        raise SubmissionError(f"{SUBMISSION} has {extra} rows whose id is not in the test set")
    return [found[k] for k in ids]


def _decisions(task: BuiltTask, workspace: Path) -> dict[str, Any]:
    """The decision files the task's traps ask for (missing or unreadable: absent)."""
    out: dict[str, Any] = {}
    for trap in task.meta.traps:
        if trap.wrong_decision is None:
            continue
        name = trap.wrong_decision[0]
        try:
            value = json.loads(read_workspace_file(workspace, name, MAX_DECISION_BYTES))
        except (SubmissionError, ValueError):
            continue
        if isinstance(value, dict):
            out[name] = value
    return out


def _bundled_score(task: BuiltTask, data: bytes) -> tuple[float, list[str]]:
    meta = task.meta
    header, rows = _read_rows(task.answers_path.read_bytes(), "answers")
    ids = [r[header.index(meta.id_column)].strip() for r in rows]
    truth = [r[header.index(meta.target_column)].strip() for r in rows]
    predictions = _predictions(data, meta.id_column, meta.target_column, ids)
    try:
        return get_metric(meta.metric)(truth, predictions), predictions
    except MetricError as exc:
        raise SubmissionError(f"{SUBMISSION} cannot be scored: {exc}") from None


def grade(task: BuiltTask, workspace: Path) -> Grade:
    """Score the workspace's submission on the task's hidden answers."""
    decisions = _decisions(task, workspace)
    try:
        data = read_workspace_file(workspace, SUBMISSION, MAX_SUBMISSION_BYTES)
        predictions: list[str] = []
        if task.grade_fn is not None:  # an MLE-bench competition: its own grader
            score = task.grade_fn(data, task)
        else:
            score, predictions = _bundled_score(task, data)
    except SubmissionError as exc:
        return Grade(error=str(exc), decisions=decisions)
    share = None
    if predictions and task.meta.metric in ("accuracy", "f1", "macro_f1"):
        top = max(set(predictions), key=predictions.count)
        share = round(predictions.count(top) / len(predictions), 4)
    score = round(score, 6)
    return Grade(score=score, tier=task.meta.tier(score), valid=True,
                 rows=len(predictions), top_label_share=share, decisions=decisions)
