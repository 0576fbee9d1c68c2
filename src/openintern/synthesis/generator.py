"""Running the generation calls: concurrent, resumable, within the session's budget.

Every finished call is appended at once to ``raw.jsonl`` in the run's work folder (one
line: task index, the model's raw reply, its usage), so a crash loses only the calls in
flight: a new run with the same spec skips what is there. The model call itself is one
function, :meth:`GeneratorModel.complete`, which also records the call's usage in the
session's totals, so the cost counts against the session budget.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openintern.llm.types import LLMClient, Message, ModelReply, Usage
from openintern.store import Store
from openintern.synthesis.spec import GenerationTask


class SynthesisError(RuntimeError):
    """Synthesis cannot go on (model unreachable, spec changed under a resume, ...)."""


@dataclass
class GeneratorModel:
    """The model synthetic data is made with, and where its spend is recorded."""

    client: LLMClient
    store: Store | None
    session_id: str | None

    async def complete(self, task: GenerationTask) -> ModelReply:
        """One generation call; its usage is added to the session's totals."""
        from openintern.llm.errors import LLMError

        messages = [Message(role="system", content=task.system),
                    Message(role="user", content=task.user)]
        reply: ModelReply | None = None
        try:
            async for item in self.client.stream(messages, None,
                                                 max_tokens=256 + 200 * task.count):
                if isinstance(item, ModelReply):
                    reply = item
        except LLMError as exc:  # retries exhausted, or the session's budget reached
            raise SynthesisError(f"the generator model {self.client.model} failed: {exc}"
                                 ) from None
        if reply is None:
            raise SynthesisError(f"the generator model {self.client.model} sent no reply")
        if self.store is not None and self.session_id is not None:
            await asyncio.to_thread(
                self.store.add_usage, self.session_id, cost_usd=reply.usage.cost_usd,
                prompt_tokens=reply.usage.prompt_tokens,
                completion_tokens=reply.usage.completion_tokens)
        return reply


@dataclass
class GenerationRun:
    """What the calls produced so far (this run and the ones it resumed)."""

    replies: dict[int, str] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    resumed: int = 0
    new_calls: int = 0
    stopped: str | None = None  # why generation stopped early (budget), if it did
    seconds: float = 0.0


def read_raw(path: Path) -> GenerationRun:
    """The calls already recorded in ``raw.jsonl`` (a torn last line is ignored)."""
    run = GenerationRun()
    if not path.exists():
        return run
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            index, text = int(record["task"]), str(record["text"])
        except (ValueError, KeyError, TypeError):
            continue  # the line a crash cut short
        run.replies[index] = text
        usage = record.get("usage") or {}
        run.usage.prompt_tokens += int(usage.get("prompt_tokens", 0))
        run.usage.completion_tokens += int(usage.get("completion_tokens", 0))
        run.usage.cost_usd += float(usage.get("cost_usd", 0.0))
    run.resumed = len(run.replies)
    return run


def _append(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


async def generate(tasks: list[GenerationTask], model: GeneratorModel, raw_path: Path, *,
                   concurrency: int = 8, budget_left: Callable[[], float | None] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> GenerationRun:
    """Run every task not yet in ``raw_path``, ``concurrency`` at a time. ``budget_left``
    (dollars, None for unlimited) is checked before each call; at zero the remaining
    calls are left for a later resume."""
    run = await asyncio.to_thread(read_raw, raw_path)
    todo = [t for t in tasks if t.index not in run.replies]
    started = time.perf_counter()
    queue: asyncio.Queue[GenerationTask] = asyncio.Queue()
    for task in todo:
        queue.put_nowait(task)
    lock = asyncio.Lock()
    failure: list[BaseException] = []

    async def worker() -> None:
        while not failure and run.stopped is None:
            try:
                task = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if budget_left is not None:
                left = await asyncio.to_thread(budget_left)
                if left is not None and left <= 0:
                    run.stopped = "the session budget is spent"
                    return
            try:
                reply = await model.complete(task)
            except SynthesisError as exc:
                failure.append(exc)
                return
            usage = {"prompt_tokens": reply.usage.prompt_tokens,
                     "completion_tokens": reply.usage.completion_tokens,
                     "cost_usd": reply.usage.cost_usd}
            async with lock:
                await asyncio.to_thread(_append, raw_path,
                                        {"task": task.index, "text": reply.text,
                                         "usage": usage})
                run.replies[task.index] = reply.text
                run.new_calls += 1
                run.usage.prompt_tokens += reply.usage.prompt_tokens
                run.usage.completion_tokens += reply.usage.completion_tokens
                run.usage.cost_usd += reply.usage.cost_usd
                if progress is not None:
                    progress(len(run.replies), len(tasks))

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(todo) or 1)))))
    run.seconds = time.perf_counter() - started
    if failure and not run.replies:
        raise SynthesisError(str(failure[0]))
    if failure:
        run.stopped = f"{failure[0]} (resume to finish the rest)"
    return run
