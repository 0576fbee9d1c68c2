"""Per-configuration statistics as a reviewer reads them: n, mean ± 95% CI (Student t),
Welch's t-test p-value against a baseline configuration, and the per-seed values laid
out for a strip plot. The baseline is the configuration the user picks, else the first
one declared for the metric (a sweep lists its baseline first by convention)."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from openintern.research.ledger import ExperimentRecord
from openintern.research.run_labels import RunName, run_names
from openintern.research.stats import ConfigSummary, group_by_config, rank

TEST_NAME = "Welch's t-test (two-sided)"
CI_NAME = "95% CI (Student t)"


@dataclass
class StripPoint:
    """One seed's value, at ``x`` (0..1 across the metric's range)."""

    x: float
    value: float
    experiment_id: str
    label: str


@dataclass
class ConfigRow:
    """One configuration (all its seeds) on the metric it was declared for."""

    name: str
    metric: str
    mode: Literal["min", "max"]
    config: dict[str, object]
    config_key: str
    label: str  # the configuration values that tell it apart (``svm``, ``lr=0.1``)
    n: int
    mean: float
    ci_low: float | None  # None when one seed leaves the interval unbounded
    ci_high: float | None
    experiment_ids: list[str]
    values: list[float] = field(default_factory=list)
    p_value: float | None = None
    is_baseline: bool = False
    p_note: str = ""  # why there is no p-value
    strip: list[StripPoint] = field(default_factory=list)
    strip_mean: float = 0.5
    strip_ci: tuple[float, float] | None = None

    @property
    def half_width(self) -> float | None:
        """Half the CI's width (the ± part), None for a single seed."""
        if self.ci_low is None or self.ci_high is None:
            return None
        return (self.ci_high - self.ci_low) / 2

    @property
    def anchor(self) -> str:
        """A stable HTML id for the row (links from the report's numbers)."""
        digest = hashlib.sha256(f"{self.metric}|{self.config_key}".encode()).hexdigest()
        return f"config-{digest[:10]}"

    @property
    def significant(self) -> bool:
        """Whether the difference from the baseline is significant at the 5% level."""
        return self.p_value is not None and self.p_value < 0.05


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _scale(rows: list[ConfigRow]) -> None:
    """Lay the rows' seeds, means and CIs on one 0..1 axis per metric."""
    for metric in {r.metric for r in rows}:
        group = [r for r in rows if r.metric == metric]
        ends = [v for r in group for v in r.values]
        ends += [v for r in group for v in (r.ci_low, r.ci_high) if v is not None]
        low, high = min(ends), max(ends)
        span = (high - low) or 1.0

        def x(value: float, low: float = low, span: float = span) -> float:
            return min(1.0, max(0.0, (value - low) / span))

        for r in group:
            for p in r.strip:
                p.x = x(p.value)
            r.strip_mean = x(r.mean)
            if r.ci_low is not None and r.ci_high is not None:
                r.strip_ci = (x(r.ci_low), x(r.ci_high))


def _labels(summaries: list[ConfigSummary], names: dict[str, RunName]) -> dict[str, str]:
    """Each configuration named as its runs are, seed aside (``lr=0.1``; ``probe`` for a
    run of its own); with the sweep's name where two configurations would read alike."""
    def bare(text: str) -> str:
        return re.sub(r"( · )?seed -?\d+$", "", text).strip() or text

    first = {s.config_key: names.get(s.experiment_ids[0]) for s in summaries}
    short = {k: bare(n.label) if n else k for k, n in first.items()}
    if len(set(short.values())) == len(short):
        return short
    return {k: bare(n.title) if n else k for k, n in first.items()}


def config_rows(records: list[ExperimentRecord], baseline: str | None = None
                ) -> list[ConfigRow]:
    """Statistics per configuration for each primary metric in ``records``, best first
    within a metric (repeated configurations by the pessimistic end of their CI, single
    seeds after them). ``baseline``: a row's anchor or config key (default: the first
    configuration declared for the metric)."""
    names = run_names(records)
    out: list[ConfigRow] = []
    for metric in sorted({r.primary_metric for r in records if r.primary_metric}):
        runs = [r for r in records if r.primary_metric == metric]
        mode: Literal["min", "max"] = (
            "min" if Counter(r.mode for r in runs).most_common(1)[0][0] == "min" else "max")
        summaries = group_by_config(runs, metric)
        if not summaries:
            continue
        labels = _labels(summaries, names)
        rows_by_key = {}
        for s in summaries:
            row = ConfigRow(s.name, metric, mode, s.config, s.config_key,
                            labels[s.config_key], s.n, s.mean,
                            _finite(s.ci_low), _finite(s.ci_high), s.experiment_ids,
                            values=list(s.values))
            row.strip = [StripPoint(0.5, v, i, names[i].label if i in names else i)
                         for v, i in zip(s.values, s.experiment_ids, strict=True)]
            rows_by_key[s.config_key] = row
        chosen = next((r.config_key for r in rows_by_key.values()
                       if baseline in (r.anchor, r.config_key)), None)
        declared_first = next((r.config_key for r in runs if r.config_key in rows_by_key), None)
        base_key = chosen or declared_first
        ranking = rank(summaries, mode, metric, base_key)
        for s in ranking.rows:
            row = rows_by_key[s.config_key]
            row.is_baseline = s.config_key == base_key
            if s.vs_baseline is not None:
                row.p_value = s.vs_baseline.p_value
            elif not row.is_baseline:
                row.p_note = "needs ≥ 2 seeds on both sides"
            out.append(row)
    _scale(out)
    return out
