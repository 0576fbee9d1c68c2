"""Renderings of the ledger: the pinned experiment table (markdown for the model), rich
tables for the CLI, and terminal plots of metric series."""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Literal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from openintern.research.ledger import ExperimentRecord, Ledger, lower_is_better
from openintern.research.run_labels import config_text, run_names
from openintern.research.stats import group_by_config, rank

_BLOCKS = "▁▂▃▄▅▆▇█"


def _primary(exps: list[ExperimentRecord]) -> tuple[str | None, Literal["min", "max"]]:
    """The session's main metric (most declared) and its direction."""
    named = Counter(e.primary_metric for e in exps if e.primary_metric)
    if not named:
        return None, "max"
    metric = named.most_common(1)[0][0]
    modes = Counter(e.mode for e in exps if e.primary_metric == metric)
    return metric, "min" if modes.most_common(1)[0][0] == "min" else "max"


def _key_metrics(exp: ExperimentRecord, limit: int = 4, sep: str = ", ") -> str:
    names = [exp.primary_metric] if exp.primary_metric in exp.final_metrics else []
    names += [n for n in sorted(exp.final_metrics) if n not in names]
    return sep.join(f"{n}={exp.final_metrics[n]:.4g}" for n in names[:limit] if n) or "-"


def render_experiment_table(ledger: Ledger, session_id: str, max_rows: int = 10) -> str:
    """The pinned research-state block: best so far (by mean ± CI over seeds), the last
    ``max_rows`` runs with their key metrics, and the running jobs. Empty string when the
    session has no experiments."""
    exps = ledger.experiments(session_id)
    if not exps:
        return ""
    running = [e for e in exps if e.status in ("queued", "running")]
    lines = [f"## Experiments ({len(exps)} total, {len(running)} queued/running)"]
    metric, mode = _primary(exps)
    if metric is not None:
        ranking = rank(group_by_config(exps, metric), mode, metric)
        if ranking.best is not None:
            best = ranking.best
            lines.append(
                f"Best so far on {metric} ({'lower' if mode == 'min' else 'higher'} is "
                f"better): {best.name} {best.config_key} = {best.formatted()} "
                f"[{', '.join(best.experiment_ids[:5])}]"
            )
        lines += [f"Caveat: {w}" for w in ranking.warnings[:3]]
    marked = [e for e in exps if e.is_best]
    if marked:
        lines.append(f"Marked best by conclusion: {marked[-1].id} ({marked[-1].name})")
    lines += ["", "| id | name | status | seed | key metrics |", "|---|---|---|---|---|"]
    for e in exps[-max_rows:]:
        flag = " ⚠" if e.alerts else ""
        lines.append(f"| {e.id} | {e.name[:40]} | {e.status}{flag} | "
                     f"{'' if e.seed is None else e.seed} | {_key_metrics(e)} |")
    if running:
        now = time.time()
        jobs = [f"{e.id} ({e.backend}:{e.job_id}, {e.status}"
                + (f", {now - e.started_at:.0f}s" if e.started_at else "") + ")"
                for e in running]
        lines.append("Running jobs: " + "; ".join(jobs))
    return "\n".join(lines)


def runs_table(ledger: Ledger, session_id: str | None = None) -> Table:
    """A rich table of experiments (one session, or all), grouped by sweep and
    configuration (a rule between groups), each run named by what tells it apart from
    the others of its sweep (``svm · seed 3``)."""
    table = Table(title="Experiments", show_lines=False)
    # One session's table has no session column; short fields never wrap, so on an
    # 80-column terminal the run, its config and metrics take what is left (ids stay whole).
    columns = ("id", *(() if session_id else ("session",)), "run", "config", "status",
               "metrics", "started", "duration")
    for col in columns:
        table.add_column(col, overflow="fold", no_wrap=col not in ("run", "config", "metrics"))
    records = ledger.experiments(session_id)
    names = run_names(records)
    first_seen: dict[str, int] = {}
    for i, e in enumerate(records):
        first_seen.setdefault(e.sweep_id or e.id, i)
        first_seen.setdefault(names[e.id].group, i)
    ordered = sorted(records, key=lambda e: (first_seen[e.sweep_id or e.id],
                                             first_seen[names[e.id].group],
                                             e.seed if e.seed is not None else -1))
    previous: str | None = None
    for e in ordered:
        group = names[e.id].group
        if previous is not None and group != previous:
            table.add_section()
        previous = group
        started = time.strftime("%m-%d %H:%M", time.localtime(e.started_at)) \
            if e.started_at else ""
        duration = f"{(e.ended_at or time.time()) - e.started_at:.0f}s" if e.started_at else ""
        style = {"succeeded": "green", "failed": "red", "timeout": "red",
                 "cancelled": "yellow", "running": "cyan"}.get(e.status, "")
        name = ("★ " if e.is_best else "") + names[e.id].title
        # Text, not str: names and metrics are model-written, and Rich would read
        # "[...]" in them as markup and drop it.
        table.add_row(e.id, *(() if session_id else (e.session_id[:8],)), Text(name),
                      Text(config_text(e.config) or "-"), Text(e.status, style=style),
                      Text(_key_metrics(e, sep="\n")), started, duration)
    return table


def run_detail(ledger: Ledger, exp_id: str) -> RenderableType:
    """Everything about one experiment: provenance, metrics, alerts, conclusion."""
    e = ledger.get(exp_id)
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column(overflow="fold")
    rows = [
        ("id", e.id), ("name", e.name), ("status", f"{e.status} {e.status_detail[:300]}"),
        ("hypothesis", e.hypothesis), ("parent", e.parent_id or ""),
        ("command", e.command), ("config", str(e.config)), ("seed", str(e.seed)),
        ("backend / job", f"{e.backend or ''} {e.job_id or ''}"),
        ("code snapshot", f"{e.code_hash or ''} {e.snapshot_path or ''}"),
        ("data", ", ".join(f"{k}: {str(v.get('hash', 'missing'))[:12]}"
                           for k, v in e.data_fingerprint.items())),
        ("cost", f"${e.cost_usd:.2f}"), ("conclusion", e.conclusion),
    ]
    from openintern.research.artifacts import DataArtifacts

    lineage = DataArtifacts(ledger.store).lineage(e)
    if lineage:
        rows.insert(-2, ("trained on", "; ".join(
            f"{a.kind} data artifact {a.id} {a.name} ({a.rows} rows, {a.path})"
            for a in lineage)))
    for key, value in rows:
        if value:
            info.add_row(key, Text(value))  # literal: commands hold "[...]" often
    metrics = Table(title="Final metrics")
    for col in ("metric", "final", "best"):
        metrics.add_column(col)
    for name, final in sorted(e.final_metrics.items()):
        best = e.best_metrics.get(name)
        metrics.add_row(Text(name), f"{final:.6g}", "" if best is None else f"{best:.6g}")
    parts: list[RenderableType] = [info, metrics]
    parts += [Text(f"alert: {a}", style="red") for a in e.alerts]
    return Group(*parts)


def sparkline(values: list[float], width: int = 60) -> str:
    """Unicode block sparkline of ``values`` (downsampled to ``width``; NaN shown as ×)."""
    if not values:
        return ""
    if len(values) > width:
        size = len(values) / width
        values = [values[int(i * size)] for i in range(width)]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "×" * len(values)
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    return "".join(
        _BLOCKS[int((v - low) / span * (len(_BLOCKS) - 1))] if math.isfinite(v) else "×"
        for v in values
    )


def plot_metrics(ledger: Ledger, exp_id: str, metric: str, path: Path | None = None) -> str:
    """A terminal plot of one metric (sparkline with first/min/max/last). With ``path``
    and matplotlib installed, also writes a PNG there and says so."""
    e = ledger.get(exp_id)
    points = ledger.series(e.id, metric)
    if not points:
        known = sorted(e.final_metrics)
        return f"{e.id} has no points for {metric!r} (metrics: {', '.join(known) or 'none'})"
    values = [p.value for p in points]
    finite = [v for v in values if math.isfinite(v)] or [math.nan]
    direction = "lower is better" if lower_is_better(metric) else "higher is better"
    text = (f"{metric} of {e.id} over steps {points[0].step}..{points[-1].step} "
            f"({len(points)} points, {direction})\n{sparkline(values)}\n"
            f"first {values[0]:.4g}  min {min(finite):.4g}  max {max(finite):.4g}  "
            f"last {values[-1]:.4g}")
    if path is not None:
        try:
            import matplotlib  # type: ignore[import-not-found, unused-ignore]

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            return text + ("\n(matplotlib is not installed: no PNG written; install it with "
                           "`pip install 'openintern[plots]'`)")
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot([p.step for p in points], values)
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        ax.set_title(f"{e.name or e.id}: {metric}")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        text += f"\nPNG written to {path}"
    return text
