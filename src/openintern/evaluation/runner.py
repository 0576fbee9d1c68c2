"""Benchmark evaluation as a tracked experiment: declare → job → result → ledger.

The model runs inside a job (sandboxed locally, or on Ray / HF Jobs): a checkpoint is
code-adjacent data the agent produced, so it is never loaded on the host. The host writes
the spec, records the test conditions as the experiment's config, and, once the job has
finished, reads its ``result.json`` (validated), adds the accuracy with a Wilson 95% CI,
keeps the per-sample outputs as an artifact and, when training data is named, records the
contamination figures (an alert when they pass the threshold).
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from openintern.compute.base import JobBackend
from openintern.compute.metrics import MetricPoint
from openintern.evaluation.conditions import (
    REGISTRY,
    Decoding,
    EvalConditions,
    TaskKind,
    file_version,
    model_fingerprint,
    registry_version,
)
from openintern.evaluation.contamination import (
    DEFAULT_THRESHOLD,
    ContaminationReport,
    check_contamination,
    text_of,
)
from openintern.evaluation.stats import wilson_interval
from openintern.research.ledger import ExperimentRecord, Ledger
from openintern.research.runner import launch, wait_until_done
from openintern.training.recipes import install_recipes

_PROVIDERS = ("hf/", "openai/", "openai-api/", "anthropic/", "google/", "vllm/", "ollama/",
              "openrouter/", "together/", "groq/", "mistral/", "grok/", "bedrock/",
              "azureai/", "sglang/", "llama-cpp-python/", "mockllm/")
_MAX_RESULT_BYTES = 1 << 20
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class EvaluationError(RuntimeError):
    """An evaluation could not be set up or its result read; the message says why."""


@dataclass
class EvalRequest:
    """What to evaluate, on what, and how (see ``EvalConditions`` for what is recorded)."""

    model: str
    task: str
    kind: TaskKind = "mc"
    split: str = "test"
    limit: int | None = None
    seed: int = 0
    decoding: Decoding = field(default_factory=Decoding)
    template: str | None = None
    few_shot: list[dict[str, Any]] = field(default_factory=list)
    chain_of_thought: bool = False
    judge: str | None = None
    revision: str | None = None
    api_base: str | None = None
    train_data: list[str] = field(default_factory=list)
    contamination_threshold: float = DEFAULT_THRESHOLD
    name: str = ""
    parent_id: str | None = None
    timeout_s: float = 3600.0


class _Result(BaseModel):
    """``result.json`` as the job writes it (anything else is refused)."""

    status: str
    error: str | None = None
    n: int
    correct: float
    accuracy: float
    seconds: float
    samples_per_s: float
    scorer: str | None = None
    log_file: str | None = None


@dataclass
class EvalOutcome:
    """A finished evaluation: the ledger record and the numbers a reader needs."""

    experiment: ExperimentRecord
    accuracy: float
    n: int
    correct: float
    ci_low: float
    ci_high: float
    samples_path: Path
    log_file: str | None
    contamination: ContaminationReport | None

    def summary(self) -> str:
        """The result in a few lines for the model and the terminal."""
        c = self.experiment.config
        lines = [
            f"Evaluation {self.experiment.id}: {c.get('model')} on {c.get('benchmark')} "
            f"({c.get('split')}, n={self.n}): accuracy {self.accuracy:.3f} "
            f"[95% CI {self.ci_low:.3f}, {self.ci_high:.3f}] (Wilson)",
            f"conditions: version {c.get('benchmark_version')}, template {c.get('template')}, "
            f"few-shot {c.get('few_shot')}, CoT {c.get('chain_of_thought')}, decoding "
            f"{json.dumps(c.get('decoding'))}, seed {c.get('seed')}, judge {c.get('judge')}, "
            f"model fingerprint {c.get('model_fingerprint')}",
            f"per-sample outputs: {self.samples_path}",
        ]
        if self.contamination is not None:
            lines.append(self.contamination.summary())
        return "\n".join(lines)


def inspect_model_id(model: str, workspace: Path) -> str:
    """The inspect_ai model id: a workspace folder → ``hf/<absolute path>``; an id with
    a provider prefix as it is; anything else is taken as a Hub id (``hf/<id>``)."""
    path = Path(model) if Path(model).is_absolute() else workspace / model
    if path.is_dir():
        return f"hf/{path.resolve()}"
    if model.startswith(_PROVIDERS):
        return model
    return f"hf/{model}"


def _task_path(task: str, workspace: Path) -> Path | None:
    path = Path(task) if Path(task).is_absolute() else workspace / task
    return path.resolve() if path.is_file() else None


def _registry_name(task: str) -> str | None:
    if task in REGISTRY:
        return REGISTRY[task]
    if task.startswith("inspect_evals/"):
        return task
    return None


def build_conditions(req: EvalRequest, workspace: Path) -> tuple[EvalConditions, dict[str, Any]]:
    """The recorded conditions and the job's spec for ``req``; raises EvaluationError
    for a task that is neither a file in the workspace nor a registry benchmark."""
    registry = _registry_name(req.task)
    path = None if registry else _task_path(req.task, workspace)
    if registry is None and path is None:
        raise EvaluationError(
            f"task {req.task!r} is neither a file in the workspace nor a known benchmark; "
            f"give a JSONL/CSV file or one of {', '.join(sorted(REGISTRY))}")
    if path is not None and workspace.resolve() not in path.parents:
        raise EvaluationError(f"task file {path} is outside the workspace")
    try:
        fingerprint = model_fingerprint(req.model, workspace, req.revision)
    except ValueError as exc:
        raise EvaluationError(str(exc)) from None
    conditions = EvalConditions(
        benchmark=registry or (path.name if path else req.task),
        benchmark_version=registry_version(registry) if registry else file_version(
            path) if path else "unknown",
        split=req.split, limit=req.limit, kind="registry" if registry else req.kind,
        template="custom" if req.template else "default", few_shot=len(req.few_shot),
        chain_of_thought=req.chain_of_thought, decoding=req.decoding, seed=req.seed,
        judge=req.judge, model=req.model, model_fingerprint=fingerprint,
    )
    model_args: dict[str, Any] = {}
    if req.revision:
        model_args["revision"] = req.revision
    spec = {
        "model": inspect_model_id(req.model, workspace), "model_args": model_args,
        "task": registry or str(path), "registry": bool(registry), "kind": req.kind,
        "limit": req.limit, "seed": req.seed, "template": req.template,
        "few_shot": req.few_shot, "cot": req.chain_of_thought, "judge": req.judge,
        "decoding": req.decoding.model_dump(), "model_base_url": req.api_base,
        "train_data": list(req.train_data),
        "contamination_threshold": req.contamination_threshold,
    }
    return conditions, spec


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:40] or "eval"


def prepare_evaluation(req: EvalRequest, workspace: Path
                       ) -> tuple[EvalConditions, dict[str, Any], Path]:
    """Conditions, spec and the spec's path (written, with the recipes installed).
    Blocking (hashes the model and task files): run it in a worker thread."""
    workspace = workspace.resolve()
    conditions, spec = build_conditions(req, workspace)
    install_recipes(workspace)
    out = workspace / "evals" / f"{_slug(Path(req.model).name)}-{uuid.uuid4().hex[:6]}"
    out.mkdir(parents=True)
    spec["out_dir"] = str(out)
    spec_path = out / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    return conditions, spec, spec_path


async def start_evaluation(ledger: Ledger, session_id: str, req: EvalRequest,
                           backend: JobBackend, workspace: Path, **hardware: Any
                           ) -> ExperimentRecord:
    """Write the spec, declare the experiment with its conditions and launch the job
    (``hardware``: flavor, image, secrets, pip for remote backends)."""
    conditions, spec, spec_path = await asyncio.to_thread(prepare_evaluation, req, workspace)
    root = spec_path.parents[2]
    rel = spec_path.relative_to(root)
    data = [spec["task"]] if not spec["registry"] else []
    exp = ledger.declare(
        session_id=session_id, name=req.name or f"eval {conditions.benchmark}",
        command=f"python recipes/evaluate.py --spec {shlex.quote(str(rel))}",
        hypothesis=f"accuracy of {req.model} on {conditions.benchmark}",
        config=conditions.as_config(), seed=req.seed, parent_id=req.parent_id,
        workdir=str(root), data_paths=data, primary_metric="accuracy", mode="max",
    )
    return await launch(ledger, exp.id, backend, root, timeout_s=req.timeout_s,
                        snapshot=False, **hardware)


def eval_texts(path: Path, kind: str) -> list[list[str]]:
    """Each evaluation sample as text variants to look for: input + target, and for
    multiple choice also the lettered rendering a model trains on."""
    from openintern.training.recipes.common import read_rows

    out: list[list[str]] = []
    for row in read_rows(path):
        question = text_of(row.get("input", row.get("question", "")))
        choices = row.get("choices") or []
        plain = "\n".join([question, *map(text_of, choices)])
        variants = [plain]
        if kind == "mc" and choices:
            lettered = "\n".join(f"{LETTERS[i]}) {text_of(c)}" for i, c in enumerate(choices))
            variants.append(f"{question}\n\n{lettered}")
        out.append(variants)
    return out


def contamination_report(train_data: list[str], task: Path, kind: str, workspace: Path,
                         threshold: float) -> ContaminationReport:
    """Check the named training files against the evaluation task's samples."""
    from openintern.training.recipes.common import read_rows

    train: list[str] = []
    for name in train_data:
        path = Path(name) if Path(name).is_absolute() else workspace / name
        if not path.is_file():
            raise EvaluationError(f"training data {name!r} not found in the workspace")
        train += [text_of(row) for row in read_rows(path)]
    return check_contamination(train, eval_texts(task, kind), threshold=threshold)


def _read_result(out: Path) -> _Result:
    path = out / "result.json"
    try:
        if path.stat().st_size > _MAX_RESULT_BYTES:
            raise EvaluationError(f"{path} is too large to be an evaluation result")
        return _Result.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvaluationError(f"the evaluation job wrote no {path}; see its log") from None
    except ValidationError as exc:
        raise EvaluationError(f"{path} is not an evaluation result: {exc}") from None


def record_contamination(ledger: Ledger, exp: ExperimentRecord,
                         report: ContaminationReport) -> None:
    """The contamination figures as metrics of the experiment; an alert when flagged."""
    points = [MetricPoint(1, k, v, 0.0) for k, v in report.metrics().items()]
    ledger.add_points(exp.id, points, ledger.get(exp.id).stream_state)
    if report.flagged:
        ledger.add_alert(exp.id, f"contamination {report.overlap:.1%} above the "
                                 f"{report.threshold:.1%} threshold: " + report.summary())


def _spec_of(exp: ExperimentRecord, workspace: Path) -> tuple[Path, dict[str, Any]]:
    """The output folder and spec of an evaluation experiment."""
    if "recipes/evaluate.py --spec" not in exp.command:
        raise EvaluationError(f"experiment {exp.id} is not an evaluation")
    spec_arg = exp.command.rsplit("--spec", 1)[-1].strip()
    path = (workspace / shlex.split(spec_arg)[0]).resolve()
    try:
        return path.parent, dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"cannot read the spec of evaluation {exp.id}: {exc}") from None


def finish_evaluation(ledger: Ledger, exp_id: str, workspace: Path) -> EvalOutcome:
    """Read a finished evaluation's result into the ledger (CI, n, artifacts,
    contamination). Raises EvaluationError when the job failed or wrote no result."""
    exp = ledger.get(exp_id)
    workspace = workspace.resolve()
    out, spec = _spec_of(exp, workspace)
    if exp.status != "succeeded":
        detail = exp.status_detail[-1500:]
        raise EvaluationError(f"evaluation {exp.id} {exp.status}: {detail}")
    result = _read_result(out)
    low, high = wilson_interval(round(result.correct), result.n)
    metrics = {"accuracy": result.accuracy, "accuracy_ci_low": low, "accuracy_ci_high": high,
               "n": float(result.n), "correct": result.correct,
               "samples_per_s": result.samples_per_s}
    ledger.add_points(exp.id, [MetricPoint(1, k, v, 0.0) for k, v in metrics.items()],
                      exp.stream_state)
    samples = out / "samples.jsonl"
    ledger.add_artifacts(exp.id, [str(samples), str(out / "log")])
    report = None
    task = Path(str(exp.data_paths[0])) if exp.data_paths else None
    train_data = [str(p) for p in spec.get("train_data") or []]
    if train_data and task is not None:
        report = contamination_report(
            train_data, task, str(spec.get("kind", "mc")), workspace,
            float(spec.get("contamination_threshold", DEFAULT_THRESHOLD)))
        record_contamination(ledger, exp, report)
    return EvalOutcome(ledger.get(exp.id), result.accuracy, result.n, result.correct, low,
                       high, samples, result.log_file, report)


async def evaluate(ledger: Ledger, session_id: str, req: EvalRequest, backend: JobBackend,
                   workspace: Path, *, poll_s: float = 0.5, **hardware: Any) -> EvalOutcome:
    """Start an evaluation, wait for its job, and record the result."""
    exp = await start_evaluation(ledger, session_id, req, backend, workspace, **hardware)
    exp = await wait_until_done(ledger, exp.id, backend, timeout_s=req.timeout_s,
                                poll_s=poll_s)
    return await asyncio.to_thread(finish_evaluation, ledger, exp.id, workspace)


def load_samples(ledger: Ledger, exp_id: str, workspace: Path) -> dict[str, float]:
    """Per-sample scores of a finished evaluation, by sample id (validated numbers)."""
    out, _ = _spec_of(ledger.get(exp_id), workspace.resolve())
    path = out / "samples.jsonl"
    scores: dict[str, float] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvaluationError(f"evaluation {exp_id} has no per-sample outputs: {exc}") from None
    for line in lines:
        try:
            row = json.loads(line)
            scores[f"{row['id']}#{row.get('epoch', 1)}"] = float(row["score"])
        except (ValueError, KeyError, TypeError):
            raise EvaluationError(f"{path} has a malformed line; re-run the evaluation"
                                  ) from None
    return scores
