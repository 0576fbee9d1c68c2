"""Comparing two evaluations of the same benchmark: paired test, CI of the difference,
and the contamination flag that keeps a "better" score from being accepted blindly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openintern.compute.metrics import MetricPoint
from openintern.evaluation.conditions import condition_key
from openintern.evaluation.contamination import DEFAULT_THRESHOLD
from openintern.evaluation.runner import EvaluationError, load_samples
from openintern.evaluation.stats import PairedComparison, paired_comparison
from openintern.research.ledger import ExperimentRecord, Ledger


@dataclass
class ComparisonOutcome:
    """Candidate vs baseline, with everything that qualifies the result."""

    baseline: ExperimentRecord
    candidate: ExperimentRecord
    stats: PairedComparison
    same_conditions: bool
    contamination: dict[str, float]  # experiment id -> overlap share (where checked)
    threshold: float

    @property
    def flagged(self) -> bool:
        """Whether either evaluation's contamination exceeds the threshold."""
        return any(v > self.threshold for v in self.contamination.values())

    def summary(self) -> str:
        """The comparison as text for the model and the report."""
        s = self.stats
        verdict = ("significant" if s.significant else "not significant") + " at the 5% level"
        lines = [
            f"Comparison on {self.candidate.config.get('benchmark')} (n={s.n} paired samples): "
            f"{self.candidate.id} ({self.candidate.config.get('model')}) {s.accuracy_b:.3f} vs "
            f"baseline {self.baseline.id} ({self.baseline.config.get('model')}) "
            f"{s.accuracy_a:.3f}: difference {s.difference:+.3f} [95% bootstrap CI "
            f"{s.ci_low:+.3f}, {s.ci_high:+.3f}], McNemar exact p = {s.p_value:.3g} "
            f"({s.only_b} samples only the candidate got right, {s.only_a} only the "
            f"baseline) — {verdict}.",
        ]
        if not self.same_conditions:
            lines.append("WARNING: the two evaluations ran under different conditions "
                         "(template, decoding, limit or benchmark version); the difference "
                         "may come from that, not the model.")
        if not self.contamination:
            lines.append("Contamination: not checked (give train_data when evaluating); "
                         "the result is not yet acceptable as an improvement.")
        elif self.flagged:
            worst = max(self.contamination.values())
            lines.append(f"FLAGGED: contamination {worst:.1%} exceeds {self.threshold:.1%} — "
                         "the training data overlaps the evaluation set, so this "
                         "improvement cannot be accepted as it stands.")
        else:
            shares = ", ".join(f"{k} {v:.1%}" for k, v in self.contamination.items())
            lines.append(f"Contamination: {shares} (below {self.threshold:.1%}): clean.")
        return "\n".join(lines)


def compare_evaluations(ledger: Ledger, baseline_id: str, candidate_id: str,
                        workspace: Path, *, threshold: float = DEFAULT_THRESHOLD
                        ) -> ComparisonOutcome:
    """Pair the per-sample scores of two finished evaluations, test the difference and
    record it (accuracy_delta, its CI, the p-value, contamination flag) on the candidate."""
    baseline, candidate = ledger.get(baseline_id), ledger.get(candidate_id)
    a, b = load_samples(ledger, baseline.id, workspace), load_samples(ledger, candidate.id,
                                                                      workspace)
    shared = sorted(set(a) & set(b))
    if not shared:
        raise EvaluationError(f"{baseline.id} and {candidate.id} share no samples; compare "
                              "evaluations of the same task")
    stats = paired_comparison([a[k] for k in shared], [b[k] for k in shared])
    contamination = {e.id: e.final_metrics["contamination"] for e in (baseline, candidate)
                     if "contamination" in e.final_metrics}
    outcome = ComparisonOutcome(baseline, candidate, stats,
                                condition_key(baseline.config) == condition_key(
                                    candidate.config), contamination, threshold)
    points = {"accuracy_delta": stats.difference, "accuracy_delta_ci_low": stats.ci_low,
              "accuracy_delta_ci_high": stats.ci_high, "mcnemar_p": stats.p_value,
              "contamination_flagged": float(outcome.flagged)}
    ledger.add_points(candidate.id, [MetricPoint(2, k, v, 0.0) for k, v in points.items()],
                      candidate.stream_state)
    if outcome.flagged:
        ledger.add_alert(candidate.id, f"comparison with {baseline.id} flagged: the training "
                         "data overlaps the evaluation set (contamination above "
                         f"{threshold:.1%})")
    return outcome
