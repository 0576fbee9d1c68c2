"""What the experiment pages show, computed from the ledger: the lineage tree, a session's
best result, a run's log tail, and two runs compared (statistics per configuration live
in :mod:`openintern.web.config_stats`)."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from openintern.config import Settings
from openintern.research.ledger import ExperimentRecord
from openintern.store import Store
from openintern.web.run_files import local_run_dir, workspace_of

LOG_TAIL_LINES = 200


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
    if record.backend == "local":
        run_dir = await asyncio.to_thread(local_run_dir, settings, store, record)
        path = run_dir / "output.log" if run_dir else None
        if path is None or not await asyncio.to_thread(path.is_file):
            return f"No logs: the run directory of job {record.job_id} is gone (removed?)."
        text = await asyncio.to_thread(_tail, path, LOG_TAIL_LINES)
        return store.redactor.text(text) or "(the run has printed nothing yet)"
    from openintern.compute.base import JobBackendError
    from openintern.compute.registry import make_backend
    from openintern.sandbox import make_sandbox

    workspace = await asyncio.to_thread(workspace_of, settings, store, record)
    try:
        # Remote backends do not run anything here; the sandbox is only a constructor need.
        quiet = settings.model_copy(update={"sandbox": "none"})
        backend = await asyncio.to_thread(make_backend, record.backend, quiet, workspace,
                                          make_sandbox(quiet, workspace))
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


def compare(a: ExperimentRecord, b: ExperimentRecord, label_a: str = "", label_b: str = ""
            ) -> list[CompareRow]:
    """The rows of a side-by-side comparison: identity, config keys, then metrics.
    ``label_a``/``label_b``: what tells the runs apart (see ``research.run_labels``)."""
    def duration(r: ExperimentRecord) -> str:
        if r.started_at is None or r.ended_at is None:
            return "–"
        return f"{r.ended_at - r.started_at:.1f} s"

    rows = [
        CompareRow("run", label_a or a.name, label_b or b.name),
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
