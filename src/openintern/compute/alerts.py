"""Metric alerts: rules that notice a run going wrong and may stop it early.

Four rules, each watching one metric: :class:`NonFinite` (NaN or inf appeared),
:class:`Divergence` (the value rose above ``factor`` × its running minimum, or rose for
``patience`` consecutive points), :class:`Plateau` (no improvement larger than ``eps``
over the last ``patience`` points) and :class:`RewardCollapse` (an RL run's reward spread
vanished or its mean kept falling). A rule that fires yields an :class:`Alert` whose
message is written for the agent; ``stop`` says whether the run should be cancelled.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from openintern.compute.metrics import MetricPoint


@dataclass(frozen=True)
class Alert:
    """A rule fired: what happened, to which metric, and whether to stop the run."""

    rule: str
    metric: str
    step: int
    message: str
    stop: bool


@dataclass(frozen=True)
class NonFinite:
    """NaN or ±inf in ``metric`` (``*`` watches every metric whose name contains
    "loss")."""

    metric: str = "*"
    stop: bool = True

    def check(self, name: str, series: Sequence[tuple[int, float]]) -> Alert | None:
        """Fire on the first non-finite value."""
        for step, value in series:
            if not math.isfinite(value):
                return Alert("nan", name, step,
                             f"{name} became {value} at step {step}: the run diverged "
                             "numerically (lower the learning rate, check the data, add "
                             "gradient clipping)", self.stop)
        return None


@dataclass(frozen=True)
class Divergence:
    """``metric`` (lower is better) exceeded ``factor`` × its running minimum, or grew
    for ``patience`` consecutive points."""

    metric: str = "*"
    factor: float = 4.0
    patience: int = 20
    stop: bool = True

    def check(self, name: str, series: Sequence[tuple[int, float]]) -> Alert | None:
        """Fire once the condition holds at the latest point."""
        finite = [(s, v) for s, v in series if math.isfinite(v)]
        if len(finite) < 3:
            return None
        running_min = math.inf
        for step, value in finite:
            if running_min > 0 and value > self.factor * running_min and step != finite[0][0]:
                return Alert("divergence", name, step,
                             f"{name}={value:.4g} at step {step} is more than "
                             f"{self.factor:g}× its best so far ({running_min:.4g}): the run "
                             "is diverging", self.stop)
            running_min = min(running_min, value)
        tail = [v for _, v in finite[-(self.patience + 1):]]
        if len(tail) == self.patience + 1 and all(b > a for a, b in itertools.pairwise(tail)):
            return Alert("divergence", name, finite[-1][0],
                         f"{name} increased for {self.patience} consecutive points "
                         f"(now {tail[-1]:.4g}): the run is diverging", self.stop)
        return None


@dataclass(frozen=True)
class Plateau:
    """No improvement of ``metric`` by more than ``eps`` over the last ``patience``
    points (``mode``: which direction is better). Advisory by default."""

    metric: str
    patience: int = 50
    eps: float = 1e-4
    mode: Literal["min", "max"] = "min"
    stop: bool = False

    def check(self, name: str, series: Sequence[tuple[int, float]]) -> Alert | None:
        """Fire when the best of the last ``patience`` points is no better than before."""
        finite = [(s, v) for s, v in series if math.isfinite(v)]
        if len(finite) <= self.patience:
            return None
        head = [v for _, v in finite[: -self.patience]]
        tail = [v for _, v in finite[-self.patience:]]
        if self.mode == "min":
            improved = min(tail) < min(head) - self.eps
        else:
            improved = max(tail) > max(head) + self.eps
        if improved:
            return None
        return Alert("plateau", name, finite[-1][0],
                     f"{name} has not improved by more than {self.eps:g} over the last "
                     f"{self.patience} points: the run has plateaued", self.stop)


@dataclass(frozen=True)
class RewardCollapse:
    """An RL run (GRPO and kin) lost its learning signal: ``std_metric`` stayed at or below
    ``eps`` for ``patience`` consecutive points (every completion of a group gets the same
    reward, so the advantages and the gradient are zero), or ``metric`` (the reward mean)
    fell for ``mean_patience`` consecutive points."""

    metric: str = "reward"
    std_metric: str = "reward_std"
    patience: int = 5
    mean_patience: int = 10
    eps: float = 1e-6
    stop: bool = True

    def check(self, name: str, series: Sequence[tuple[int, float]]) -> Alert | None:
        """Fire on a flat spread (``std_metric``) or a falling mean (``metric``)."""
        finite = [(s, v) for s, v in series if math.isfinite(v)]
        if name == self.std_metric:
            tail = finite[-self.patience:]
            if len(tail) == self.patience and all(abs(v) <= self.eps for _, v in tail):
                return Alert("reward_collapse", name, tail[-1][0],
                             f"{name} has been {tail[-1][1]:.3g} for {self.patience} "
                             f"consecutive points (through step {tail[-1][0]}): every "
                             "completion in a group gets the same reward, so the policy "
                             "gets no gradient. Check the reward function (is it "
                             "constant or always 0?), raise temperature or num_generations, "
                             "or make the task easier", self.stop)
            return None
        values = [v for _, v in finite[-(self.mean_patience + 1):]]
        if len(values) == self.mean_patience + 1 and all(
                b < a for a, b in itertools.pairwise(values)):
            return Alert("reward_collapse", name, finite[-1][0],
                         f"{name} fell for {self.mean_patience} consecutive points (now "
                         f"{values[-1]:.4g} from {values[0]:.4g}): the policy is getting "
                         "worse (reward hacking stopped paying, KL too loose, or the "
                         "learning rate is too high)", self.stop)
        return None


Rule = NonFinite | Divergence | Plateau | RewardCollapse

DEFAULT_RULES: tuple[Rule, ...] = (NonFinite(), Divergence(), RewardCollapse())


def _watches(rule: Rule, name: str) -> bool:
    if isinstance(rule, RewardCollapse):
        return name in (rule.metric, rule.std_metric)
    if rule.metric == "*":
        return "loss" in name.lower()
    return rule.metric == name


def check_alerts(points: Iterable[MetricPoint], rules: Sequence[Rule] = DEFAULT_RULES
                 ) -> list[Alert]:
    """Every alert the rules raise on ``points`` (at most one per rule and metric)."""
    series: dict[str, list[tuple[int, float]]] = {}
    for p in points:
        series.setdefault(p.name, []).append((p.step, p.value))
    alerts: list[Alert] = []
    for name, values in series.items():
        values.sort(key=lambda sv: sv[0])
        for rule in rules:
            if _watches(rule, name):
                alert = rule.check(name, values)
                if alert is not None:
                    alerts.append(alert)
    return alerts


def rules_from_spec(spec: Sequence[dict[str, object]] | None) -> list[Rule]:
    """Rules from plain data, e.g. ``[{"rule": "plateau", "metric": "val_loss",
    "patience": 10}]``; None gives the defaults. Raises ValueError on unknown rules."""
    if spec is None:
        return list(DEFAULT_RULES)
    kinds: dict[str, type[Rule]] = {"nan": NonFinite, "divergence": Divergence,
                                    "plateau": Plateau, "reward_collapse": RewardCollapse}
    rules: list[Rule] = []
    for item in spec:
        data = dict(item)
        kind = str(data.pop("rule", ""))
        if kind not in kinds:
            raise ValueError(f"unknown alert rule {kind!r}; use one of {sorted(kinds)}")
        try:
            rules.append(kinds[kind](**data))  # type: ignore[arg-type]
        except TypeError as exc:
            raise ValueError(f"bad fields for alert rule {kind!r}: {exc}") from None
    return rules
