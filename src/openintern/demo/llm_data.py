"""Data of the LLM demo: a multiple-choice task a 0.6 M-parameter model can learn on CPU.

"In which range is 4821?" with four ranges of thousands as choices (always in the same
order): the model must read the number's leading digit and map it to the right letter,
a task a two-layer model learns in a minute where "which of four numbers is the
largest" takes it far longer (an argmax and a pointer back to a letter). The instruction
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
QUESTIONS = ("In which range is {n}?", "Which range contains {n}?",
             "Where does {n} fall?", "Pick the range of {n}.")
RANGES = ["1000-2999", "3000-4999", "5000-6999", "7000-9999"]


def answer_for(number: int) -> str:
    """The letter of the range holding ``number`` (1000..9999)."""
    return LETTERS[next(i for i, r in enumerate(RANGES) if number <= int(r.split("-")[1]))]


def mc_item(rng: random.Random) -> dict[str, Any]:
    """One question: a four-digit number, the four ranges, the letter of its range."""
    number = rng.randrange(1000, 10_000)
    return {"question": rng.choice(QUESTIONS).format(n=number), "choices": list(RANGES),
            "answer": answer_for(number)}


def instruction_rows(n: int = 60, seed: int = 1) -> list[dict[str, Any]]:
    """The small instruction set the demo audits: ``n`` clean rows (none of them an
    evaluation question) plus two exact duplicates and one row whose answer is not a
    choice letter."""
    rng = random.Random(seed)
    held_out = {r["input"] for r in eval_rows()}
    rows: list[dict[str, Any]] = []
    while len(rows) < n:
        item = mc_item(rng)
        if item["question"] not in held_out:
            rows.append(item)
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
        out.append({"id": f"range-{i:04d}", "input": item["question"],
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
