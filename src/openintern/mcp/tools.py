"""MCP servers' tools as OpenIntern tools: ``mcp__<server>__<tool>``, through the loop's
ordinary path (schema check, approval, result recording and redaction)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from openintern.config import McpServerConfig, Settings, data_dir
from openintern.events import ErrorEvent, EventBase
from openintern.mcp.connections import (
    McpConnections,
    McpUnavailableError,
    RemoteTool,
    ServerReport,
)
from openintern.tools.base import Tool, ToolContext, ToolError, ToolRegistry, ToolResult
from openintern.tools.schema import render_guide

PREFIX = "mcp__"
_NAME_OK = re.compile(r"[^A-Za-z0-9_-]")


class McpArguments(BaseModel):
    """Whatever the server's schema asks for (checked against that schema before the call)."""

    model_config = ConfigDict(extra="allow")


class McpTool(Tool[McpArguments]):
    """A tool of an MCP server (the description is the server's own)."""

    name: ClassVar[str] = "mcp"
    server: ClassVar[str] = ""
    remote_name: ClassVar[str] = ""
    remote_description: ClassVar[str] = ""
    input_schema: ClassVar[dict[str, Any]] = {}
    trusted: ClassVar[bool] = False

    def __init__(self, connections: McpConnections) -> None:
        self.connections = connections

    @classmethod
    def description(cls) -> str:
        """The server's description, labelled with where the tool comes from."""
        text = cls.remote_description.strip() or f"The {cls.remote_name} tool."
        return f"[MCP server {cls.server}] {text}"

    @classmethod
    def guide(cls) -> str:
        """The server's description and its input schema's parameters."""
        return render_guide(cls.name, cls.description(), cls.input_schema)

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """The server's JSON schema, offered as an OpenAI function tool."""
        return {"type": "function", "function": {
            "name": cls.name, "description": cls.description(), "parameters": cls.input_schema}}

    def approval_reason(self, params: McpArguments, ctx: ToolContext) -> str | None:
        """Every call needs approval unless the user trusts the server or this tool."""
        if self.trusted:
            return None
        return (f"runs {self.remote_name} on the MCP server {self.server!r} (an external "
                "program; trust it with `trusted = true` in its mcp_servers entry)")

    async def run(self, params: McpArguments, ctx: ToolContext) -> ToolResult:
        """Check the arguments against the server's schema, call it, return its content."""
        arguments = params.model_dump(mode="json")
        problems = _schema_problems(self.input_schema, arguments)
        if problems:
            raise ToolError(f"invalid arguments for {self.name}: {problems}")
        try:
            outcome = await self.connections.call(self.server, self.remote_name, arguments)
        except McpUnavailableError as exc:
            ctx.emit(ErrorEvent(message=f"{exc}; its tools are skipped from now on"))
            raise ToolError(f"{exc}. Its tools are unavailable for the rest of this session; "
                            "continue without them.") from None
        except TimeoutError as exc:
            raise ToolError(str(exc)) from None
        data = {"server": self.server, "tool": self.remote_name}
        if outcome.is_error:
            return ToolResult.error(outcome.text, **data)
        return ToolResult(text=outcome.text, data=data)


def tool_name(server: str, tool: str) -> str:
    """``mcp__<server>__<tool>``, made safe for every provider (letters, digits, _ and -,
    at most 64 characters; a long name keeps a hash of the full one)."""
    name = f"{PREFIX}{_NAME_OK.sub('_', server)}__{_NAME_OK.sub('_', tool)}"
    if len(name) <= 64:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:55]}_{digest}"


def make_tool(remote: RemoteTool, config: McpServerConfig, connections: McpConnections
              ) -> McpTool:
    """An McpTool subclass instance for one remote tool."""
    schema = dict(remote.input_schema) or {}
    if schema.get("type") != "object":
        schema = {"type": "object", "properties": {}}
    schema.setdefault("properties", {})
    name = tool_name(remote.server, remote.name)
    attrs: dict[str, Any] = {
        "name": name,
        "server": remote.server,
        "remote_name": remote.name,
        "remote_description": remote.description,
        "input_schema": schema,
        "trusted": config.trusted or remote.name in config.trusted_tools,
        "read_only": remote.read_only,
        "__doc__": remote.description,
    }
    cls = type(f"McpTool_{name}", (McpTool,), attrs)
    tool: McpTool = cls(connections)
    return tool


def open_connections(settings: Settings) -> McpConnections | None:
    """Start connecting the configured MCP servers (None when there are none)."""
    if not settings.mcp_servers:
        return None
    try:
        import mcp  # noqa: F401
    except ImportError:
        return None
    log_dir: Path = data_dir() / "mcp"
    return McpConnections(dict(settings.mcp_servers), log_dir).start()


def missing_sdk_message(settings: Settings) -> str | None:
    """What to tell the user when servers are configured but the SDK is not installed."""
    if not settings.mcp_servers:
        return None
    try:
        import mcp  # noqa: F401
    except ImportError:
        return ("mcp_servers are configured but the MCP SDK is not installed: "
                "pip install 'openintern[integrations]'; their tools are not offered")
    return None


async def offer_tools(connections: McpConnections, settings: Settings, registry: ToolRegistry,
                      emit: Any, reported: set[str]) -> None:
    """Wait for the servers (each at most its start timeout), put the tools of the ready
    ones into ``registry``, take out those of servers that failed or died, and report each
    failure once, as soon as it is known (``reported`` remembers which were)."""

    def settled(report: ServerReport) -> None:
        if report.status == "ready" or report.name in reported:
            return
        reported.add(report.name)
        event: EventBase = ErrorEvent(
            message=f"{connections.describe(report.name)}; its tools are skipped this session")
        emit(event)

    for report in await connections.wait_ready(settled):
        config = settings.mcp_servers[report.name]
        if report.status == "ready":
            for remote in report.tools:
                registry.add(make_tool(remote, config, connections))
        else:
            _drop_server_tools(registry, report.name)
            settled(report)


def _drop_server_tools(registry: ToolRegistry, server: str) -> None:
    for name in registry.names():
        tool = registry.get(name)
        if isinstance(tool, McpTool) and tool.server == server:
            registry.remove(name)


def _schema_problems(schema: dict[str, Any], arguments: dict[str, Any]) -> str:
    """Why ``arguments`` do not fit ``schema`` ('' when they do, or the schema is broken)."""
    import jsonschema

    try:
        validator = jsonschema.Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
    except jsonschema.SchemaError:
        return ""  # the server's schema is its own business; let it judge the call
    return "; ".join(
        f"{'.'.join(str(p) for p in e.path) or '(root)'}: {e.message}" for e in errors[:5])
