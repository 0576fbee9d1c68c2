"""Reading a bench run: per-task aggregates over seeds (mean ± SEM, as MLE-bench asks),
per-attempt integrity, the test conditions, and one PNG plot per task."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from openintern.bench.results import AttemptResult, RunRecord
from openintern.bench.task import TaskMeta

_TIER_STYLE = {"excellent": "bold green", "good": "green", "baseline": "yellow",
               "gold": "bold yellow", "silver": "white", "bronze": "yellow",
               "above median": "cyan", "invalid": "red"}


def mean_sem(values: Sequence[float]) -> tuple[float, float] | None:
    """Mean and standard error of the mean (0 with one value); None when empty."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    if len(finite) == 1:
        return finite[0], 0.0
    return statistics.fmean(finite), statistics.stdev(finite) / math.sqrt(len(finite))


def _fmt(pair: tuple[float, float] | None, digits: int = 4) -> str:
    if pair is None:
        return "-"
    mean, sem = pair
    return f"{mean:.{digits}g} ± {sem:.2g}" if sem else f"{mean:.{digits}g}"


@dataclass
class TaskSummary:
    """One task's attempts, aggregated."""

    meta: TaskMeta
    attempts: list[AttemptResult]

    @property
    def score(self) -> tuple[float, float] | None:
        """Real score, mean ± SEM over seeds (invalid submissions excluded)."""
        return mean_sem([a.grade.score for a in self.attempts if a.grade.score is not None])

    @property
    def claimed(self) -> tuple[float, float] | None:
        """Claimed score, mean ± SEM."""
        return mean_sem([a.integrity.claimed for a in self.attempts
                         if a.integrity.claimed is not None])

    @property
    def gap(self) -> tuple[float, float] | None:
        """Claimed minus real (positive: claimed better), mean ± SEM."""
        return mean_sem([a.integrity.gap for a in self.attempts if a.integrity.gap is not None])

    def tiers(self) -> str:
        """Tier counts, best first."""
        counts = Counter(a.grade.tier for a in self.attempts)
        order = [*self.meta.tiers, self.meta.below_tier, "invalid"]
        return ", ".join(f"{counts[t]}× {t}" if len(self.attempts) > 1 else t
                         for t in order if counts[t])


def summaries(record: RunRecord) -> list[TaskSummary]:
    """Per task, in the run's order."""
    return [TaskSummary(meta, [a for a in record.attempts if a.task_id == meta.id])
            for meta in record.tasks]


def medal_rate(record: RunRecord, tiers: tuple[str, ...] = ("excellent", "good", "gold",
                                                            "silver", "bronze")
               ) -> tuple[float, float] | None:
    """Share of tasks reaching at least 'good' (or an MLE-bench medal), as mean ± SEM over
    seeds: the MLE-bench headline number."""
    per_seed = []
    for seed in record.conditions.seeds:
        attempts = [a for a in record.attempts if a.seed == seed]
        if attempts:
            per_seed.append(sum(a.grade.tier in tiers for a in attempts) / len(attempts))
    return mean_sem(per_seed)


def conditions_table(record: RunRecord) -> Table:
    """The test conditions, as stored."""
    c = record.conditions
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    m = c.machine
    rows = [
        ("run", record.id),
        ("model", c.model + (f" @ {c.api_base}" if c.api_base else "")),
        ("openintern", f"{c.openintern_version} (commit {c.git_commit})"),
        ("prompts sha256", c.prompts_sha256[:16]),
        ("limits", f"{c.limits.max_iterations} iterations, ${c.limits.budget_usd:g} budget, "
                   f"{c.limits.timeout_s:g}s wall per attempt"),
        ("seeds", ", ".join(map(str, c.seeds)) + f" (parallel {c.parallel})"),
        ("sandbox", f"{c.sandbox}, network {c.network}, answers "
                    + ("hidden (checked per attempt)" if c.answers_hidden else "NOT hidden")),
        ("machine", f"{m.cpus} CPUs ({m.cpu_model}), {m.memory_gib:g} GiB, "
                    f"{', '.join(m.gpus) or 'no GPU'}; {m.platform}; Python {m.python}"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    return table


def tasks_table(record: RunRecord) -> Table:
    """One row per task: real score, tier, claimed vs real, integrity, cost and effort."""
    table = Table(title=f"Bench run {record.id}: per task, mean ± SEM over "
                        f"{len(record.conditions.seeds)} seed(s)")
    for col in ("task", "metric", "score", "tier", "claimed", "gap", "backed", "traps",
                "cost $", "tokens", "iters", "wall s"):
        table.add_column(col, overflow="fold")
    for s in summaries(record):
        if not s.attempts:
            table.add_row(s.meta.id, s.meta.metric, "-", "not run", *["-"] * 8)
            continue
        n = len(s.attempts)
        claims = [a for a in s.attempts if a.integrity.claimed is not None]
        backed = sum(bool(a.integrity.backed) for a in claims)
        over = sum(a.integrity.overclaim for a in s.attempts)
        traps = [t for a in s.attempts for t in a.integrity.traps]
        trap_text = "-" if not traps else (
            f"{sum(t.detected for t in traps)}/{len(traps)} seen, "
            f"{sum(t.fell_into for t in traps)} fell")
        gap = _fmt(s.gap)
        gap_text = Text(gap + (f" ({over} over)" if over else ""),
                        style="bold red" if over else "")
        tier = s.tiers()
        first = tier.split(", ")[0].split("× ")[-1]
        tokens = mean_sem([a.prompt_tokens + a.completion_tokens for a in s.attempts])
        table.add_row(
            s.meta.id, f"{s.meta.metric} {'↑' if s.meta.higher_is_better else '↓'}",
            _fmt(s.score), Text(tier, style=_TIER_STYLE.get(first, "")), _fmt(s.claimed),
            gap_text, f"{backed}/{len(claims)}" if claims else "-", trap_text,
            _fmt(mean_sem([a.cost_usd for a in s.attempts]), 3),
            f"{tokens[0]:,.0f}" if tokens else "-",
            _fmt(mean_sem([float(a.iterations) for a in s.attempts]), 3),
            _fmt(mean_sem([a.wall_s for a in s.attempts]), 3) + (f" (n={n})" if n > 1 else ""))
    return table


def attempts_table(record: RunRecord) -> Table:
    """One row per attempt, with what went wrong where something did."""
    table = Table(title="Attempts")
    for col in ("task", "seed", "status", "score", "tier", "claimed (source)", "backed",
                "traps", "notes"):
        table.add_column(col, overflow="fold")
    for a in record.attempts:
        i = a.integrity
        claimed = "-" if i.claimed is None else f"{i.claimed:.4g} ({i.claim_source})"
        traps = "; ".join(f"{t.kind}: {'seen' if t.detected else 'not seen'}, "
                          f"{'fell' if t.fell_into else 'avoided'}" for t in i.traps) or "-"
        notes = a.grade.error or a.error[-200:]
        if i.overclaim:
            notes = ("OVERCLAIM " + (f"by {i.gap:+.4g}" if i.gap is not None
                                     else "(no valid submission)") + ("; " + notes if notes
                                                                       else ""))
        table.add_row(a.task_id, str(a.seed), a.status,
                      "-" if a.grade.score is None else f"{a.grade.score:.4g}",
                      a.grade.tier, claimed,
                      "-" if i.backed is None else ("yes " + (i.backing_run or "")
                                                    if i.backed else "NO"),
                      traps, Text(notes, style="red" if i.overclaim or a.grade.error else ""))
    return table


def headline(record: RunRecord) -> Text:
    """The run in two lines: medal rate and integrity."""
    n = len(record.attempts)
    rate = medal_rate(record)
    claims = [a for a in record.attempts if a.integrity.claimed is not None]
    over = sum(a.integrity.overclaim for a in record.attempts)
    unbacked = sum(a.integrity.backed is False for a in claims)
    traps = [t for a in record.attempts for t in a.integrity.traps]
    rate_text = "-" if rate is None else f"{100 * rate[0]:.1f}% ± {100 * rate[1]:.1f}%"
    return Text(
        f"At least 'good' (or a medal): {rate_text} of tasks (mean ± SEM over seeds), "
        f"{n} attempts.\nIntegrity: {over}/{n} overclaims, {unbacked}/{len(claims)} claims "
        f"not backed by a ledger run; traps seen {sum(t.detected for t in traps)}/"
        f"{len(traps)}, fallen into {sum(t.fell_into for t in traps)}/{len(traps)}.",
        style="bold red" if over else "bold")


def render(record: RunRecord) -> RenderableType:
    """Everything `intern bench report` prints."""
    return Group(conditions_table(record), Text(""), tasks_table(record),
                 attempts_table(record), headline(record))


def plot_tasks(record: RunRecord, folder: Path) -> list[Path]:
    """One PNG per task: real and claimed score per seed against the tier thresholds.
    Raises ``ImportError`` (with the fix) when matplotlib is missing."""
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install 'openintern[bench]'") from exc
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for s in summaries(record):
        if not s.attempts:
            continue
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        seeds = [a.seed for a in s.attempts]
        x = list(range(len(seeds)))
        real = [a.grade.score if a.grade.score is not None else math.nan for a in s.attempts]
        claimed = [a.integrity.claimed if a.integrity.claimed is not None else math.nan
                   for a in s.attempts]
        ax.bar([i - 0.2 for i in x], real, width=0.4, label="real (hidden test)",
               color="#2b7bba")
        ax.bar([i + 0.2 for i in x], claimed, width=0.4, label="claimed", color="#e0823d")
        for name, style in zip(s.meta.tiers, ("-", "--", ":", "-."), strict=False):
            if name in s.meta.thresholds:
                ax.axhline(s.meta.thresholds[name], linestyle=style, color="grey",
                           linewidth=1)
                ax.annotate(name, (len(x) - 0.5, s.meta.thresholds[name]), fontsize=7,
                            color="grey", va="bottom", ha="right")
        ax.set_xticks(x, [f"seed {seed}" for seed in seeds])
        direction = "higher" if s.meta.higher_is_better else "lower"
        ax.set_ylabel(f"{s.meta.metric} ({direction} is better)")
        ax.set_title(f"{s.meta.id}: real vs claimed ({record.conditions.model})", fontsize=10)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = folder / f"{s.meta.id}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def tasks_list_table(metas: list[TaskMeta]) -> Table:
    """`intern bench list`: each task with its metric, thresholds and traps."""
    table = Table(title="Bench tasks (thresholds from reference solutions on the hidden test)")
    for col in ("task", "kind", "metric", "thresholds (lowest tier first)", "test rows",
                "traps"):
        table.add_column(col, overflow="fold")
    for m in metas:
        thresholds = " / ".join(f"{m.thresholds[t]:.4g}" for t in reversed(m.tiers)
                                if t in m.thresholds)
        table.add_row(m.id, m.kind, f"{m.metric} {'↑' if m.higher_is_better else '↓'}",
                      thresholds, str(m.n_test), ", ".join(t.kind for t in m.traps) or "-")
    return table
