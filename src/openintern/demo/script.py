"""The demo's scripted model: a fixed research plan whose wording quotes the real numbers.

The responder decides its next reply from the request it receives (how far the session
has got, and what the last tool printed), exactly as a model would see it. Only the
choice of words is scripted; every number it quotes was printed by a real run.
"""

from __future__ import annotations

import json
from typing import Any

from openintern.demo.files import COMPARE, INSPECT, TRAIN
from openintern.llm.script import Step

PREFIX = "(scripted model) "


def _json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                out.append(value)
    return out


def _last_tool_output(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "tool":
            return str(m.get("content") or "")
    return ""


def _accuracies(text: str) -> list[float]:
    return [float(r["test_accuracy"]) for r in _json_lines(text) if "test_accuracy" in r]


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def _plan(done: int) -> dict[str, Any]:
    steps = [
        "Inspect the digits dataset (size, classes, balance, duplicates)",
        "Baseline: logistic regression over several seeds",
        "Variant: RBF-kernel SVM over the same seeds",
        "Compare with confidence intervals and a significance test",
        "Conclude",
    ]
    items = [
        {"text": s, "status": "done" if i < done else ("in_progress" if i == done else "pending")}
        for i, s in enumerate(steps)
    ]
    return _call("plan", items=items)


class DemoResponder:
    """Callable responder for :class:`~openintern.llm.scripted.ScriptedServer`."""

    def __init__(self, seeds: int = 5) -> None:
        self.seeds = seeds

    def __call__(self, body: dict[str, Any], index: int) -> Step:
        """The next reply, from how many assistant turns the request already holds."""
        messages: list[dict[str, Any]] = body.get("messages", [])
        stage = sum(1 for m in messages if m.get("role") == "assistant")
        last = _last_tool_output(messages)
        seeds = " ".join(str(s) for s in range(self.seeds))
        run_all = "for s in {seeds}; do python train.py --model {model} --seed $s; done"
        if stage == 0:
            return Step(
                text=PREFIX + "I'll plan the study, then look at the data first.",
                tool_calls=[_plan(0), _call("shell", command=INSPECT, timeout_s=120)],
            )
        if stage == 1:
            return Step(
                text=PREFIX + "The classes are balanced enough for plain accuracy. "
                "I'll write one training script that takes the model and seed.",
                tool_calls=[_call("write_file", path="train.py", content=TRAIN), _plan(1)],
            )
        if stage == 2:
            return Step(
                text=PREFIX + f"Baseline first: logistic regression, {self.seeds} seeds.",
                tool_calls=[
                    _call(
                        "shell", timeout_s=600, command=run_all.format(seeds=seeds, model="logreg")
                    )
                ],
            )
        if stage == 3:
            accs = _accuracies(last)
            mean = sum(accs) / len(accs) if accs else float("nan")
            return Step(
                text=PREFIX + "Recording the baseline, then trying an RBF-kernel SVM.",
                tool_calls=[
                    _call(
                        "note",
                        text=f"Baseline logistic regression on digits: mean test "
                        f"accuracy {mean:.4f} over {len(accs)} seeds ({accs}).",
                        tags=["baseline"],
                    ),
                    _plan(2),
                    _call("shell", timeout_s=600, command=run_all.format(seeds=seeds, model="svm")),
                ],
            )
        if stage == 4:
            return Step(
                text=PREFIX + "Now a fair comparison: mean, 95% CI and a paired "
                "t-test (both models see the same split for each seed).",
                tool_calls=[
                    _call("write_file", path="compare.py", content=COMPARE),
                    _plan(3),
                    _call("shell", command="python compare.py", timeout_s=120),
                ],
            )
        if stage == 5:
            summary = next((r for r in reversed(_json_lines(last)) if "p_value" in r), None)
            if summary is None:
                return Step(
                    text=PREFIX + "The comparison did not print a summary; see the output above."
                )
            svm, lr = summary["svm"], summary["logreg"]
            finding = (
                f"SVM (RBF) {svm['mean']:.4f} [95% CI {svm['ci_low']:.4f}, "
                f"{svm['ci_high']:.4f}] vs logistic regression {lr['mean']:.4f} "
                f"[{lr['ci_low']:.4f}, {lr['ci_high']:.4f}], n={svm['n']} seeds each; "
                f"paired t-test p = {summary['p_value']}"
            )
            return Step(
                text=PREFIX + "Saving the result.",
                tool_calls=[_call("note", text=finding, tags=["result"]), _plan(5)],
            )
        notes = [m for m in messages if m.get("role") == "tool" and "note" in str(m.get("name"))]
        verdict = "Recorded in the notes above." if notes else ""
        return Step(text=PREFIX + self._conclusion(messages) + " " + verdict)

    @staticmethod
    def _conclusion(messages: list[dict[str, Any]]) -> str:
        for m in reversed(messages):
            if m.get("role") != "tool":
                continue
            for r in reversed(_json_lines(str(m.get("content") or ""))):
                if "p_value" in r:
                    svm, lr, p = r["svm"], r["logreg"], r["p_value"]
                    better = "SVM" if svm["mean"] > lr["mean"] else "logistic regression"
                    strength = (
                        "a significant difference"
                        if p < 0.05
                        else "no significant difference at the 5% level"
                    )
                    return (
                        f"Conclusion: on digits, {better} is ahead — SVM {svm['mean']:.4f} "
                        f"vs logistic regression {lr['mean']:.4f} mean test accuracy over "
                        f"{svm['n']} seeds, {strength} (paired t-test p = {p}). Next I would tune "
                        "C and gamma with a cross-validated sweep."
                    )
        return "Conclusion: see the comparison above."
