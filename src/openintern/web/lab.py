"""What the experiment pages show, computed from the ledger: per-configuration mean ± 95%
CI, the lineage tree, a session's best result, a run's log tail, and two runs compared."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from openintern.config import Settings
from openintern.research.ledger import ExperimentRecord
from openintern.research.stats import group_by_config
from openintern.store import Store, StoreError

LOG_TAIL_LINES = 200


@dataclass
class ConfigRow:
    """One configuration (all its seeds) on the metric it was declared for."""

    name: str
    metric: str
    mode: Literal["min", "max"]
    config: dict[str, object]
    n: int
    mean: float
    ci_low: float | None  # None when one seed leaves the interval unbounded
    ci_high: float | None
    experiment_ids: list[str]

    @property
    def half_width(self) -> float | None:
        """Half the CI's width (the ± part), None for a single seed."""
        if self.ci_low is None or self.ci_high is None:
            return None
        return (self.ci_high - self.ci_low) / 2


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def config_rows(records: list[ExperimentRecord]) -> list[ConfigRow]:
    """Mean ± 95% CI per configuration, for each primary metric in ``records``, best
    configuration first within a metric."""
    out: list[ConfigRow] = []
    for metric in sorted({r.primary_metric for r in records if r.primary_metric}):
        runs = [r for r in records if r.primary_metric == metric]
        mode: Literal["min", "max"] = (
            "min" if Counter(r.mode for r in runs).most_common(1)[0][0] == "min" else "max")
        rows = [ConfigRow(s.name, metric, mode, s.config, s.n, s.mean, _finite(s.ci_low),
                          _finite(s.ci_high), s.experiment_ids)
                for s in group_by_config(runs, metric)]
        rows.sort(key=lambda row: row.mean, reverse=mode == "max")
        out.extend(rows)
    return out


@dataclass
class LineageNode:
    """An experiment and the experiments derived from it."""

    record: ExperimentRecord
    children: list[LineageNode] = field(default_factory=list)


def lineage(records: list[ExperimentRecord]) -> list[LineageNode]:
    """The experiments as a forest by ``parent_id`` (runs whose parent is not in
    ``records`` are roots), oldest first."""
    nodes = {r.id: LineageNode(r) for r in records}
    roots: list[LineageNode] = []
    for r in records:
        parent = nodes.get(r.parent_id) if r.parent_id else None
        (parent.children if parent else roots).append(nodes[r.id])
    return roots


def has_lineage(roots: list[LineageNode]) -> bool:
    """Whether any experiment derives from another (else a tree says nothing)."""
    return any(node.children for node in roots)


@dataclass
class BestResult:
    """A session's best run on its main metric."""

    experiment_id: str
    name: str
    metric: str
    value: float


def best_result(records: list[ExperimentRecord]) -> BestResult | None:
    """The run marked best, else the best finished value of the most used primary metric."""
    marked = [r for r in records if r.is_best and r.metric() is not None]
    if marked:
        r = marked[-1]
        value = r.metric()
        assert value is not None and r.primary_metric is not None
        return BestResult(r.id, r.name, r.primary_metric, value)
    named = Counter(r.primary_metric for r in records if r.primary_metric)
    if not named:
        return None
    metric = named.most_common(1)[0][0]
    done = [(v, r) for r in records if r.primary_metric == metric and r.status == "succeeded"
            and (v := r.metric()) is not None and math.isfinite(v)]
    if not done:
        return None
    lower = Counter(r.mode for _, r in done).most_common(1)[0][0] == "min"
    value, r = min(done, key=lambda pair: pair[0]) if lower else max(done, key=lambda p: p[0])
    return BestResult(r.id, r.name, metric, value)


def _tail(path: Path, lines: int) -> str:
    with path.open("rb") as f:  # read the end only: logs of long runs grow large
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 256 * 1024))
        text = f.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


async def run_logs(settings: Settings, store: Store, record: ExperimentRecord) -> str:
    """The last lines of a run's output; a sentence saying why when there are none."""
    if not record.backend or not record.job_id:
        return f"No logs: the experiment is {record.status} and was never submitted as a job."
    try:
        workspace = Path(store.get_session(record.session_id).workspace)
    except StoreError:
        workspace = settings.workspace
    if record.backend == "local":
        from openintern.compute.runfiles import runs_root

        path = runs_root(workspace) / record.job_id / "output.log"
        if not path.is_file():
            return f"No logs: {path} does not exist (the run directory was removed?)."
        text = await asyncio.to_thread(_tail, path, LOG_TAIL_LINES)
        return store.redactor.text(text) or "(the run has printed nothing yet)"
    from openintern.compute.base import JobBackendError
    from openintern.compute.registry import make_backend
    from openintern.sandbox import make_sandbox

    try:
        # Remote backends do not run anything here; the sandbox is only a constructor need.
        quiet = settings.model_copy(update={"sandbox": "none"})
        backend = make_backend(record.backend, quiet, workspace, make_sandbox(quiet, workspace))
        text = await backend.logs(record.job_id, tail=LOG_TAIL_LINES)
    except (JobBackendError, OSError) as exc:
        return f"Could not read the logs from the {record.backend} backend: {exc}"
    return store.redactor.text(text) or "(the run has printed nothing yet)"


@dataclass
class CompareRow:
    """One attribute of two runs side by side; ``differs`` highlights it."""

    label: str
    left: str
    right: str

    @property
    def differs(self) -> bool:
        """Whether the two runs differ here."""
        return self.left != self.right


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def compare(a: ExperimentRecord, b: ExperimentRecord) -> list[CompareRow]:
    """The rows of a side-by-side comparison: identity, config keys, then metrics."""
    def duration(r: ExperimentRecord) -> str:
        if r.started_at is None or r.ended_at is None:
            return "–"
        return f"{r.ended_at - r.started_at:.1f} s"

    rows = [
        CompareRow("name", a.name, b.name),
        CompareRow("status", a.status, b.status),
        CompareRow("command", a.command, b.command),
        CompareRow("seed", _fmt(a.seed), _fmt(b.seed)),
        CompareRow("code hash", _fmt(a.code_hash), _fmt(b.code_hash)),
        CompareRow("duration", duration(a), duration(b)),
        CompareRow("cost (USD)", f"{a.cost_usd:.4f}", f"{b.cost_usd:.4f}"),
    ]
    for key in sorted({*a.config, *b.config}):
        rows.append(CompareRow(f"config · {key}", _fmt(a.config.get(key)),
                               _fmt(b.config.get(key))))
    for name in sorted({*a.final_metrics, *b.final_metrics}):
        rows.append(CompareRow(f"final · {name}", _fmt(a.final_metrics.get(name)),
                               _fmt(b.final_metrics.get(name))))
    return rows
