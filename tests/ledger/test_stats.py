"""Statistics over seeds: CI, Welch's test, best-so-far honesty."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from openintern.research import Ledger
from openintern.research.stats import (
    format_ranking,
    group_by_config,
    mean_ci,
    rank,
    welch_test,
)


def test_mean_ci_matches_a_hand_computation() -> None:
    values = [0.91, 0.93, 0.92, 0.95]
    mean = sum(values) / 4                                   # 0.9275
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 3)  # sample sd
    t975_df3 = 3.182446305284263                              # Student t table, df=3
    half = t975_df3 * sd / math.sqrt(4)
    got_mean, low, high = mean_ci(values)
    assert got_mean == pytest.approx(0.9275)
    assert (low, high) == pytest.approx((mean - half, mean + half), rel=1e-9)
    assert high - low == pytest.approx(2 * 0.027, abs=1e-3)
    assert mean_ci([0.5]) == (0.5, -math.inf, math.inf)


def test_welch_matches_scipy() -> None:
    a, b = [0.91, 0.93, 0.92, 0.95], [0.88, 0.90, 0.86]
    ours = welch_test(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert ours is not None
    assert ours.t == pytest.approx(ref.statistic) and ours.p_value == pytest.approx(ref.pvalue)
    assert welch_test([1.0], b) is None
    same = welch_test([1.0, 1.0], [1.0, 1.0])
    assert same is not None and same.p_value == 1.0


def _finished(ledger: Ledger, session: str, config: dict[str, float], seed: int,
              acc: float) -> str:
    exp = ledger.declare(session_id=session, name=f"lr={config['lr']}", command="x",
                         config=config, seed=seed, primary_metric="val_acc")
    ledger.add_points(exp.id, [], {})
    from openintern.compute.metrics import MetricPoint

    ledger.add_points(exp.id, [MetricPoint(1, "val_acc", acc, 0.0)], {})
    ledger.set_status(exp.id, "succeeded")
    return exp.id


def test_best_so_far_is_not_fooled_by_a_lucky_seed(ledger: Ledger) -> None:
    for seed, acc in enumerate([0.90, 0.91, 0.92]):
        _finished(ledger, "s", {"lr": 0.1}, seed, acc)
    lucky = _finished(ledger, "s", {"lr": 0.5}, 0, 0.97)
    for seed, acc in enumerate([0.80, 0.82, 0.81]):
        _finished(ledger, "s", {"lr": 0.01}, seed, acc)
    exps = ledger.experiments("s")
    groups = group_by_config(exps, "val_acc")
    assert sorted(g.n for g in groups) == [1, 3, 3]
    baseline_key = next(g.config_key for g in groups if '0.01' in g.config_key)
    ranking = rank(groups, "max", "val_acc", baseline_key)
    assert ranking.best is not None and ranking.best.config == {"lr": 0.1}
    assert ranking.rows[-1].experiment_ids == [lucky]  # ranked last despite 0.97
    assert any("single seed" in w and "0.97" in w for w in ranking.warnings)
    best = ranking.best
    assert best.vs_baseline is not None and best.vs_baseline.p_value < 0.01
    text = format_ranking(ranking)
    assert "0.91 ± 0.025 (n=3)" in text and "n=1, single seed" in text and "baseline" in text


def test_only_single_seeds_is_said_out_loud(ledger: Ledger) -> None:
    _finished(ledger, "t", {"lr": 0.1}, 0, 0.9)
    _finished(ledger, "t", {"lr": 0.2}, 0, 0.8)
    ranking = rank(group_by_config(ledger.experiments("t"), "val_acc"), "max", "val_acc")
    assert ranking.best is not None and ranking.best.config == {"lr": 0.1}
    assert "rests on one seed" in ranking.warnings[0]
