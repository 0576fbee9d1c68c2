"""Data of the LLM demo: a multiple-choice task a 0.6 M-parameter model can learn on CPU.

"Which number is the largest?" with four two-digit numbers as choices. The instruction
set (small, with a few planted quality problems for the audit to find), the held-out
evaluation set (inspect_ai's sample format) and the scripted generator model's examples
all come from here, each from its own random stream, so the evaluation questions never
appear in the training data by construction (the contamination check confirms it).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

LETTERS = "ABCD"
QUESTIONS = ("Which number is the largest?", "Which of these numbers is the biggest?",
             "Pick the largest number.", "Which value is the greatest?")


def mc_item(rng: random.Random) -> dict[str, Any]:
    """One question: four two-digit numbers with distinct tens digits (so the largest is
    unambiguous at a glance), the answer the letter of the largest."""
    numbers = [10 * tens + rng.randrange(10) for tens in rng.sample(range(1, 10), 4)]
    answer = LETTERS[numbers.index(max(numbers))]
    return {"question": rng.choice(QUESTIONS), "choices": [str(n) for n in numbers],
            "answer": answer}


def instruction_rows(n: int = 60, seed: int = 1) -> list[dict[str, Any]]:
    """The small instruction set the demo audits: ``n`` clean rows plus two exact
    duplicates and one row whose answer is not a choice letter."""
    rng = random.Random(seed)
    rows = [mc_item(rng) for _ in range(n)]
    rows += [dict(rows[3]), dict(rows[7])]
    bad = mc_item(rng)
    bad["answer"] = "E"
    rows.append(bad)
    return rows


def eval_rows(n: int = 200, seed: int = 20_261_201) -> list[dict[str, Any]]:
    """The held-out evaluation set in inspect_ai's format (input, choices, target)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        item = mc_item(rng)
        out.append({"id": f"largest-{i:04d}", "input": item["question"],
                    "choices": item["choices"], "target": item["answer"]})
    return out


def generated_examples(prompt: str, count: int) -> list[dict[str, Any]]:
    """What the scripted generator model answers to a synthesis request: ``count``
    examples, seeded by the request text (so a retried request gets the same answer).
    One in twenty is malformed (a wrong answer letter) and some repeat, as real
    generators do; validation and deduplication must catch them."""
    rng = random.Random(prompt)
    out: list[dict[str, Any]] = []
    for _ in range(count):
        item = mc_item(rng)
        roll = rng.random()
        if roll < 0.05:
            item["answer"] = "Z"
        elif roll < 0.10 and out:
            item = dict(out[-1])
        out.append(item)
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
