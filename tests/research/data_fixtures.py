"""Helpers for the datasets/hub/docs/github/web tool tests: a real ToolContext with an
in-memory research state, and a runner that goes through ToolRegistry.parse + tool.run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openintern.config import Settings
from openintern.events import EventBase, PlanItem
from openintern.sandbox.base import CommandResult
from openintern.tools.base import Tool, ToolContext, ToolRegistry, ToolResult


class MemoryState:
    """A ResearchState kept in memory."""

    def __init__(self) -> None:
        self.plan: list[PlanItem] = []
        self.notes: list[tuple[int, str, list[str]]] = []

    def set_plan(self, items: list[PlanItem]) -> None:
        self.plan = list(items)

    def get_plan(self) -> list[PlanItem]:
        return list(self.plan)

    def add_note(self, text: str, tags: list[str]) -> int:
        self.notes.append((len(self.notes) + 1, text, tags))
        return len(self.notes)

    def list_notes(self) -> list[tuple[int, str, list[str]]]:
        return list(self.notes)


class NoSandbox:
    """Read-only tools never run commands; any attempt fails the test."""

    async def run(self, *args: Any, **kwargs: Any) -> CommandResult:
        raise AssertionError("read-only tools must not run commands")

    def wrap(self, argv: list[str], env: dict[str, str] | None = None) -> Any:
        raise AssertionError("read-only tools must not run commands")


def make_ctx(workspace: Path, **settings: Any) -> ToolContext:
    """A ToolContext over ``workspace``; HTTP caching off unless a cache is given."""
    events: list[EventBase] = []

    def emit(event: EventBase) -> EventBase:
        events.append(event)
        return event

    return ToolContext(
        settings=Settings(workspace=workspace, **settings),
        workspace=workspace,
        sandbox=NoSandbox(),  # type: ignore[arg-type]
        state=MemoryState(),
        session_id="test",
        emit=emit,
        services={"http_cache": None},
    )


async def run_tool(tool: Tool[Any], ctx: ToolContext, **arguments: Any) -> ToolResult:
    """Validate the arguments like the loop does, then run the tool."""
    registry = ToolRegistry([tool])
    parsed_tool, params = registry.parse(tool.name, json.dumps(arguments))
    return await parsed_tool.run(params, ctx)
