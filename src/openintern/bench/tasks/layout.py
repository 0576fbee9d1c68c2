"""The shape every bundled task shares: train/test CSV files, a sample submission, the
hidden answers, and a description in one format (so the metric and the submission
columns are stated the same way everywhere)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from openintern.bench.metrics import get_metric
from openintern.bench.task import Table


def shuffled_ids(n: int, seed: int) -> list[int]:
    """Row ids that say nothing about the split or the label."""
    rng = np.random.default_rng(seed)
    return [int(i) for i in rng.permutation(np.arange(10_000, 10_000 + n))]


def value(v: Any) -> Any:
    """A CSV cell: numpy scalars as plain Python, floats rounded to 6 digits."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return round(v, 6)
    return v


def table(columns: list[str], ids: Sequence[int], X: Any, y: Any = None) -> Table:
    """A table of ``id``, the feature columns of ``X`` and (when given) ``target``."""
    rows = []
    for i, row_id in enumerate(ids):
        cells = [int(row_id), *(value(v) for v in X[i])]
        if y is not None:
            cells.append(value(y[i]))
        rows.append(cells)
    return Table(["id", *columns] + (["target"] if y is not None else []), rows)


def answers(ids: Sequence[int], y: Any) -> Table:
    """The hidden answers: id and target."""
    return Table(["id", "target"], [[int(i), value(t)] for i, t in zip(ids, y, strict=True)])


def sample_submission(ids: Sequence[int], fill: Any) -> Table:
    """A valid submission with a constant prediction (shows the format)."""
    return Table(["id", "target"], [[int(i), fill] for i in ids])


def describe(*, title: str, overview: str, files: dict[str, str], metric: str,
             prediction: str, extra: str = "") -> str:
    """The task description, MLE-bench style (overview, data, evaluation, submission)."""
    m = get_metric(metric)
    direction = "higher is better" if m.higher_is_better else "lower is better"
    file_lines = "\n".join(f"- `{path}`: {what}" for path, what in files.items())
    text = f"""# {title}

## Overview

{overview}

## Data

{file_lines}

## Evaluation

Metric: `{metric}` ({direction}): the {m.description}, computed on the hidden labels of
`data/test.csv`.

## Submission

Write `submission.csv` in the workspace root with the columns `id,target`: one row per
row of `data/test.csv`, where `target` is {prediction}. `data/sample_submission.csv`
shows the format.
"""
    if extra:
        text += f"\n{extra.strip()}\n"
    return text
