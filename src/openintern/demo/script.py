"""The demo's scripted model: a fixed research plan whose wording quotes the real numbers.

The responder decides its next reply from the request it receives (how far the session
has got, and what the tools returned: experiment and job ids, job states, the comparison
table), exactly as a model would see it. Only the choice of words is scripted; every id
and number it quotes comes from a real tool result.
"""

from __future__ import annotations

import json
import re
from typing import Any

from openintern.demo.files import INSPECT, TRAIN
from openintern.llm.script import Step

PREFIX = "(scripted model) "
TERMINAL = ("succeeded", "failed", "cancelled", "timeout")
MAX_WAITS = 40


def _call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    return {"name": tool, "arguments": arguments}


def _plan(done: int) -> dict[str, Any]:
    steps = ["Inspect the digits dataset (size, classes, balance, duplicates)",
             "Write one training script (model and seed as arguments)",
             "Sweep logistic regression vs an RBF SVM over several seeds",
             "Compare: mean ± 95% CI and a significance test against the baseline",
             "Conclude and record the result"]
    items = [{"text": s, "status": "done" if i < done else ("in_progress" if i == done
                                                              else "pending")}
             for i, s in enumerate(steps)]
    return _call("plan", items=items)


def _find(tools: list[str], pattern: str) -> list[str]:
    return [m for text in tools for m in re.findall(pattern, text)]


def _ranking_rows(table: str) -> list[list[str]]:
    """Cells of the comparison table's data rows (rank, config, name, result, p, ids),
    the config shown as ``key=value``."""
    rows = []
    for line in table.splitlines():
        if re.match(r"\|\s*\d+\s*\|", line):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            try:
                config = json.loads(cells[1])
                cells[1] = ", ".join(f"{k}={v}" for k, v in config.items())
            except (ValueError, AttributeError):
                pass
            rows.append(cells)
    return rows


class DemoResponder:
    """Callable responder for :class:`~openintern.llm.scripted.ScriptedServer`."""

    def __init__(self, seeds: int = 5) -> None:
        self.seeds = seeds
        # What a model keeps in mind once old tool outputs are masked: the sweep's ids.
        self._sweep: tuple[str, list[str], list[str]] | None = None

    def __call__(self, body: dict[str, Any], index: int) -> Step:
        """The next reply, from the conversation the request carries."""
        messages: list[dict[str, Any]] = body.get("messages", [])
        stage = sum(1 for m in messages if m.get("role") == "assistant")
        tools = [str(m.get("content") or "") for m in messages if m.get("role") == "tool"]
        if stage == 0:
            return Step(text=PREFIX + "I'll plan the study, then look at the data first.",
                        tool_calls=[_plan(0), _call("shell", command=INSPECT, timeout_s=120)])
        if stage == 1:
            return Step(text=PREFIX + "Ten balanced classes, no duplicate rows: plain "
                        "accuracy is a fair metric. One script, model and seed as arguments.",
                        tool_calls=[_call("write_file", path="train.py", content=TRAIN),
                                    _plan(2)])
        if stage == 2:
            return Step(
                text=PREFIX + f"Both models, {self.seeds} seeds each, as tracked experiments "
                "running in parallel.",
                tool_calls=[_call(
                    "sweep", name="digits-classifier",
                    hypothesis="An RBF-kernel SVM classifies digits better than logistic "
                               "regression",
                    command="python train.py --model {model} --seed {seed}",
                    space={"model": ["logreg", "svm"]}, seeds=self.seeds,
                    primary_metric="test_accuracy", mode="max")])
        return self._after_sweep(tools)

    def _after_sweep(self, tools: list[str]) -> Step:
        if self._sweep is None:
            sweep = _find(tools, r"Sweep (\w+):")
            experiments = _find(tools, r"experiments: (.+)")
            jobs = _find(tools, r"job_ids: (.+)")
            if not (sweep and experiments and jobs):
                return Step(text=PREFIX + "The sweep did not start; see the error above.")
            self._sweep = (sweep[0], experiments[0].split(", "), jobs[0].split(", "))
        sweep_id, experiments, jobs = self._sweep
        waits = [t for t in tools if t.startswith("wait returned")]
        # Each wait lists every job it watched with its state; the latest one is current.
        pending = jobs
        if waits:
            pending = [j for j, state in re.findall(r"local:(\S+) (\w+)", waits[-1])
                       if state not in TERMINAL]
        if pending and len(waits) < MAX_WAITS:
            text = "" if waits else PREFIX + f"Waiting for {len(pending)} runs."
            return Step(text=text, tool_calls=[_call("jobs", operation="wait", job_ids=pending,
                                                     wait_timeout_s=60)])
        tables = [t for t in tools if "Welch's t-test" in t]
        if not tables:
            return Step(text=PREFIX + "All runs finished. Comparing against the logistic "
                        "regression baseline.",
                        tool_calls=[_call("experiment", operation="compare",
                                          sweep_id=sweep_id, baseline_id=experiments[0]),
                                    _plan(3)])
        rows = _ranking_rows(tables[-1])
        if not any(t.startswith("Concluded") for t in tools):
            if not rows:
                return Step(text=PREFIX + "No run reported the metric; see the table above.")
            best = rows[0]
            summary = "; ".join(f"{r[1]}: {r[3]} (p vs baseline: {r[4]})" for r in rows)
            return Step(
                text=PREFIX + "Recording the result and marking the best run.",
                tool_calls=[
                    _call("note", text=f"Digits, test accuracy over {self.seeds} seeds — "
                          f"{summary}.", tags=["result"]),
                    _call("experiment", operation="conclude",
                          experiment_id=best[5].split(",")[0].rstrip("…"),
                          conclusion=f"{best[1]} ranks first: {best[3]}", best=True),
                    _plan(5)])
        return Step(text=PREFIX + self._conclusion(rows))

    def _conclusion(self, rows: list[list[str]]) -> str:
        if len(rows) < 2:
            return "Conclusion: see the comparison above."
        best, other = rows[0], rows[1]
        p = other[4] if best[4] == "baseline" else best[4]
        try:
            significant = float(p) < 0.05
        except ValueError:
            significant = False
        verdict = ("a significant difference (Welch p < 0.05)" if significant
                   else "not a significant difference at the 5% level")
        return (f"Conclusion: {best[1]} is ahead with test accuracy {best[3]} versus "
                f"{other[3]} for {other[1]} — {verdict}, p = {p}. Every number here is in "
                "the experiment ledger: `intern runs` lists the runs. Next I would tune C "
                "and gamma with a cross-validated sweep.")
