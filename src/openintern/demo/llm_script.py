"""The scripted model of ``intern demo --llm``: the research turns of a post-training
study, and the generator model's replies to synthesis requests.

Like the classic demo's responder, it decides from the request it receives (how far the
session has got, what the tools returned) and quotes real ids and numbers from the tool
results. Requests without tools are the synthesize tool's generation calls: they get
examples of the demo task (with some malformed and repeated ones, as real generators
produce).
"""

from __future__ import annotations

import json
import re
from typing import Any

from openintern.demo.llm_data import LETTERS, generated_examples, instruction_rows
from openintern.llm.script import Step

PREFIX = "(scripted model) "
TERMINAL = ("succeeded", "failed", "cancelled", "timeout")
#: The prompt the demo trains and evaluates with (short: a 0.6 M model on a CPU).
TEMPLATE = "{question}\n{choices}"
SCHEMA = {
    "type": "object",
    "properties": {
        "question": {"type": "string", "minLength": 5},
        "choices": {"type": "array", "items": {"type": "string"}, "minItems": 4,
                    "maxItems": 4},
        "answer": {"type": "string", "enum": list(LETTERS)},
    },
    "required": ["question", "choices", "answer"],
    "additionalProperties": False,
}
CLEAN = """\
python - <<'PY'
import json
rows = [json.loads(line) for line in open("data/instructions.jsonl")]
seen, clean = set(), []
for row in rows:
    key = json.dumps(row, sort_keys=True)
    if row.get("answer") not in ("A", "B", "C", "D") or key in seen:
        continue
    seen.add(key)
    clean.append(row)
with open("data/instructions.clean.jsonl", "w") as out:
    out.writelines(json.dumps(r) + "\\n" for r in clean)
print(f"kept {len(clean)} of {len(rows)} rows")
PY"""


def _call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    return {"name": tool, "arguments": arguments}


def _plan(done: int) -> dict[str, Any]:
    steps = ["Audit the instruction data", "Clean it and synthesize more examples",
             "Train a small model with the SFT recipe", "Evaluate baseline and trained model",
             "Compare (CI, paired test, contamination) and conclude"]
    return _call("plan", items=[
        {"text": s, "status": "done" if i < done else ("in_progress" if i == done
                                                        else "pending")}
        for i, s in enumerate(steps)])


def _first(tools: list[str], pattern: str) -> str | None:
    for text in tools:
        found = re.search(pattern, text)
        if found:
            return found.group(1)
    return None


def synthesis_reply(body: dict[str, Any]) -> Step | None:
    """The generator model's answer to a synthesis request (None: not one)."""
    if body.get("tools"):
        return None
    messages = body.get("messages") or []
    system = str(messages[0].get("content", "")) if messages else ""
    if not system.startswith("You write training data"):
        return None
    user = str(messages[-1].get("content", ""))
    found = re.search(r"Write (\d+) new examples", user)
    count = int(found.group(1)) if found else 5
    return Step(text=json.dumps(generated_examples(user, count)))


class LLMDemoResponder:
    """Callable responder for :class:`~openintern.llm.scripted.ScriptedServer`."""

    def __init__(self, *, synthetic: int = 1200, steps: int = 120, eval_limit: int = 200,
                 generation_delay_s: float = 0.0) -> None:
        self.synthetic = synthetic
        self.steps = steps
        self.eval_limit = eval_limit
        self.generation_delay_s = generation_delay_s
        # What a model keeps in mind once old tool outputs are masked: the ids it saw.
        self._training: tuple[str, str, str, str] | None = None
        self._trained = False
        self._asked_evals = False
        self._evals: list[str] = []
        self._comparison: str | None = None

    def __call__(self, body: dict[str, Any], index: int) -> Step:
        """The next reply, from the conversation the request carries."""
        synthetic = synthesis_reply(body)
        if synthetic is not None:
            synthetic.delay_s = self.generation_delay_s
            return synthetic
        messages: list[dict[str, Any]] = body.get("messages", [])
        stage = sum(1 for m in messages if m.get("role") == "assistant")
        tools = [str(m.get("content") or "") for m in messages if m.get("role") == "tool"]
        if stage == 0:
            return Step(text=PREFIX + "First, what is in the instruction data?",
                        tool_calls=[_plan(0), _call("datasets", operation="audit",
                                                    path="data/instructions.jsonl",
                                                    label_column="answer")])
        if stage == 1:
            return self._clean_and_synthesize()
        if stage == 2:
            return self._train(tools)
        return self._after_training(tools)

    def _clean_and_synthesize(self) -> Step:
        seeds = instruction_rows()[:6]
        return Step(
            text=PREFIX + "The audit shows exact duplicates and an answer that is not a "
            "choice letter; I drop those. Sixty examples are too few to learn the task, so "
            "I synthesize more, decontaminated against the evaluation set.",
            tool_calls=[
                _call("shell", command=CLEAN, timeout_s=60),
                _call("synthesize", name="number-ranges", task="Multiple-choice questions: "
                      "in which of four ranges (1000-2999, 3000-4999, 5000-6999, 7000-9999, "
                      "in that order) is a four-digit number; answer is the range's "
                      "letter.", json_schema=SCHEMA, seed_examples=seeds,
                      axes={"wording": ["in which range", "which range contains",
                                        "where does it fall"],
                            "numbers": ["low", "middle", "high"]},
                      n=self.synthetic, per_call=20, seed=0, upsample=2,
                      decontaminate=["data/eval.jsonl"], output="data/synthetic.jsonl",
                      concurrency=8),
                _plan(2)])

    def _train(self, tools: list[str]) -> Step:
        if not any(t.startswith("Synthesized") for t in tools):
            return Step(text=PREFIX + "Synthesis failed; see the error above.")
        return Step(
            text=PREFIX + "Training a 2-layer Llama (built from a config, tokenizer trained "
            "on the data) with the SFT recipe, as a detached job in the sandbox.",
            tool_calls=[_call(
                "train", recipe="sft", name="ranges-sft",
                hypothesis="SFT on clean + synthetic data teaches a tiny model the task",
                init={"vocab_size": 512, "hidden_size": 128, "layers": 2, "heads": 4},
                dataset=["data/instructions.clean.jsonl", "data/synthetic.jsonl"],
                template=TEMPLATE, seed=0,
                hyperparameters={"learning_rate": 3e-3, "batch_size": 32,
                                 "max_steps": self.steps, "warmup_steps": 10,
                                 "logging_steps": 10, "max_length": 128},
                timeout_s=1800)])

    def _evaluate(self, model: str, name: str, parent: str) -> dict[str, Any]:
        return _call("evaluate", operation="run", model=model, task="data/eval.jsonl",
                     kind="mc", template=TEMPLATE, limit=self.eval_limit, max_tokens=8,
                     train_data=["data/instructions.clean.jsonl", "data/synthetic.jsonl"],
                     name=name, parent_id=parent, wait_s=1200, timeout_s=1200)

    def _after_training(self, tools: list[str]) -> Step:
        if self._training is None:
            exp = _first(tools, r"Training experiment (\w+)")
            job = _first(tools, r"job (\S+); config")
            final = _first(tools, r"Final model: (\S+?);")
            initial = _first(tools, r"untrained start: (\S+?)\. Wait")
            if not (exp and job and final and initial):
                return Step(text=PREFIX + "Training did not start; see the error above.")
            self._training = (exp, job, final, initial)
        exp, job, final, initial = self._training
        if not self._trained:
            waits = [t for t in tools if t.startswith("wait returned")]
            state = re.findall(r"local:\S+ (\w+)", waits[-1]) if waits else []
            if not state or state[0] not in TERMINAL:
                if len(waits) >= 20:
                    return Step(text=PREFIX + "Training takes too long; stopping here.")
                return Step(text="" if waits else PREFIX + "Waiting for the training job.",
                            tool_calls=[_call("jobs", operation="wait", job_ids=[job],
                                              wait_timeout_s=600)])
            if state[0] != "succeeded":
                return Step(text=PREFIX + f"The training job {state[0]}; see its log.")
            self._trained = True
        if not self._asked_evals:
            self._asked_evals = True
            return Step(text=PREFIX + "Training finished. Now the same evaluation, same "
                        "settings, for the untrained start and the trained model.",
                        tool_calls=[self._evaluate(initial, "eval baseline", exp),
                                    self._evaluate(final, "eval trained", exp), _plan(3)])
        if not self._evals:
            found = [t for t in tools if t.startswith("Evaluation ")]
            if len(found) < 2:
                return Step(text=PREFIX + "An evaluation failed; see the error above.")
            self._evals = found[-2:]
        ids = [re.match(r"Evaluation (\w+)", t) for t in self._evals]
        base, cand = (m.group(1) for m in ids if m)
        if self._comparison is None:
            found = [t for t in tools if t.startswith("Comparison on")]
            if not found:
                return Step(text=PREFIX + "Comparing the two on the same samples.",
                            tool_calls=[_call("evaluate", operation="compare",
                                              experiment_id=cand, baseline_id=base),
                                        _plan(4)])
            self._comparison = found[-1]
            return Step(text=PREFIX + "Recording the conclusion.",
                        tool_calls=[_call("experiment", operation="conclude",
                                          experiment_id=cand, best=True,
                                          conclusion=self._comparison.splitlines()[0]),
                                    _plan(5)])
        return Step(text=PREFIX + self._conclusion(self._comparison, self._evals))

    @staticmethod
    def _conclusion(comparison: str, evals: list[str]) -> str:
        accuracy = [re.search(r"accuracy (\S+) \[95% CI (\S+), (\S+)\]", e) for e in evals]
        shown = [f"{m.group(1)} [{m.group(2)} {m.group(3)}" for m in accuracy if m]
        diff = re.search(r"difference (\S+) \[95% bootstrap CI (\S+), (\S+)\], McNemar exact "
                         r"p = (\S+)", comparison)
        flagged = "FLAGGED" in comparison
        parts = ["Conclusion:"]
        if len(shown) == 2:
            parts.append(f"the untrained model scores {shown[0]}], chance level for four "
                         f"choices; after SFT it scores {shown[1]}].")
        if diff:
            parts.append(f"The paired difference is {diff.group(1)} (95% CI {diff.group(2)} "
                         f"to {diff.group(3)}, McNemar p = {diff.group(4)}).")
        parts.append("The contamination check flagged overlap, so I would not accept this "
                     "yet." if flagged else "The contamination check found no overlap "
                     "between the training data and the evaluation set, so the "
                     "improvement stands.")
        parts.append("Every number is in the ledger: `intern runs`.")
        return " ".join(parts)
