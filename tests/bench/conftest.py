"""Shared set-up of the bench tests: one data directory for the whole session, so the
bundled tasks are built once; it lies outside /tmp (which the sandbox replaces anyway),
so only the sandbox's hiding of OpenIntern's data directory keeps the answers hidden."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from openintern.bench.task import BuiltTask, build_task
from openintern.bench.tasks import bundled_tasks


@pytest.fixture(scope="session")
def bench_data_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """OpenIntern's data directory for every bench test (tasks, runs, stores)."""
    root = request.config.rootpath / "test-output" / f"bench-data-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


class BuiltTasks(Mapping[str, BuiltTask]):
    """The bundled tasks by id, each built on first use into the shared data directory."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.specs = {spec.id: spec for spec in bundled_tasks()}
        self.built: dict[str, BuiltTask] = {}

    def __getitem__(self, task_id: str) -> BuiltTask:
        if task_id not in self.built:
            self.built[task_id] = build_task(self.specs[task_id], self.home)
        return self.built[task_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)


@pytest.fixture(scope="session")
def built_tasks(bench_data_dir: Path) -> BuiltTasks:
    """Every bundled task, built once (when first needed) into the shared data directory."""
    return BuiltTasks(bench_data_dir / "bench")
