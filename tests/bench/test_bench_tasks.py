"""The bundled tasks: built deterministically, answers only in the private folder,
thresholds ordered, and every trap real (a careless method really is fooled by it)."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from openintern.bench.floor import task_metric
from openintern.bench.metrics import get_metric
from openintern.bench.task import BuiltTask, build_task
from openintern.bench.tasks import bundled_tasks


def rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        data = list(csv.reader(f))
    return data[0], data[1:]


def frame(path: Path, drop: tuple[str, ...] = ("id", "target")) -> tuple[np.ndarray, list[str]]:
    header, body = rows(path)
    keep = [i for i, c in enumerate(header) if c not in drop]
    return np.array([[float(r[i]) for i in keep] for r in body]), [header[i] for i in keep]


def labels(task: BuiltTask, split: str = "train") -> list[str]:
    header, body = rows(task.public_dir / "data" / f"{split}.csv")
    return [r[header.index("target")] for r in body]


def hidden(task: BuiltTask) -> list[str]:
    _, body = rows(task.answers_path)
    return [r[1] for r in body]


def test_the_suite_covers_the_required_kinds() -> None:
    specs = bundled_tasks()
    kinds = {s.kind for s in specs}
    assert len(specs) >= 8
    assert {"tabular classification", "tabular regression", "time series",
            "text classification", "language modelling (LLM)"} <= kinds
    assert {t.kind for s in specs for t in s.traps} == {
        "duplicates", "leakage", "shuffled_cv", "imbalance", "noisy_comparison"}


def test_thresholds_come_from_ordered_references(built_tasks: Mapping[str, BuiltTask]) -> None:
    for task in built_tasks.values():
        m = task.meta
        assert len(m.references) >= 3, m.id
        assert set(m.thresholds.values()) <= set(m.references.values()), m.id
        assert m.better_or_equal(m.thresholds["excellent"], m.thresholds["good"]), m.id
        assert m.better_or_equal(m.thresholds["good"], m.thresholds["baseline"]), m.id
        assert m.trivial_score is not None
        assert m.better_or_equal(m.thresholds["baseline"], m.trivial_score), m.id
        assert m.tier(m.thresholds["excellent"]) == "excellent"
        assert m.tier(m.trivial_score) in ("below baseline", "baseline"), m.id
        assert m.claim_tolerance > 0, m.id


def test_the_public_files_hold_no_answers(built_tasks: Mapping[str, BuiltTask]) -> None:
    for task in built_tasks.values():
        public = task.public_dir
        assert not task.answers_path.is_relative_to(public)
        test_header, test_rows = rows(public / "data" / "test.csv")
        assert "target" not in test_header, task.meta.id
        answer_ids = [r[0] for r in rows(task.answers_path)[1]]
        assert sorted(answer_ids) == sorted(r[0] for r in test_rows), task.meta.id
        sample = {r[1] for r in rows(public / "data" / "sample_submission.csv")[1]}
        assert len(sample) == 1, task.meta.id  # a constant: the format, not the answers
        description = (public / "description.md").read_text(encoding="utf-8")
        assert task_metric(description) == task.meta.metric


def test_builds_are_deterministic(tmp_path: Path, built_tasks: Mapping[str, BuiltTask]) -> None:
    for spec in bundled_tasks():
        if spec.id not in ("diabetes", "tiny-lm", "energy-forecast"):
            continue  # the quick ones; all builders use fixed seeds the same way
        again = build_task(spec, tmp_path)
        first = built_tasks[spec.id]
        assert again.meta.answers_sha256 == first.meta.answers_sha256
        assert again.meta.thresholds == first.meta.thresholds
        for name in first.meta.public_files:
            assert (again.public_dir / name).read_bytes() == (first.public_dir / name).read_bytes()


def test_duplicates_trap_rewards_memorising_only_on_the_public_split(
        built_tasks: Mapping[str, BuiltTask]) -> None:
    from sklearn.ensemble import RandomForestClassifier

    task = built_tasks["shop-duplicates"]
    X_tr, _ = frame(task.public_dir / "data" / "train.csv")
    X_va, _ = frame(task.public_dir / "data" / "val.csv")
    X_te, _ = frame(task.public_dir / "data" / "test.csv")
    train_rows = {tuple(r) for r in X_tr}
    assert sum(tuple(r) in train_rows for r in X_va) == 150
    assert not any(tuple(r) in train_rows for r in X_te)
    forest = RandomForestClassifier(100, random_state=0).fit(X_tr, labels(task))
    metric = get_metric("accuracy")
    on_val = metric(labels(task, "val"), [str(p) for p in forest.predict(X_va)])
    on_test = metric(hidden(task), [str(p) for p in forest.predict(X_te)])
    assert on_val - on_test > task.meta.claim_tolerance


def test_leakage_trap_is_informative_in_train_and_constant_in_test(
        built_tasks: Mapping[str, BuiltTask]) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    task = built_tasks["churn-leak"]
    X_tr, cols = frame(task.public_dir / "data" / "train.csv")
    X_te, _ = frame(task.public_dir / "data" / "test.csv")
    leak = cols.index("refund_issued")
    y = np.array([int(v) for v in labels(task)])
    assert np.corrcoef(X_tr[:, leak], y)[0, 1] > 0.7
    assert set(X_te[:, leak].tolist()) == {0.0}
    model = LogisticRegression(max_iter=3000)
    cv = cross_val_score(model, X_tr, y, cv=5, scoring="roc_auc").mean()
    real = get_metric("roc_auc")(hidden(task), model.fit(X_tr, y).predict_proba(X_te)[:, 1])
    assert cv > 0.9
    assert cv - real > 0.1
    assert real < task.meta.thresholds["excellent"]


def test_shuffled_cv_looks_far_better_than_the_future(built_tasks: Mapping[str, BuiltTask]
                                                     ) -> None:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.model_selection import KFold, TimeSeriesSplit, cross_val_score

    task = built_tasks["energy-forecast"]
    X_tr, _ = frame(task.public_dir / "data" / "train.csv", drop=("id", "target", "date"))
    X_te, _ = frame(task.public_dir / "data" / "test.csv", drop=("id", "date"))
    y = np.array([float(v) for v in labels(task)])
    forest = RandomForestRegressor(60, random_state=0, n_jobs=1)
    shuffled = -cross_val_score(forest, X_tr, y, cv=KFold(5, shuffle=True, random_state=0),
                                scoring="neg_mean_absolute_error").mean()
    forward = -cross_val_score(forest, X_tr, y, cv=TimeSeriesSplit(5),
                               scoring="neg_mean_absolute_error").mean()
    real = get_metric("mae")(hidden(task), forest.fit(X_tr, y).predict(X_te))
    assert real > 2 * shuffled
    assert abs(forward - real) < abs(shuffled - real)


def test_imbalance_makes_accuracy_meaningless(built_tasks: Mapping[str, BuiltTask]) -> None:
    task = built_tasks["fraud-imbalanced"]
    truth = hidden(task)
    share = truth.count("1") / len(truth)
    assert 0.02 < share < 0.04
    all_genuine = ["0"] * len(truth)
    assert get_metric("accuracy")(truth, all_genuine) > 0.96
    assert get_metric("f1")(truth, all_genuine) == 0.0
    assert task.meta.tier(0.0) == "below baseline"


def test_the_engineered_features_do_not_help_beyond_noise(
        built_tasks: Mapping[str, BuiltTask]) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    task = built_tasks["ab-noise"]
    X_tr, cols = frame(task.public_dir / "data" / "train.csv")
    X_te, _ = frame(task.public_dir / "data" / "test.csv")
    base = [i for i, c in enumerate(cols) if c.startswith("x")]
    y = labels(task)
    metric = get_metric("accuracy")

    def score(columns: list[int]) -> float:
        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_tr[:, columns], y)
        return metric(hidden(task), [str(p) for p in model.predict(X_te[:, columns])])

    with_eng = score(list(range(len(cols))))
    assert with_eng - score(base) < task.meta.claim_tolerance / 2
    assert task.meta.traps[0].wrong_decision == ("decision.json", "use_engineered_features",
                                                 True)


@pytest.mark.parametrize("task_id", ["tiny-lm"])
def test_the_language_task_needs_more_than_the_last_word(
        built_tasks: Mapping[str, BuiltTask], task_id: str) -> None:
    task = built_tasks[task_id]
    refs = task.meta.references
    assert refs["position-tagged words + logistic regression"] - \
        refs["bigram model (the last word)"] > 0.3
    corpus = (task.public_dir / "data" / "corpus.txt").read_text(encoding="utf-8").splitlines()
    assert len(corpus) == len(labels(task))
