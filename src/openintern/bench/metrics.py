"""The official metrics of the bundled tasks, their direction, and the bootstrap standard
error that sets how far a claim may stray from the real score before it counts as an
overclaim.

Metrics are scikit-learn's (imported lazily); each takes the hidden answers and the
submitted predictions as plain sequences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class MetricError(ValueError):
    """A submission cannot be scored with the task's metric (wrong kind of values)."""


def _floats(values: Sequence[Any], what: str) -> np.ndarray:
    try:
        out = np.asarray([float(v) for v in values], dtype=float)
    except (TypeError, ValueError) as exc:
        raise MetricError(f"{what} must be numbers ({exc})") from None
    if not np.all(np.isfinite(out)):
        raise MetricError(f"{what} contain NaN or infinite values")
    return out


def _labels(values: Sequence[Any]) -> np.ndarray:
    return np.asarray([str(v).strip() for v in values], dtype=object)


def _roc_auc(y: Sequence[Any], p: Sequence[Any]) -> float:
    from sklearn.metrics import roc_auc_score

    truth = _floats(y, "answers")
    if len(set(truth.tolist())) < 2:
        raise MetricError("ROC AUC needs both classes in the answers")
    return float(roc_auc_score(truth, _floats(p, "predicted probabilities")))


def _accuracy(y: Sequence[Any], p: Sequence[Any]) -> float:
    return float(np.mean(_labels(y) == _labels(p)))


def _f1_positive(y: Sequence[Any], p: Sequence[Any]) -> float:
    from sklearn.metrics import f1_score

    truth = _labels(y)
    pred = _labels(p)
    return float(f1_score(truth, pred, pos_label="1", average="binary", zero_division=0))


def _macro_f1(y: Sequence[Any], p: Sequence[Any]) -> float:
    from sklearn.metrics import f1_score

    truth = _labels(y)
    return float(f1_score(truth, _labels(p), labels=sorted(set(truth.tolist())),
                          average="macro", zero_division=0))


def _rmse(y: Sequence[Any], p: Sequence[Any]) -> float:
    diff = _floats(y, "answers") - _floats(p, "predictions")
    return float(math.sqrt(np.mean(diff**2)))


def _mae(y: Sequence[Any], p: Sequence[Any]) -> float:
    return float(np.mean(np.abs(_floats(y, "answers") - _floats(p, "predictions"))))


@dataclass(frozen=True)
class Metric:
    """A task metric: its name as the description states it, direction, and function."""

    name: str
    higher_is_better: bool
    fn: Callable[[Sequence[Any], Sequence[Any]], float]
    description: str

    def __call__(self, answers: Sequence[Any], predictions: Sequence[Any]) -> float:
        """Score ``predictions`` against ``answers`` (same order, same length)."""
        if len(answers) != len(predictions):
            raise MetricError(f"{len(predictions)} predictions for {len(answers)} answers")
        return self.fn(answers, predictions)

    def better(self, a: float, b: float) -> bool:
        """Whether score ``a`` is at least as good as ``b``."""
        return a >= b if self.higher_is_better else a <= b

    def oriented(self, claimed: float, real: float) -> float:
        """How much better ``claimed`` is than ``real`` (positive: claimed is better)."""
        return claimed - real if self.higher_is_better else real - claimed


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", True, _roc_auc, "area under the ROC curve of the predicted "
               "probability of class 1"),
        Metric("accuracy", True, _accuracy, "share of exactly right labels"),
        Metric("f1", True, _f1_positive, "F1 score of the positive class (label 1)"),
        Metric("macro_f1", True, _macro_f1, "F1 averaged over the classes, unweighted"),
        Metric("rmse", False, _rmse, "root mean squared error"),
        Metric("mae", False, _mae, "mean absolute error"),
    )
}


def get_metric(name: str) -> Metric:
    """The metric called ``name``; raises ``KeyError`` naming the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}") from None


def bootstrap_se(metric: Metric, answers: Sequence[Any], predictions: Sequence[Any],
                 *, resamples: int = 200, seed: int = 0) -> float:
    """Standard error of ``metric`` under resampling of the test rows: how much the score
    of one fixed model moves with the luck of the test sample."""
    rng = np.random.default_rng(seed)
    y = list(answers)
    p = list(predictions)
    n = len(y)
    scores: list[float] = []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        try:
            scores.append(metric([y[i] for i in idx], [p[i] for i in idx]))
        except MetricError:
            continue  # a resample with one class only (ROC AUC): skip it
    return float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0
