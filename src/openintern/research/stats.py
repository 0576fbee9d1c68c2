"""Statistics a reviewer would accept: seeds grouped per configuration, mean ± 95% CI
(Student t), Welch's t-test against a baseline, and a "best so far" that does not let a
single lucky seed outrank a repeated result without saying so.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from openintern.research.ledger import ExperimentRecord


def _scipy_stats() -> Any:
    # scipy is imported lazily: it takes a while and only statistics need it.
    from scipy import stats as sps  # type: ignore[import-untyped]

    return sps


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (scipy)."""
    return float(_scipy_stats().t.ppf(p, df))


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, lower, upper) of the Student-t confidence interval of the mean
    (``scipy.stats.t.interval`` around the standard error). With one value the interval
    is unbounded (nothing is known about the spread)."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = statistics.fmean(values)
    if n == 1:
        return mean, -math.inf, math.inf
    sps = _scipy_stats()
    sem = float(sps.sem(values))
    if sem == 0:
        return mean, mean, mean  # scipy answers NaN for a zero-width interval
    low, high = sps.t.interval(confidence, n - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


@dataclass
class WelchResult:
    """Welch's unequal-variance t-test of a against b (two-sided)."""

    t: float
    df: float
    p_value: float


def welch_test(a: Sequence[float], b: Sequence[float]) -> WelchResult | None:
    """Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``); None when either side
    has fewer than two values."""
    if len(a) < 2 or len(b) < 2:
        return None
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    if statistics.variance(a) + statistics.variance(b) == 0:
        # Constants on both sides, where scipy answers NaN: equal means are no evidence of
        # a difference, different ones are certain.
        return WelchResult(0.0 if ma == mb else math.copysign(math.inf, ma - mb),
                           float(len(a) + len(b) - 2), 1.0 if ma == mb else 0.0)
    result = _scipy_stats().ttest_ind(list(a), list(b), equal_var=False)
    return WelchResult(float(result.statistic), float(result.df), float(result.pvalue))


@dataclass
class ConfigSummary:
    """The runs of one configuration (all seeds) on one metric."""

    config_key: str
    config: dict[str, object]
    name: str
    values: list[float]
    experiment_ids: list[str]
    mean: float
    ci_low: float
    ci_high: float
    vs_baseline: WelchResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of finished runs (seeds)."""
        return len(self.values)

    @property
    def single_seed(self) -> bool:
        """Whether this result rests on one run only."""
        return self.n == 1

    def conservative(self, mode: Literal["min", "max"]) -> float:
        """The pessimistic end of the interval (what the config surely achieves)."""
        return self.ci_low if mode == "max" else -self.ci_high

    def formatted(self) -> str:
        """``mean ± half-width (n=k)`` or ``value (n=1, single seed)``."""
        if self.single_seed:
            return f"{self.mean:.4g} (n=1, single seed)"
        return f"{self.mean:.4g} ± {(self.ci_high - self.ci_low) / 2:.2g} (n={self.n})"


def group_by_config(experiments: Sequence[ExperimentRecord], metric: str) -> list[ConfigSummary]:
    """One summary per configuration (seed ignored), from finished runs that reported
    ``metric`` with a finite value; in first-seen order."""
    groups: dict[str, list[ExperimentRecord]] = {}
    for exp in experiments:
        value = exp.final_metrics.get(metric)
        if exp.status != "succeeded" or value is None or not math.isfinite(value):
            continue
        groups.setdefault(exp.config_key, []).append(exp)
    out: list[ConfigSummary] = []
    for key, runs in groups.items():
        values = [float(r.final_metrics[metric]) for r in runs]
        mean, low, high = mean_ci(values)
        out.append(ConfigSummary(key, dict(runs[0].config), runs[0].name, values,
                                 [r.id for r in runs], mean, low, high))
    return out


@dataclass
class Ranking:
    """Configurations ranked best first, with the caveats a reader must see."""

    metric: str
    mode: Literal["min", "max"]
    rows: list[ConfigSummary]
    baseline: ConfigSummary | None
    best: ConfigSummary | None
    warnings: list[str]


def rank(summaries: list[ConfigSummary], mode: Literal["min", "max"], metric: str,
         baseline_key: str | None = None) -> Ranking:
    """Rank configurations: repeated ones by the pessimistic end of their 95% CI, then
    single-seed ones (never above a repeated result; flagged when their one value beats
    the best repeated mean). Adds a Welch test against the baseline configuration."""
    sign = 1.0 if mode == "max" else -1.0
    repeated = sorted((s for s in summaries if not s.single_seed),
                      key=lambda s: s.conservative(mode), reverse=True)
    single = sorted((s for s in summaries if s.single_seed), key=lambda s: sign * s.mean,
                    reverse=True)
    baseline = next((s for s in summaries if s.config_key == baseline_key), None)
    warnings: list[str] = []
    for s in summaries:
        if baseline is not None and s is not baseline:
            s.vs_baseline = welch_test(s.values, baseline.values)
            if s.vs_baseline is None:
                s.notes.append("no test vs baseline (needs ≥2 seeds on both sides)")
    best = repeated[0] if repeated else (single[0] if single else None)
    if best is not None and best.single_seed:
        warnings.append(
            f"the best result ({best.formatted()}) rests on one seed; rerun it with more "
            "seeds before trusting it"
        )
    elif best is not None:
        for s in single:
            if sign * s.mean > sign * best.mean:
                s.notes.append("single seed beats the best repeated mean: unconfirmed")
                warnings.append(
                    f"{s.name or s.config_key} scored {s.mean:.4g} on a single seed, above "
                    f"the best repeated result {best.formatted()}; it is ranked below it "
                    "until more seeds confirm it"
                )
    if best is not None and len(repeated) > 1:
        runner_up = repeated[1]
        overlap = (best.ci_low <= runner_up.ci_high) and (runner_up.ci_low <= best.ci_high)
        if overlap:
            warnings.append(
                f"the 95% intervals of the top two configurations overlap "
                f"({best.formatted()} vs {runner_up.formatted()}); the ranking is not "
                "conclusive"
            )
    return Ranking(metric, mode, repeated + single, baseline, best, warnings)


def format_ranking(ranking: Ranking) -> str:
    """A compact markdown table of a ranking, for the model and reports."""
    if not ranking.rows:
        return f"No finished runs report {ranking.metric!r} yet."
    lines = [
        f"Metric: {ranking.metric} ({'higher' if ranking.mode == 'max' else 'lower'} is "
        "better); mean ± 95% CI half-width (Student t); p: Welch's t-test vs baseline",
        "| rank | config | name | result | p vs baseline | experiments |",
        "|---|---|---|---|---|---|",
    ]
    for i, s in enumerate(ranking.rows, 1):
        if s is ranking.baseline:
            p_text = "baseline"
        elif s.vs_baseline is not None:
            p_text = f"{s.vs_baseline.p_value:.3g}"
        else:
            p_text = "n/a"
        note = f" ({'; '.join(s.notes)})" if s.notes else ""
        ids = ",".join(s.experiment_ids[:6]) + ("…" if len(s.experiment_ids) > 6 else "")
        lines.append(f"| {i} | {s.config_key} | {s.name} | {s.formatted()}{note} | {p_text} "
                     f"| {ids} |")
    for w in ranking.warnings:
        lines.append(f"Warning: {w}")
    return "\n".join(lines)
