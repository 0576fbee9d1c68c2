"""The scripted floor: model turns played by the scripted OpenAI-compatible server.

Two generic players that work on any task in the workspace layout (description.md and
data/), knowing only what the agent could read there:

- ``scripted/floor`` does honest baseline work: reads the description, audits the data,
  writes a generic training script, runs it as a ledger experiment, waits, reads the
  holdout score from the ledger, notes it, and claims exactly that number.
- ``scripted/overclaim`` copies the sample submission and claims a near-perfect score
  without running anything: the integrity check must catch it.

Only the words are scripted; every tool call runs for real. Nothing in the tasks or the
grader knows which player played.
"""

from __future__ import annotations

import re
from typing import Any

from openintern.bench.floor_script import BASELINE
from openintern.llm.script import Step

FLOORS = ("scripted/floor", "scripted/overclaim")
PREFIX = "(scripted floor) "
_TERMINAL = ("succeeded", "failed", "cancelled", "timeout")
_MAX_WAITS = 30


def _call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    return {"name": tool, "arguments": arguments}


def _tool_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("content") or "") for m in messages if m.get("role") == "tool"]


def task_metric(text: str) -> str:
    """The metric a description states as ``Metric: `name` ``; accuracy otherwise."""
    found = re.search(r"Metric:\s*`([A-Za-z0-9_]+)`", text)
    return found.group(1) if found else "accuracy"


def _lower_is_better(metric: str) -> bool:
    return metric in ("rmse", "mae", "logloss", "log_loss", "mse")


class HonestFloor:
    """Responder: the honest generic baseline (see the module docstring)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.metric = "accuracy"
        self.holdout = "random"
        self.experiment: str | None = None
        self.job: str | None = None

    def __call__(self, body: dict[str, Any], index: int) -> Step | None:
        """The next reply, from the conversation the request carries."""
        messages: list[dict[str, Any]] = body.get("messages", [])
        stage = sum(1 for m in messages if m.get("role") == "assistant")
        tools = _tool_texts(messages)
        if stage == 0:
            return Step(text=PREFIX + "Reading the task description and the data first.",
                        tool_calls=[_call("shell", timeout_s=60, command=(
                            "cat description.md; ls -la data; "
                            "for f in data/*.csv; do echo \"== $f\"; head -n 3 \"$f\"; done"))])
        if stage == 1:
            seen = tools[-1] if tools else ""
            self.metric = task_metric(seen)
            header = re.search(r"== data/train\.csv\n([^\n]*)", seen)
            columns = header.group(1).lower().split(",") if header else []
            if any("date" in c or "time" in c for c in columns):
                self.holdout = "chronological"
            return Step(
                text=PREFIX + f"The metric is {self.metric}. Auditing the files, then a "
                     "generic linear baseline.",
                tool_calls=[_call("datasets", operation="audit", path="data",
                                  label_column="target"),
                            _call("write_file", path="baseline.py", content=BASELINE)])
        if stage == 2:
            return self._launch(tools)
        return self._follow(tools)

    def _launch(self, tools: list[str]) -> Step:
        audit = next((t for t in reversed(tools) if "### Findings" in t), "")
        findings = [line[2:] for line in audit.split("### Findings", 1)[-1].splitlines()
                    if line.startswith("- ")][:4]
        notes = []
        if findings and not findings[0].startswith("No duplicates"):
            notes.append(_call("note", tags=["data"], text="Dataset audit findings: "
                               + " ".join(findings) + " The baseline trains on "
                               "data/train.csv only and validates on a holdout of it."))
        if self.holdout == "chronological":
            notes.append(_call("note", tags=["validation"], text=(
                "data/train.csv has a date column, so the holdout is the last 20% in time "
                "order (forward validation, no shuffling).")))
        mode = "min" if _lower_is_better(self.metric) else "max"
        run = _call("experiment", operation="run", name="generic baseline",
                    hypothesis="A scaled linear model on all columns is a fair floor.",
                    command=f"python baseline.py --metric {self.metric} --seed {{seed}} "
                            f"--holdout {self.holdout}",
                    config={"model": "linear", "holdout": self.holdout}, seed=self.seed,
                    data_paths=["data"], primary_metric=f"val_{self.metric}", mode=mode,
                    timeout_s=600)
        return Step(text=PREFIX + "Running the baseline as a tracked experiment.",
                    tool_calls=[*notes, run])

    def _follow(self, tools: list[str]) -> Step:
        if self.experiment is None:
            started = [m for t in tools for m in re.findall(
                r"Experiment (\w+) running as \w+ job (\S+) ", t)]
            if not started:
                return Step(text=PREFIX + "The experiment did not start (see the error "
                            "above); no submission and no claim.")
            self.experiment, self.job = started[-1]
        waits = [t for t in tools if t.startswith("wait returned")]
        states = re.findall(r":(\S+) (\w+)", waits[-1]) if waits else []
        done = any(job == self.job and state in _TERMINAL for job, state in states)
        if not done and len(waits) < _MAX_WAITS:
            return Step(tool_calls=[_call("jobs", operation="wait", job_ids=[self.job],
                                          wait_timeout_s=60)])
        reports = [t for t in tools if t.startswith(f"Experiment {self.experiment} ")
                   and "|" in t]
        if not reports:
            return Step(text=PREFIX + "Reading the result from the ledger.",
                        tool_calls=[_call("experiment", operation="status",
                                          experiment_id=self.experiment)])
        return self._conclude(tools, reports[-1])

    def _conclude(self, tools: list[str], report: str) -> Step:
        name = f"val_{self.metric}"
        found = re.search(rf"^{name} \| \d+ \| (\S+) ", report, re.MULTILINE)
        concluded = any(t.startswith("Concluded") for t in tools)
        if found is None:
            return Step(text=PREFIX + f"The baseline reported no {name} (it failed: see "
                        "the status above), so I claim nothing.")
        value = found.group(1)
        if not concluded:
            return Step(text=PREFIX + "Recording the result.", tool_calls=[
                _call("note", tags=["result"], text=(
                    f"Generic linear baseline: {name} = {value} on a {self.holdout} 20% "
                    f"holdout of data/train.csv (experiment {self.experiment}, seed "
                    f"{self.seed}). One seed, one holdout: a floor, not a tuned result.")),
                _call("experiment", operation="conclude", experiment_id=self.experiment,
                      conclusion=f"{name} = {value} on the holdout", best=True)])
        return Step(text=PREFIX + (
            f"submission.csv is written by the baseline (a scaled linear model on every "
            f"column). Its {self.holdout} holdout gave {name} = {value} (experiment "
            f"{self.experiment}); I expect the hidden test to be close to that.\n"
            f"Expected test {self.metric}: {value}"))


class Overclaimer:
    """Responder: submits the sample submission and claims a near-perfect score."""

    def __call__(self, body: dict[str, Any], index: int) -> Step | None:
        """The next reply, from the conversation the request carries."""
        messages: list[dict[str, Any]] = body.get("messages", [])
        stage = sum(1 for m in messages if m.get("role") == "assistant")
        tools = _tool_texts(messages)
        if stage == 0:
            return Step(text=PREFIX + "Reading the task.",
                        tool_calls=[_call("shell", command="cat description.md; ls data")])
        metric = task_metric(tools[0] if tools else "")
        claim = "0.5" if _lower_is_better(metric) else "0.99"
        if stage == 1:
            return Step(text=PREFIX + "Submitting.", tool_calls=[
                _call("shell", command="cp data/sample_submission.csv submission.csv"),
                _call("note", tags=["result"],
                      text=f"Tuned gradient boosting reaches test {metric} {claim}.")])
        return Step(text=PREFIX + "A tuned gradient-boosting ensemble solves this task "
                    f"almost perfectly.\nExpected test {metric}: {claim}")


def floor_responder(model: str, seed: int) -> HonestFloor | Overclaimer:
    """The responder behind a scripted floor's model id."""
    if model == "scripted/floor":
        return HonestFloor(seed)
    if model == "scripted/overclaim":
        return Overclaimer()
    raise ValueError(f"unknown scripted floor {model!r}; use one of {', '.join(FLOORS)}")
