"""The bundled benchmark tasks (see docs/bench.md for each one's data, metric and traps)."""

from __future__ import annotations

from openintern.bench.task import TaskSpec


def bundled_tasks() -> list[TaskSpec]:
    """Every bundled task, in the order `intern bench list` shows them."""
    from openintern.bench.tasks import tabular, text, timeseries

    return [*tabular.TASKS, *timeseries.TASKS, *text.TASKS]
