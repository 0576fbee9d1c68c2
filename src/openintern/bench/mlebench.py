"""MLE-bench competitions, as the user's own ``mlebench prepare`` left them.

The layout (openai/mle-bench): ``<data>/<competition>/prepared/public/`` holds
``description.md`` and the files the agent may see (``train.csv``, ``test.csv``,
``sample_submission.csv``, ...); ``<data>/<competition>/prepared/private/`` holds the
answers. The competition's definition lives in the installed ``mlebench`` package:
``mlebench/competitions/<competition>/config.yaml`` (``dataset.answers``, relative to the
data directory, and ``grader.grade_fn``, ``module:function``) and ``leaderboard.csv``
(the Kaggle leaderboard the medal thresholds come from). The default data directory is
mlebench's: ``~/.cache/mle-bench/data``.

The agent gets the public files under ``data/`` (and ``description.md`` at the workspace
root); the competition's own grade function scores the submission on the host, with
pandas frames as mlebench passes them.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import importlib.util
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openintern.bench.grader import SubmissionError
from openintern.bench.task import BuiltTask, TaskMeta

PREFIX = "mlebench:"
TIERS = ["gold", "silver", "bronze", "above median"]


class MLEBenchError(RuntimeError):
    """A competition cannot be used: not prepared, or mlebench is not installed."""


def default_data_dir() -> Path:
    """Where ``mlebench prepare`` writes by default."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir()) / "mle-bench" / "data"


def competitions_dir() -> Path:
    """The installed mlebench package's competition definitions."""
    spec = importlib.util.find_spec("mlebench")
    if spec is None or not spec.submodule_search_locations:
        raise MLEBenchError(
            "mlebench is not installed, so its competitions' graders are unavailable; "
            "install your mle-bench checkout (pip install -e path/to/mle-bench)")
    return Path(next(iter(spec.submodule_search_locations))) / "competitions"


def prepared(data_dir: Path) -> list[str]:
    """Competition ids with both a public and a private prepared folder."""
    if not data_dir.is_dir():
        return []
    return sorted(p.name for p in data_dir.iterdir()
                  if (p / "prepared" / "public").is_dir() and (p / "prepared" / "private").is_dir())


def _config(competition: str) -> dict[str, Any]:
    import yaml

    path = competitions_dir() / competition / "config.yaml"
    if not path.is_file():
        raise MLEBenchError(f"mlebench has no competition {competition!r} ({path} is missing)")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "grader" not in data or "dataset" not in data:
        raise MLEBenchError(f"{path} has no grader or dataset section")
    return data


def _import(target: str) -> Callable[..., Any]:
    module_name, _, name = target.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise MLEBenchError(f"cannot import the grader {target}: {exc}") from exc
    if not callable(fn):
        raise MLEBenchError(f"the grader {target} is not callable")
    return fn  # type: ignore[no-any-return]


def _leaderboard(competition: str) -> list[float]:
    path = competitions_dir() / competition / "leaderboard.csv"
    if not path.is_file():
        raise MLEBenchError(f"mlebench has no leaderboard for {competition} ({path})")
    with path.open(newline="", encoding="utf-8") as f:
        scores = [float(row["score"]) for row in csv.DictReader(f) if row.get("score")]
    if not scores:
        raise MLEBenchError(f"{path} has no scores")
    return scores


def medal_thresholds(scores: list[float]) -> tuple[dict[str, float], bool]:
    """Gold/silver/bronze/median thresholds of a leaderboard (best first), following
    Kaggle's progression rules by team count, and whether lower is better."""
    n = len(scores)
    lower = scores[0] < scores[-1]

    def at(position: int) -> float:
        return scores[min(max(position, 1), n) - 1]

    if n < 100:
        gold, silver, bronze = at(int(n * 0.1)), at(int(n * 0.2)), at(int(n * 0.4))
    elif n < 250:
        gold, silver, bronze = at(10), at(int(n * 0.2)), at(int(n * 0.4))
    elif n < 1000:
        gold, silver, bronze = at(10 + int(n * 0.002)), at(50), at(100)
    else:
        gold, silver, bronze = at(10 + int(n * 0.002)), at(int(n * 0.05)), at(int(n * 0.1))
    ordered = sorted(scores)
    mid = n // 2
    median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {"gold": gold, "silver": silver, "bronze": bronze, "above median": median}, lower


def _read_answers(path: Path) -> Any:
    import pandas as pd

    if path.suffix == ".csv":
        return pd.read_csv(path, float_precision="round_trip")
    if path.suffix == ".jsonl":
        import json

        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    raise MLEBenchError(f"answers in {path.suffix} files are not supported (csv, jsonl)")


def _grader(fn: Callable[..., Any], answers_path: Path) -> Callable[[bytes, BuiltTask], float]:
    def grade(data: bytes, task: BuiltTask) -> float:
        import pandas as pd

        try:
            submission = pd.read_csv(io.BytesIO(data), float_precision="round_trip")
        except (ValueError, pd.errors.ParserError) as exc:
            raise SubmissionError(f"submission.csv is not a readable CSV: {exc}") from None
        try:
            score = fn(submission, _read_answers(answers_path))
        except Exception as exc:  # the competition's grader rejects or fails on it
            kind = type(exc).__name__
            if kind == "InvalidSubmissionError":
                raise SubmissionError(f"invalid submission: {exc}") from None
            raise SubmissionError(f"the competition's grader failed: {kind}: {exc}") from None
        if score is None or not math.isfinite(float(score)):
            raise SubmissionError(f"the competition's grader returned {score!r}")
        return float(score)

    return grade


def mlebench_task(competition: str, data_dir: Path | None = None) -> BuiltTask:
    """A prepared competition as a bench task (nothing is copied or rebuilt)."""
    root = (data_dir or default_data_dir()).resolve() / competition
    public, private = root / "prepared" / "public", root / "prepared" / "private"
    if not public.is_dir() or not private.is_dir():
        raise MLEBenchError(f"{competition} is not prepared in {root.parent}: run "
                            f"`mlebench prepare -c {competition}` (or pass --mlebench-data)")
    if not (public / "description.md").is_file():
        raise MLEBenchError(f"{public} has no description.md; prepare it again with mlebench")
    config = _config(competition)
    answers = (data_dir or default_data_dir()).resolve() / str(config["dataset"]["answers"])
    if not answers.is_file():
        raise MLEBenchError(f"the answers {answers} are missing; prepare {competition} again")
    fn = _import(str(config["grader"]["grade_fn"]))
    thresholds, lower = medal_thresholds(_leaderboard(competition))
    spread = abs(thresholds["bronze"] - thresholds["above median"])
    with answers.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    meta = TaskMeta(
        id=PREFIX + competition, title=str(config.get("name", competition)),
        kind="MLE-bench competition", metric=str(config["grader"].get("name", "score")),
        higher_is_better=not lower, version="prepared", id_column="", target_column="",
        thresholds=thresholds, tiers=TIERS, below_tier="below median", references={},
        trivial_score=None,
        # No reference predictions exist here: half the bronze-to-median spread stands
        # in for the test score's noise.
        claim_tolerance=max(spread / 2, 1e-6),
        public_files=sorted(p.name for p in public.iterdir()),
        n_test=max(0, sum(1 for _ in answers.open(encoding="utf-8")) - 1),
        answers_sha256=digest, source="mlebench")
    return BuiltTask(root, meta, answers, public, grade_fn=_grader(fn, answers),
                     public_into="data")
