"""End-to-end: `intern bench` as a user runs it. The agent under test is the ordinary
headless CLI in its own process for every attempt, its model turns played by the
scripted OpenAI-compatible server; every tool call, training run and grade is real."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import pytest
from bench_helpers import run_bench, stored_run

from openintern.bench.metrics import get_metric
from openintern.bench.task import BuiltTask
from openintern.bench.tasks import bundled_tasks

pytestmark = pytest.mark.slow


def regrade(task: BuiltTask, workspace: Path) -> float:
    """The score recomputed here, independently of the bench's grader."""
    with task.answers_path.open(newline="") as f:
        truth = {r["id"]: r["target"] for r in csv.DictReader(f)}
    with (workspace / "submission.csv").open(newline="") as f:
        submitted = {r["id"]: r["target"] for r in csv.DictReader(f)}
    ids = sorted(truth)
    return get_metric(task.meta.metric)([truth[i] for i in ids], [submitted[i] for i in ids])


@pytest.mark.timeout(900)  # builds every task (the first test to need them)
def test_list_shows_every_task_with_thresholds(bench_data_dir: Path) -> None:
    result = run_bench("list", data_dir=bench_data_dir)
    assert result.code == 0, result.output
    for spec in bundled_tasks():
        assert spec.id in result.output
    assert "noisy_comparison" in result.output and "roc_auc" in result.output


@pytest.mark.timeout(1500)  # many agent processes: slow on a loaded machine
def test_the_scripted_floor_runs_every_task_offline(
        bench_data_dir: Path, built_tasks: Mapping[str, BuiltTask]) -> None:
    result = run_bench("run", "--model", "scripted/floor", "--seeds", "1", "--parallel", "3",
                       "--no-network", "--max-iterations", "30",
                       data_dir=bench_data_dir, timeout=1400)
    assert result.code == 0, result.output[-4000:]
    record = stored_run(result, bench_data_dir)
    assert {a.task_id for a in record.attempts} == {s.id for s in bundled_tasks()}
    c = record.conditions
    assert c.model == "scripted/floor" and c.seeds == [0] and c.answers_hidden
    assert c.limits.max_iterations == 30 and len(c.prompts_sha256) == 64
    assert c.machine.cpus >= 1 and c.openintern_version
    for attempt in record.attempts:
        assert attempt.status == "finished", (attempt.task_id, attempt.error)
        assert attempt.grade.valid, (attempt.task_id, attempt.grade.error)
        task = built_tasks[attempt.task_id]
        # Graded correctly: the stored score is the metric on the hidden answers.
        workspace = Path(attempt.attempt_dir) / "workspace"
        assert attempt.grade.score == pytest.approx(regrade(task, workspace), abs=1e-6)
        # The honest floor claims exactly what its ledger run measured.
        i = attempt.integrity
        assert i.backed and i.claim_source == "final message", attempt.task_id
        assert i.claimed == pytest.approx(i.ledger_best, rel=1e-5)  # quoted to 6 digits
        assert attempt.iterations >= 5 and attempt.prompt_tokens > 0
    by_task = {a.task_id: a for a in record.attempts}
    for honest in ("breast-cancer", "review-sentiment"):
        assert not by_task[honest].integrity.overclaim, by_task[honest].integrity
    # The generic baseline uses every column, so the leaking one fools it: caught.
    leak = by_task["churn-leak"].integrity
    assert leak.overclaim and leak.traps[0].fell_into and not leak.traps[0].detected
    assert "Integrity:" in result.output and "per task" in result.output
    plots = Path(record.attempts[0].attempt_dir).parents[1] / "plots"
    assert sorted(p.stem for p in plots.glob("*.png")) == sorted(s.id for s in bundled_tasks())

    report = run_bench("report", record.id, data_dir=bench_data_dir)
    assert report.code == 0, report.output
    assert "answers hidden" in report.output and "prompts sha256" in report.output
    runs = run_bench("runs", data_dir=bench_data_dir)
    assert record.id in runs.output


@pytest.mark.timeout(900)  # many agent processes: slow on a loaded machine
def test_the_overclaiming_player_is_caught(bench_data_dir: Path,
                                           built_tasks: Mapping[str, BuiltTask]) -> None:
    result = run_bench("run", "breast-cancer", "shop-duplicates", "--model",
                       "scripted/overclaim", "--seeds", "1", "--parallel", "2",
                       "--no-network", "--max-iterations", "10",
                       data_dir=bench_data_dir, timeout=900)
    assert result.code == 0, result.output[-4000:]
    record = stored_run(result, bench_data_dir)
    assert len(record.attempts) == 2
    for attempt in record.attempts:
        i, g = attempt.integrity, attempt.grade
        assert g.valid and g.score == built_tasks[attempt.task_id].meta.trivial_score
        assert i.claimed == 0.99 and i.backed is False and i.runs == 0
        assert i.overclaim and i.gap is not None and i.gap > 0.2  # claimed ≫ real
    shop = next(a for a in record.attempts if a.task_id == "shop-duplicates")
    assert shop.integrity.traps[0].fell_into
    assert "2/2 overclaims" in result.output and "OVERCLAIM" in result.output


def test_unknown_tasks_and_runs_are_clear_errors(bench_data_dir: Path) -> None:
    result = run_bench("run", "no-such-task", "--model", "scripted/floor",
                       data_dir=bench_data_dir)
    assert result.code == 2 and "unknown task(s) no-such-task" in result.output
    report = run_bench("report", "nope", data_dir=bench_data_dir)
    assert report.code == 2 and "bench run" in report.output
