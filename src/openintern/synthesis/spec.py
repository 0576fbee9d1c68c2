"""What to synthesise: the task, the schema every example must match, seed examples,
diversity axes, how many, with which model, and where to write it."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field


class SynthesisSpec(BaseModel):
    """A synthetic dataset's recipe (its hash decides whether a run may resume)."""

    name: str = Field(description="Short name of the dataset.")
    task: str = Field(description="What the examples are for, in plain words.")
    json_schema: dict[str, Any] = Field(description="JSON schema each example must match.")
    seed_examples: list[dict[str, Any]] = Field(default_factory=list)
    axes: dict[str, list[str]] = Field(default_factory=dict)
    n: int = Field(100, ge=1, le=200_000)
    per_call: int = Field(5, ge=1, le=50)
    shots: int = Field(3, ge=0, le=20)
    model: str | None = None
    seed: int = 0
    upsample: int = Field(1, ge=1, le=1000)
    decontaminate: list[str] = Field(default_factory=list)
    near_dup_threshold: float = Field(0.9, gt=0, le=1)
    output: str

    def fingerprint(self) -> str:
        """Hash of everything that shapes the raw generations (not the post-processing)."""
        keys = ("task", "json_schema", "seed_examples", "axes", "n", "per_call", "shots",
                "model", "seed")
        data = json.dumps(self.model_dump(include=set(keys)), sort_keys=True, default=str)
        return hashlib.sha256(data.encode()).hexdigest()[:16]


SYSTEM_PROMPT = (
    "You write training data. Reply with only a JSON array of {count} objects, each "
    "matching this JSON schema:\n{schema}\nNo prose, no code fences."
)
USER_PROMPT = (
    "Task: {task}\n{scenario}Examples of the format:\n{examples}\n\n"
    "Write {count} new examples that differ from these and from each other."
)


@dataclass(frozen=True)
class GenerationTask:
    """One model call: its index, the scenario (one value per axis) and the prompt."""

    index: int
    scenario: dict[str, str]
    system: str
    user: str
    count: int


def plan(spec: SynthesisSpec) -> list[GenerationTask]:
    """The calls that produce ``spec.n`` candidates, deterministically from the seed:
    scenarios cycle through the shuffled product of the axes; shots are drawn per call."""
    rng = random.Random(spec.seed)
    names = sorted(spec.axes)
    combos: list[dict[str, str]] = [dict(zip(names, c, strict=True))
                                    for c in itertools.product(*(spec.axes[k] for k in names))]
    rng.shuffle(combos)
    if not combos:
        combos = [{}]
    system = SYSTEM_PROMPT.format(count="{count}", schema=json.dumps(spec.json_schema))
    tasks = []
    remaining = spec.n
    index = 0
    while remaining > 0:
        count = min(spec.per_call, remaining)
        scenario = combos[index % len(combos)]
        shots = rng.sample(spec.seed_examples, min(spec.shots, len(spec.seed_examples)))
        lines = "\n".join(json.dumps(s) for s in shots) or "(none given)"
        where = "".join(f"{k}: {v}\n" for k, v in scenario.items())
        user = USER_PROMPT.format(task=spec.task, scenario=where, examples=lines, count=count)
        tasks.append(GenerationTask(index, scenario, system.replace("{count}", str(count)),
                                    user, count))
        remaining -= count
        index += 1
    return tasks
