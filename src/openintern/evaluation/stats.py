"""Statistics of benchmark scores: Wilson intervals for an accuracy, and a paired
comparison of two models scored on the same samples (bootstrap CI of the difference and
McNemar's exact test on the discordant pairs)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``correct / n`` (sound near 0 and 1,
    unlike the normal approximation). ``n == 0`` gives the uninformative (0, 1)."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= correct <= n:
        raise ValueError(f"correct={correct} must lie in [0, n={n}]")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class PairedComparison:
    """Model B against model A on the same samples."""

    n: int
    accuracy_a: float
    accuracy_b: float
    difference: float           # accuracy_b - accuracy_a
    ci_low: float               # bootstrap CI of the difference
    ci_high: float
    only_a: int                 # samples A got right and B wrong
    only_b: int
    p_value: float              # McNemar exact (two-sided binomial on discordant pairs)

    @property
    def significant(self) -> bool:
        """Whether the difference is significant at the 5% level."""
        return self.p_value < 0.05


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs."""
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    from scipy.stats import binomtest  # type: ignore[import-untyped]

    return float(binomtest(min(only_a, only_b), discordant, 0.5).pvalue)


def paired_comparison(a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95,
                      resamples: int = 2000, seed: int = 0) -> PairedComparison:
    """Compare per-sample scores (1 correct, 0 wrong) of two models on the same samples,
    in the same order."""
    if len(a) != len(b):
        raise ValueError(f"the two evaluations scored different samples ({len(a)} vs "
                         f"{len(b)}); compare evaluations of the same task and limit")
    n = len(a)
    if n == 0:
        raise ValueError("no samples to compare")
    diffs = [float(y) - float(x) for x, y in zip(a, b, strict=True)]
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n
                   for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = means[int(tail * resamples)]
    high = means[min(resamples - 1, int((1 - tail) * resamples))]
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x > 0.5 >= y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y > 0.5 >= x)
    acc_a, acc_b = sum(a) / n, sum(b) / n
    return PairedComparison(n, acc_a, acc_b, acc_b - acc_a, low, high, only_a, only_b,
                            mcnemar_exact(only_a, only_b))
