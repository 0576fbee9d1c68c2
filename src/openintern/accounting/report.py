"""What a session cost and what it sent: summaries of the cost ledger and the egress
log as data (the web API serves them as JSON), rich tables (``intern cost``, ``intern
egress``), a PNG of spend over time, and the paragraph a session report states."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

from openintern.accounting.cost_ledger import CostEntry, CostLedger, by_kind
from openintern.accounting.egress_log import EgressEntry, egress_entries, host_totals
from openintern.store import Store

CATEGORY_LABELS = {
    "model": "model (main loop)", "summary": "summaries", "subagent": "sub-agents",
    "synthesis": "synthesis", "judge": "judge", "retry": "failed attempts (billed)",
}


def category_label(key: str) -> str:
    """A category key as a reader sees it (``compute:ray`` -> ``compute: ray``)."""
    if key.startswith("compute:"):
        return f"compute: {key.split(':', 1)[1]}"
    return CATEGORY_LABELS.get(key, key)


def root_of(store: Store, session_id: str) -> str:
    """The root session of ``session_id`` (a sub-agent's parent's root)."""
    info = store.get_session(session_id)
    seen = {info.id}
    while isinstance(info.config.get("parent_session"), str):
        parent = info.config["parent_session"]
        if parent in seen:
            break
        seen.add(parent)
        info = store.get_session(parent)
    return info.id


@dataclass
class CategoryRow:
    """Spend of one category."""

    category: str
    label: str
    calls: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    gpu_hours: float = 0.0
    cpu_hours: float = 0.0
    usd: float = 0.0
    forecast_usd: float = 0.0  # compute still running: its launch forecast
    unpriced_calls: int = 0


@dataclass
class ExperimentCost:
    """Compute spend of one job (an experiment's run, or a plain job)."""

    job_id: str
    backend: str
    experiment_id: str
    name: str
    config: str
    status: str
    duration_s: float | None
    gpu_hours: float
    cpu_hours: float
    forecast_usd: float | None
    expected_usd: float | None
    actual_usd: float | None


@dataclass
class CostSummary:
    """Everything ``intern cost`` shows for one root session."""

    session_id: str
    task: str
    model: str
    budget_usd: float | None
    rows: list[CategoryRow]
    jobs: list[ExperimentCost]
    configurations: list[dict[str, Any]]
    sub_sessions: list[dict[str, Any]]
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        """Actual dollars over every category."""
        return sum(r.usd for r in self.rows)

    @property
    def unpriced_calls(self) -> int:
        """Model calls no price was known for."""
        return sum(r.unpriced_calls for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-able data (the web API's answer)."""
        data = asdict(self)
        data["total_usd"] = self.total_usd
        data["unpriced_calls"] = self.unpriced_calls
        return data


def _rows(entries: list[CostEntry]) -> list[CategoryRow]:
    order = ["model", "summary", "subagent", "synthesis", "judge", "retry"]
    groups = by_kind(entries)
    keys = [k for k in order if k in groups] + sorted(k for k in groups if k not in order)
    rows = []
    for key in keys:
        row = CategoryRow(key, category_label(key))
        for e in groups[key]:
            row.calls += 1
            row.prompt_tokens += e.prompt_tokens
            row.cached_tokens += e.cached_tokens
            row.completion_tokens += e.completion_tokens
            row.gpu_hours += e.gpu_hours
            row.cpu_hours += e.cpu_hours
            if e.status == "forecast":
                row.forecast_usd += e.forecast_usd or 0.0
            else:
                row.usd += e.cost_usd
            row.unpriced_calls += int(not e.priced)
        rows.append(row)
    return rows


def _jobs(store: Store, entries: list[CostEntry]) -> list[ExperimentCost]:
    from openintern.research.ledger import Ledger

    ledger = Ledger(store)
    names: dict[str, tuple[str, str]] = {}
    out = []
    for e in entries:
        if e.kind != "compute":
            continue
        if e.experiment_id and e.experiment_id not in names:
            try:
                exp = ledger.get(e.experiment_id)
                names[e.experiment_id] = (exp.name, exp.config_key)
            except Exception:  # an experiment deleted since: keep the cost row
                names[e.experiment_id] = ("", e.config_key)
        name, config = names.get(e.experiment_id, (str(e.detail.get("name", "")), e.config_key))
        duration = e.detail.get("duration_s")
        expected = e.detail.get("expected_usd")
        out.append(ExperimentCost(
            job_id=e.job_id, backend=e.backend, experiment_id=e.experiment_id, name=name,
            config=config, status="running" if e.status == "forecast" else str(
                e.detail.get("state", "done")),
            duration_s=float(duration) if isinstance(duration, int | float) else None,
            gpu_hours=e.gpu_hours, cpu_hours=e.cpu_hours, forecast_usd=e.forecast_usd,
            expected_usd=float(expected) if isinstance(expected, int | float) else None,
            actual_usd=e.cost_usd if e.status == "actual" else None))
    return out


def _configurations(jobs: list[ExperimentCost]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[ExperimentCost]] = defaultdict(list)
    for job in jobs:
        if job.experiment_id:
            groups[(job.name, job.config)].append(job)
    return [{
        "name": name, "config": config, "runs": len(items),
        "gpu_hours": sum(j.gpu_hours for j in items),
        "cpu_hours": sum(j.cpu_hours for j in items),
        "actual_usd": sum(j.actual_usd or 0.0 for j in items),
        "running": sum(1 for j in items if j.actual_usd is None),
    } for (name, config), items in groups.items()]


def cost_summary(store: Store, session_id: str) -> CostSummary:
    """The cost summary of the root session of ``session_id``."""
    root = root_of(store, store.get_session(session_id).id)
    info = store.get_session(root)
    entries = CostLedger(store).entries(root)
    jobs = _jobs(store, entries)
    subs: dict[str, dict[str, Any]] = {}
    timeline = []
    running = 0.0
    for e in entries:
        if e.session_id and e.session_id != root:
            sub = subs.setdefault(e.session_id, {"session_id": e.session_id, "calls": 0,
                                                 "tokens": 0, "usd": 0.0})
            sub["calls"] += 1
            sub["tokens"] += e.tokens
            sub["usd"] += e.cost_usd
        if e.status == "actual":
            running += e.cost_usd
            category = f"compute:{e.backend}" if e.kind == "compute" else e.kind
            timeline.append({"ts": e.ts, "category": category, "usd": e.cost_usd,
                             "cumulative_usd": running, "tokens": e.tokens})
    recorded = info.config.get("accounting") or {}
    budget = info.config.get("budget_usd", recorded.get("budget_usd"))
    return CostSummary(
        session_id=root, task=info.task, model=info.model,
        budget_usd=float(budget) if isinstance(budget, int | float) else None,
        rows=_rows(entries), jobs=jobs, configurations=_configurations(jobs),
        sub_sessions=list(subs.values()), timeline=timeline)


# --- rendering --------------------------------------------------------------------------
def _usd(value: float | None, unpriced: bool = False) -> str:
    if value is None:
        return "-"
    text = f"${value:.4f}" if value < 1 else f"${value:,.2f}"
    return text + (" + unpriced" if unpriced else "")


def cost_tables(summary: CostSummary) -> RenderableType:
    """The rich tables of ``intern cost``."""
    title = f"Cost of session {summary.session_id}: {summary.task[:60]}"
    table = Table(title=title, show_footer=True)
    for col, justify in (("category", "left"), ("calls/jobs", "right"), ("prompt", "right"),
                         ("cached", "right"), ("completion", "right"), ("GPU-h", "right"),
                         ("CPU-h", "right"), ("cost", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in summary.rows:
        cost = _usd(row.usd, row.unpriced_calls > 0)
        if row.forecast_usd:
            cost += f" (+{_usd(row.forecast_usd)} running)"
        table.add_row(row.label, str(row.calls), f"{row.prompt_tokens:,}",
                      f"{row.cached_tokens:,}", f"{row.completion_tokens:,}",
                      f"{row.gpu_hours:.3f}", f"{row.cpu_hours:.3f}", cost)
    rows = summary.rows
    table.columns[0].footer = "total"
    table.columns[1].footer = str(sum(r.calls for r in rows))
    table.columns[2].footer = f"{sum(r.prompt_tokens for r in rows):,}"
    table.columns[3].footer = f"{sum(r.cached_tokens for r in rows):,}"
    table.columns[4].footer = f"{sum(r.completion_tokens for r in rows):,}"
    table.columns[5].footer = f"{sum(r.gpu_hours for r in rows):.3f}"
    table.columns[6].footer = f"{sum(r.cpu_hours for r in rows):.3f}"
    table.columns[7].footer = _usd(summary.total_usd, summary.unpriced_calls > 0)
    parts: list[RenderableType] = [table]
    if summary.unpriced_calls:
        parts.append(f"[yellow]{summary.unpriced_calls} model call(s) had no price: their "
                     "tokens are counted, their dollars are not (set model_prices).[/yellow]")
    if summary.jobs:
        jobs = Table(title="Compute per job (forecast at launch, actual when finished)")
        for col in ("experiment", "name", "backend", "job", "status", "duration",
                    "GPU-h", "forecast", "expected", "actual"):
            jobs.add_column(col, overflow="fold")
        for j in summary.jobs:
            jobs.add_row(j.experiment_id or "-", j.name[:30], j.backend, j.job_id[-24:],
                         j.status, "-" if j.duration_s is None else f"{j.duration_s:.0f}s",
                         f"{j.gpu_hours:.3f}", _usd(j.forecast_usd), _usd(j.expected_usd),
                         _usd(j.actual_usd))
        parts.append(jobs)
    if summary.configurations:
        configs = Table(title="Compute per configuration")
        for col in ("name", "config", "runs", "GPU-h", "CPU-h", "actual"):
            configs.add_column(col, overflow="fold")
        for c in summary.configurations:
            configs.add_row(c["name"][:30], c["config"][:60], str(c["runs"]),
                            f"{c['gpu_hours']:.3f}", f"{c['cpu_hours']:.3f}",
                            _usd(c["actual_usd"]))
        parts.append(configs)
    if summary.sub_sessions:
        subs = Table(title="Sub-agent sessions (counted in the totals above)")
        for col in ("session", "calls", "tokens", "cost"):
            subs.add_column(col)
        for s in summary.sub_sessions:
            subs.add_row(s["session_id"], str(s["calls"]), f"{s['tokens']:,}", _usd(s["usd"]))
        parts.append(subs)
    return Group(*parts)


def spend_plot(summary: CostSummary, path: Path) -> str:
    """Write a PNG of cumulative spend over time, one band per category; returns what
    was done (matplotlib is the ``plots`` extra)."""
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return ("matplotlib is not installed: no PNG written; install it with "
                "`pip install 'openintern[plots]'`")
    points = summary.timeline
    fig, ax = plt.subplots(figsize=(8, 4))
    if points:
        start = points[0]["ts"]
        categories = sorted({p["category"] for p in points})
        span = points[-1]["ts"] - start
        unit, scale = ("hours", 3600.0) if span > 3 * 3600 else (
            ("minutes", 60.0) if span > 180 else ("seconds", 1.0))
        xs = [(p["ts"] - start) / scale for p in points]
        totals = {c: 0.0 for c in categories}
        series: dict[str, list[float]] = {c: [] for c in categories}
        for p in points:
            totals[p["category"]] += p["usd"]
            for c in categories:
                series[c].append(totals[c])
        ax.stackplot(xs, *[series[c] for c in categories],
                     labels=[category_label(c) for c in categories])
        ax.legend(loc="upper left", fontsize=8)
        ax.set_xlabel(f"{unit} since the first spend")
    ax.set_ylabel("cumulative dollars")
    ax.set_title(f"Spend of session {summary.session_id}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return f"PNG written to {path}"


def egress_tables(entries: list[EgressEntry], *, every: bool = False,
                  limit: int = 30) -> RenderableType:
    """The rich tables of ``intern egress``: per destination, then the requests."""
    hosts = Table(title="Requests by destination (bytes: request bodies sent)",
                  show_footer=True)
    for col in ("destination", "where", "requests", "refused", "bytes sent", "purposes"):
        hosts.add_column(col, overflow="fold")
    totals = host_totals(entries)
    for t in totals:
        purposes = ", ".join(f"{p} ×{n}" for p, n in t.purposes.most_common(4))
        hosts.add_row(t.destination, "this machine" if t.loopback else "remote",
                      str(t.requests), str(t.refused) if t.refused else "",
                      f"{t.bytes_sent:,}", purposes)
    hosts.columns[0].footer = "total"
    hosts.columns[2].footer = str(sum(t.requests for t in totals))
    hosts.columns[3].footer = str(sum(t.refused for t in totals))
    hosts.columns[4].footer = f"{sum(t.bytes_sent for t in totals):,}"
    shown = entries if every else entries[-limit:]
    detail = Table(title=("Every request" if every or len(entries) <= limit
                          else f"Last {limit} of {len(entries)} requests (--all for every one)"))
    for col in ("time", "destination", "method", "purpose", "kind", "bytes", "status",
                "what it carried"):
        detail.add_column(col, overflow="fold")
    for e in shown:
        status = str(e.status) if e.allowed and e.status is not None else (
            "REFUSED" if not e.allowed else (e.error[:40] or "failed"))
        detail.add_row(time.strftime("%H:%M:%S", time.localtime(e.ts)), e.destination,
                       e.method, e.purpose, e.kind, f"{e.bytes_sent:,}", status,
                       carried(e))
    return Group(hosts, detail)


def carried(entry: EgressEntry) -> str:
    """One line on what a request carried (from its egress detail)."""
    d = entry.detail
    if entry.kind == "prompt":
        parts = [f"{d.get('prompt_chars', 0):,} chars of messages"]
        if d.get("tool_spec_chars"):
            parts[0] += f" + {d['tool_spec_chars']:,} of tool specs"
        files = d.get("file_chars") or {}
        if files:
            parts.append("files: " + ", ".join(f"{p} ({n:,})" for p, n in list(files.items())[:4]))
        tools = d.get("tool_output_chars") or {}
        if tools:
            parts.append("tool outputs: " + ", ".join(
                f"{t} ({n:,})" for t, n in sorted(tools.items(), key=lambda kv: -kv[1])[:4]))
        withheld = d.get("withheld_private_lines") or {}
        if withheld:
            parts.append("withheld private: " + ", ".join(
                f"{p} ({n} lines)" for p, n in withheld.items()))
        return "; ".join(parts)
    if entry.kind == "job_package":
        files = d.get("files") or []
        text = f"{len(files)} files packed: " + ", ".join(files[:6])
        if d.get("private_left_out"):
            text += f"; private left out: {len(d['private_left_out'])} files"
        return text
    return entry.target[:120]


def egress_summary(store: Store, session_id: str) -> dict[str, Any]:
    """The egress log of the root session of ``session_id`` as JSON-able data."""
    root = root_of(store, store.get_session(session_id).id)
    entries = egress_entries(store, root)
    totals = host_totals(entries)
    return {
        "session_id": root,
        "hosts": [{"destination": t.destination, "loopback": t.loopback,
                   "requests": t.requests, "refused": t.refused, "bytes_sent": t.bytes_sent,
                   "purposes": dict(t.purposes), "kinds": dict(t.kinds)} for t in totals],
        "requests": [{"ts": e.ts, "session_id": e.session_id, "destination": e.destination,
                      "loopback": e.loopback, "method": e.method, "target": e.target,
                      "purpose": e.purpose, "kind": e.kind, "bytes_sent": e.bytes_sent,
                      "allowed": e.allowed, "status": e.status, "error": e.error,
                      "carried": carried(e), "detail": e.detail} for e in entries],
    }


def requirements_text(store: Store, session_id: str) -> str:
    """What the loop required, in one paragraph (the session report states it)."""
    summary = cost_summary(store, session_id)
    entries = egress_entries(store, summary.session_id)
    rows = {r.category: r for r in summary.rows}
    model_rows = [r for r in summary.rows if not r.category.startswith("compute:")]
    calls = sum(r.calls for r in model_rows)
    tokens = sum(r.prompt_tokens + r.completion_tokens for r in model_rows)
    parts = [f"{calls} model call{'s' if calls != 1 else ''} ({tokens:,} tokens"]
    for key in ("summary", "subagent", "retry"):
        if key in rows:
            parts[-1] += f"; {rows[key].calls} {category_label(key)}"
    parts[-1] += ")"
    gpu = sum(r.gpu_hours for r in summary.rows)
    cpu = sum(r.cpu_hours for r in summary.rows)
    jobs = len(summary.jobs)
    if jobs:
        parts.append(f"{jobs} compute job{'s' if jobs != 1 else ''} ({gpu:.2f} GPU-hours, "
                     f"{cpu:.2f} CPU job-hours)")
    cost = _usd(summary.total_usd, summary.unpriced_calls > 0)
    remote = [e for e in entries if not e.loopback and e.allowed]
    refused = [e for e in entries if not e.allowed]
    hosts = sorted({e.destination for e in remote})
    sent = sum(e.bytes_sent for e in remote)
    egress = (f"{len(remote)} requests left the machine ({sent:,} bytes to "
              f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}"
              + (f": {', '.join(hosts[:5])}" if hosts else "") + ")")
    if refused:
        egress += f"; {len(refused)} refused by the egress policy"
    return (f"This session required {', '.join(parts)}, costing {cost} in all. "
            f"{egress}.")
