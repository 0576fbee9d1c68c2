"""The metric protocol: track.log, line parsing, incremental streams, alerts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from openintern import track
from openintern.compute.alerts import (
    Divergence,
    NonFinite,
    Plateau,
    check_alerts,
    rules_from_spec,
)
from openintern.compute.metrics import (
    MetricPoint,
    MetricStream,
    StreamState,
    parse_lines,
    summarise,
)


def test_track_log_appends_json_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.jsonl"
    monkeypatch.setenv("OPENINTERN_METRICS", str(path))
    track.log(step=1, loss=0.5, acc=1)
    track.log(loss=float("nan"))
    with pytest.warns(UserWarning, match="not a number"):
        track.log(step=3, loss="high")  # type: ignore[arg-type]
    stream = MetricStream(path, require_step=False)
    points = stream.read_new()
    assert [(p.step, p.name) for p in points] == [(1, "loss"), (1, "acc"), (2, "loss")]
    assert points[0].value == 0.5 and math.isnan(points[2].value)


def test_track_log_outside_a_job_is_a_warned_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENINTERN_METRICS", raising=False)
    monkeypatch.setattr(track, "_warned", False)
    with pytest.warns(UserWarning, match="OPENINTERN_METRICS"):
        track.log(step=1, loss=1.0)
    track.log(step=2, loss=1.0)  # warns only once; still no error


def test_trainer_lines_are_parsed() -> None:
    lines = [
        "{'loss': 0.6931, 'grad_norm': 1.2, 'learning_rate': 5e-05, 'epoch': 0.5}",
        "  5%|▌         | 10/200 [00:01<00:19,  9.7it/s]",
        "{'loss': nan, 'grad_norm': inf, 'learning_rate': -1e-05, 'epoch': 1.0}",
        "{'eval_loss': 0.5, 'eval_runtime': 1.5, 'epoch': 1.0}",
        "{'train_runtime': 12.3, 'train_samples_per_second': 40.1, 'epoch': 2.0}",
    ]
    result = parse_lines(lines, require_step=True)
    assert result.skipped == 0
    by = {(p.step, p.name): p.value for p in result.points}
    assert by[(1, "loss")] == 0.6931 and by[(1, "learning_rate")] == 5e-05
    assert math.isnan(by[(2, "loss")]) and by[(2, "grad_norm")] == math.inf
    assert by[(2, "learning_rate")] == -1e-05
    assert by[(3, "eval_loss")] == 0.5 and by[(4, "train_runtime")] == 12.3


def test_garbage_is_skipped_and_counted_never_crashing() -> None:
    lines = [
        '{"step": 1, "loss": 0.9}',
        '{"step": 2, "loss": "nan"}',              # string value
        '{"step": 3, "loss": 0.',                  # truncated JSON
        "{'loss': __import__('os').system('x')}",  # not a dict of numbers
        "{'loss': 'high', 'epoch': 1}",
        '{"step": "three", "loss": 0.1}',
        '{"no_step": 1}',                          # plain JSON output, not a metric
        "{1, 2, 3}",                               # a printed set
        "[" * 5000,
        '{"step": 4, "loss": 0.7, "note": "ok", "acc": true}',
        "",
        "plain text",
    ]
    result = parse_lines(lines, require_step=True)
    assert [(p.step, p.name, p.value) for p in result.points] == [
        (1, "loss", 0.9), (4, "loss", 0.7)]
    assert result.skipped == 5


def test_stream_is_incremental_and_resumable(tmp_path: Path) -> None:
    path = tmp_path / "out.log"
    path.write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "lo')
    stream = MetricStream(path, require_step=True)
    assert [p.step for p in stream.read_new()] == [1]
    with open(path, "a") as handle:
        handle.write('ss": 0.8}\n{"step": 3, "loss": 0.6}')
    assert [p.step for p in stream.read_new()] == [2]
    saved = StreamState.from_dict(stream.state.to_dict())
    resumed = MetricStream(path, require_step=True, state=saved)
    assert [p.step for p in resumed.read_new(final=True)] == [3]
    assert resumed.read_new(final=True) == []


def test_stream_follows_a_fast_writer_cheaply(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    stream = MetricStream(path, require_step=False)
    total = 0
    with open(path, "a") as handle:
        for second in range(5):
            for i in range(1000):
                handle.write(f'{{"step": {second * 1000 + i}, "loss": {1 / (i + 1)}}}\n')
            handle.flush()
            total += len(stream.read_new())
    assert total == 5000


def test_summary_reports_last_min_max_count() -> None:
    points = [MetricPoint(s, "loss", v, 0.0) for s, v in [(1, 3.0), (2, 1.0), (3, float("nan")),
                                                           (4, 2.0)]]
    s = summarise(points)["loss"]
    assert (s.n, s.last, s.last_step, s.min, s.max) == (4, 2.0, 4, 1.0, 3.0)


def _series(values: list[float], name: str = "loss") -> list[MetricPoint]:
    return [MetricPoint(i, name, v, 0.0) for i, v in enumerate(values, 1)]


def test_alerts_nan_divergence_plateau() -> None:
    nan = check_alerts(_series([1.0, 0.9, float("nan")]))
    assert [(a.rule, a.step, a.stop) for a in nan] == [("nan", 3, True)]
    assert "became nan at step 3" in nan[0].message
    blowup = check_alerts(_series([1.0, 0.5, 0.4, 2.5]))
    assert [(a.rule, a.step) for a in blowup] == [("divergence", 4)]
    rising = check_alerts(_series([1.0, 1.1, 1.2, 1.3, 1.4]), [Divergence(patience=3)])
    assert rising and "increased for 3" in rising[0].message
    flat = check_alerts(_series([0.5, 0.6, 0.6, 0.6, 0.6], "val_acc"),
                        [Plateau("val_acc", patience=3, mode="max")])
    assert [(a.rule, a.stop) for a in flat] == [("plateau", False)]
    healthy = _series([1.0, 0.8, 0.6, 0.5, 0.45, 0.44])
    assert check_alerts(healthy, [NonFinite(), Divergence(patience=3),
                                  Plateau("loss", patience=3)]) == []
    # Metrics that are not loss-like are not watched by the default rules.
    assert check_alerts(_series([1.0, float("inf")], "throughput")) == []


def test_rules_from_spec() -> None:
    rules = rules_from_spec([{"rule": "plateau", "metric": "val_acc", "patience": 5,
                              "mode": "max"}])
    assert rules == [Plateau("val_acc", patience=5, mode="max")]
    with pytest.raises(ValueError, match="unknown alert rule"):
        rules_from_spec([{"rule": "vibes"}])
    with pytest.raises(ValueError, match="bad fields"):
        rules_from_spec([{"rule": "nan", "colour": "red"}])


def test_remote_jobs_echo_tracked_metrics_into_their_logs(tmp_path: Path) -> None:
    """Ray and HF jobs keep the metrics file on the cluster: track.log also prints each
    line, and the log parser recovers the same points from the job's output."""
    import subprocess
    import sys

    from openintern.compute.base import JobSpec
    from openintern.compute.job_env import wrapped_command

    script = wrapped_command(JobSpec(
        command=f"{sys.executable} -c 'from openintern import track; "
                "track.log(step=1, loss=0.5); track.log(step=2, loss=0.25)'",
        workdir=tmp_path))
    out = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout
    parsed = parse_lines(out.splitlines(), require_step=True)
    assert [(p.step, p.name, p.value) for p in parsed.points] == [(1, "loss", 0.5),
                                                                  (2, "loss", 0.25)]
    files = list(tmp_path.rglob("metrics.jsonl"))
    assert len(files) == 1 and len(files[0].read_text().splitlines()) == 2
