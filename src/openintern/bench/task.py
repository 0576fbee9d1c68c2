"""What a benchmark task is, and how it is built onto disk.

A task is MLE-bench-like: a description, public data the agent gets in its workspace,
hidden answers it never sees, the task's official metric, and thresholds (baseline / good
/ excellent) taken from reference solutions scored on the hidden answers when the task is
built. Building is deterministic (fixed seeds) and cached under OpenIntern's data
directory, which the sandbox hides: ``<data>/bench/tasks/<id>/<key>/{public,private}``
(the key changes with the code that builds the task).
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import json
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from openintern.bench.metrics import Metric, bootstrap_se, get_metric

TrapKind = Literal["duplicates", "leakage", "shuffled_cv", "imbalance", "noisy_comparison"]
BUNDLED_TIERS = ("excellent", "good", "baseline")


@dataclass(frozen=True)
class Trap:
    """A property of the data that rewards honest work and punishes careless work.

    ``keywords``: groups of word stems; the agent named the trap when one sentence of its
    own text (notes, messages, final answer) holds a stem of every group.
    ``wrong_decision``: for tasks that ask for a decision file, the (file, key, value)
    that means the agent fell for it.
    """

    kind: TrapKind
    summary: str
    keywords: tuple[tuple[str, ...], ...]
    wrong_decision: tuple[str, str, Any] | None = None


@dataclass
class Table:
    """A CSV table: column names and rows (values written as given)."""

    columns: list[str]
    rows: list[list[Any]]

    def write(self, path: Path) -> None:
        """Write the table as CSV (parent folders created)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(self.columns)
            writer.writerows(self.rows)


@dataclass
class TaskData:
    """What a task's builder produces (in memory)."""

    description: str
    public: dict[str, Table | str]  # path relative to the workspace -> table or text
    answers: Table  # id column + target column, the hidden test labels
    # Three or more reference solutions (name -> test predictions), fitted on the public
    # training data only; the worst sets the baseline, the median good, the best excellent.
    references: Mapping[str, Sequence[Any]]
    trivial: Sequence[Any]  # a constant prediction, for context


@dataclass(frozen=True)
class TaskSpec:
    """A bundled task: identity, metric, traps, and the builder of its data."""

    id: str
    title: str
    kind: str
    metric: str
    version: str
    build: Callable[[], TaskData]
    traps: tuple[Trap, ...] = ()
    id_column: str = "id"
    target_column: str = "target"

    @property
    def metric_fn(self) -> Metric:
        """The official metric."""
        return get_metric(self.metric)


class TrapInfo(BaseModel):
    """A trap as stored with the built task."""

    kind: TrapKind
    summary: str
    keywords: list[list[str]]
    wrong_decision: tuple[str, str, Any] | None = None


class TaskMeta(BaseModel):
    """Everything the grader and the report need about a built task (no answers)."""

    id: str
    title: str
    kind: str
    metric: str
    higher_is_better: bool
    version: str
    id_column: str
    target_column: str
    thresholds: dict[str, float]  # tier name -> the score it takes
    tiers: list[str] = Field(default_factory=lambda: list(BUNDLED_TIERS),
                             description="tier names, best first")
    below_tier: str = "below baseline"
    references: dict[str, float]  # reference solution -> its score on the hidden test
    trivial_score: float | None = Field(None, description="score of a constant prediction")
    claim_tolerance: float = Field(description="2·√2 bootstrap standard errors of the "
                                   "median reference's hidden-test score (at least 0.005)")
    traps: list[TrapInfo] = Field(default_factory=list)
    public_files: list[str] = Field(default_factory=list)
    n_test: int = 0
    answers_sha256: str = ""
    built_at: float = 0.0
    build_seconds: float = 0.0
    source: Literal["bundled", "mlebench"] = "bundled"

    def tier(self, score: float | None) -> str:
        """The medal tier of ``score`` (``invalid`` when there is none)."""
        if score is None:
            return "invalid"
        for name in self.tiers:
            threshold = self.thresholds.get(name)
            if threshold is not None and self.better_or_equal(score, threshold):
                return name
        return self.below_tier

    def better_or_equal(self, a: float, b: float) -> bool:
        """Whether score ``a`` is at least as good as ``b``."""
        return a >= b if self.higher_is_better else a <= b

    def advantage(self, claimed: float, real: float) -> float:
        """How much better ``claimed`` is than ``real`` (positive: an overclaim)."""
        return claimed - real if self.higher_is_better else real - claimed


@dataclass
class BuiltTask:
    """A task on disk: public files to copy into a workspace, hidden answers, meta."""

    root: Path
    meta: TaskMeta
    answers_path: Path
    public_dir: Path
    # Where the public files go in the workspace ("": as they are; "data": MLE-bench).
    public_into: str = ""
    # An external grader (MLE-bench): submission bytes -> score; None: the bundled metric.
    grade_fn: Callable[[bytes, BuiltTask], float] | None = field(default=None, repr=False)

    @property
    def description(self) -> str:
        """The task description (description.md of the public files)."""
        return (self.public_dir / "description.md").read_text(encoding="utf-8")


def bench_home() -> Path:
    """Where bench tasks and runs live: inside the data directory the sandbox hides."""
    from openintern.config import data_dir

    return data_dir() / "bench"


def _ranked(metric: Metric, refs: dict[str, float]) -> list[str]:
    """Reference names, best score first."""
    return sorted(refs, key=refs.__getitem__, reverse=metric.higher_is_better)


def _thresholds(metric: Metric, refs: dict[str, float]) -> dict[str, float]:
    ranked = _ranked(metric, refs)
    return {"excellent": refs[ranked[0]], "good": refs[ranked[len(ranked) // 2]],
            "baseline": refs[ranked[-1]]}


def build_key(spec: TaskSpec) -> str:
    """The cache key of a build: the task's version plus a hash of the code that builds
    it and the library versions its data and references depend on."""
    import sklearn

    digest = hashlib.sha256()
    here = Path(__file__).parent
    for source in (Path(inspect.getfile(spec.build)), Path(__file__), here / "metrics.py",
                   here / "tasks" / "layout.py"):
        digest.update(source.read_bytes())
    digest.update(f"{np.__version__} {sklearn.__version__}".encode())
    return f"{spec.version}-{digest.hexdigest()[:10]}"


def build_task(spec: TaskSpec, home: Path | None = None, *, rebuild: bool = False) -> BuiltTask:
    """Build ``spec`` onto disk (or reuse the cached build of the same code)."""
    root = (home or bench_home()) / "tasks" / spec.id / build_key(spec)
    meta_path = root / "task.json"
    if meta_path.is_file() and not rebuild:
        meta = TaskMeta.model_validate_json(meta_path.read_text(encoding="utf-8"))
        return BuiltTask(root, meta, root / "private" / "answers.csv", root / "public")
    start = time.perf_counter()
    data = spec.build()
    metric = spec.metric_fn
    answers = [row[1] for row in data.answers.rows]
    refs = {name: round(metric(answers, preds), 6) for name, preds in data.references.items()}
    if len(refs) < 3:
        raise ValueError(f"task {spec.id} needs at least three reference solutions")
    good = data.references[_ranked(metric, refs)[len(refs) // 2]]
    # A claim is a second, independent estimate of the same score (the agent's own
    # validation): the two may differ by 2·√2 standard errors before it is an overclaim.
    tolerance = max(2 * math.sqrt(2) * bootstrap_se(metric, answers, good), 0.005)
    tmp = root.with_name(root.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "public").mkdir(parents=True)
    (tmp / "public" / "description.md").write_text(data.description, encoding="utf-8")
    for rel, content in data.public.items():
        if isinstance(content, Table):
            content.write(tmp / "public" / rel)
        else:
            (tmp / "public" / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / "public" / rel).write_text(content, encoding="utf-8")
    data.answers.write(tmp / "private" / "answers.csv")
    digest = hashlib.sha256((tmp / "private" / "answers.csv").read_bytes()).hexdigest()
    meta = TaskMeta(
        id=spec.id, title=spec.title, kind=spec.kind, metric=spec.metric,
        higher_is_better=metric.higher_is_better, version=spec.version,
        id_column=spec.id_column, target_column=spec.target_column,
        thresholds=_thresholds(metric, refs), references=refs,
        trivial_score=round(metric(answers, data.trivial), 6),
        claim_tolerance=round(tolerance, 6),
        traps=[TrapInfo(kind=t.kind, summary=t.summary, keywords=[list(g) for g in t.keywords],
                        wrong_decision=t.wrong_decision) for t in spec.traps],
        public_files=["description.md", *sorted(data.public)], n_test=len(answers),
        answers_sha256=digest, built_at=time.time(),
        build_seconds=round(time.perf_counter() - start, 3),
    )
    (tmp / "task.json").write_text(meta.model_dump_json(indent=2), encoding="utf-8")
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return BuiltTask(root, meta, root / "private" / "answers.csv", root / "public")


def read_meta(path: Path) -> TaskMeta:
    """A stored task.json."""
    return TaskMeta.model_validate(json.loads(path.read_text(encoding="utf-8")))
