"""A long single-turn session for the benchmark and the end-to-end test: the scripted
model reads a different ~4 KB file at every step and never stops early, the worst case
for context growth inside one autonomous turn (where ML Intern's compaction gave up)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openintern.llm.script import ScriptedToolCall, Step

FILES = 40
LINE = "epoch={i:04d} loss={loss:.6f} acc={acc:.6f} lr=0.000300 grad_norm=1.2345 note=ok\n"


def write_fixture_files(workspace: Path) -> None:
    """~4 KB log-like files the scripted model reads, one per step (cycling)."""
    logs = workspace / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for f in range(FILES):
        text = "".join(
            LINE.format(i=i, loss=1 / (i + f + 1), acc=1 - 1 / (i + f + 2)) for i in range(50)
        )
        (logs / f"run_{f:02d}.log").write_text(text)


class LongRunResponder:
    """Reads logs/run_XX.log at each call; the last call ends the turn."""

    def __init__(self, iterations: int) -> None:
        self.iterations = iterations

    def __call__(self, body: dict[str, Any], index: int) -> Step:
        """Step ``index`` of the run."""
        if index >= self.iterations - 1:
            return Step(text=f"Read {self.iterations - 1} logs; done.")
        path = f"logs/run_{index % FILES:02d}.log"
        return Step(
            text=f"step {index}: reading {path}",
            tool_calls=[
                ScriptedToolCall(
                    name="read_file", arguments={"path": path, "offset": 1 + index % 3}
                )
            ],
        )
