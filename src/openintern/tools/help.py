"""The ``help`` tool: a tool's full guide, read only when needed.

Specs sent with every request are terse (the docstring's first paragraph and a compact
schema); the rest of each docstring and every parameter's limits live here, so a session
pays for them only when the agent asks.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from openintern.tools.base import Tool, ToolContext, ToolError, ToolRegistry, ToolResult


class HelpParams(BaseModel):
    tool: str = Field(description="Tool name.")


class Help(Tool[HelpParams]):
    """A tool's full guide: operations, workflow, every parameter with defaults and limits."""

    name = "help"
    read_only = True

    def __init__(self, registry: ToolRegistry) -> None:
        self.registry = registry

    async def run(self, params: HelpParams, ctx: ToolContext) -> ToolResult:
        """The guide of ``params.tool`` (any tool offered now, MCP tools included)."""
        tool = self.registry.get(params.tool.strip())
        if tool is None:
            raise ToolError(
                f"no tool named {params.tool!r}; tools: {', '.join(self.registry.names())}"
            )
        return ToolResult(tool.guide(), data={"tool": tool.name})
