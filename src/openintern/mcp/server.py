"""``intern mcp``: OpenIntern's research tools as an MCP server (stdio).

The tools are the agent's own (papers and the citation graph, datasets inspect/audit, the
Hub, jobs on local/Ray/HF, the experiment ledger with its statistics), run in a recorded
session with the same sandbox, approvals and compute budget as inside OpenIntern:

- a call that needs approval (paid compute) runs without asking only when it fits the
  ``--compute-budget`` or under ``--yes``; otherwise the MCP client is asked to let its
  user decide (elicitation); a client that cannot ask gets a refusal that says how to
  allow it;
- results are redacted and long outputs spilled to a file, as for the agent.
"""

from __future__ import annotations

import hashlib
import json
import secrets as pysecrets
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from openintern.agent.session import ResearchSession, SessionOptions
from openintern.config import Settings
from openintern.events import ApprovalRequested, ApprovalResolved, ToolCallFinished, ToolCallStarted
from openintern.tools.base import Tool, ToolError, ToolRegistry, ToolResult

APPROVAL_KEY = "openintern_approval"
INSTRUCTIONS = (
    "OpenIntern's research tools: `papers` (arXiv, Semantic Scholar, citation graph), "
    "`datasets` (inspect and audit local or Hub data), `hub` (models, datasets), `jobs` "
    "(run commands on local/Ray/HF backends, detached), `experiment` and `sweep` (the "
    "experiment ledger: runs with configs, seeds, metrics; compare with mean ± 95% CI and "
    "Welch's t-test). Paid compute needs the user's approval."
)


def server_tools() -> ToolRegistry:
    """The tools ``intern mcp`` offers (no model-driven sub-agent: the client is the agent),
    and ``help`` for their full guides (their specs are the agent's compact ones)."""
    from openintern.tools.datasets import Datasets
    from openintern.tools.experiment import Experiment, Sweep
    from openintern.tools.help import Help
    from openintern.tools.hub import Hub
    from openintern.tools.jobs import Jobs
    from openintern.tools.papers import Papers

    registry = ToolRegistry([Papers(), Datasets(), Hub(), Jobs(), Experiment(), Sweep()])
    registry.add(Help(registry))
    return registry


@dataclass
class _Pending:
    """An approval question sent to the client (multi-round-trip protocol)."""

    digest: str
    asked_at: float
    call_id: str
    estimate: float | None


@dataclass
class ResearchToolServer:
    """The tool dispatch behind ``intern mcp``: one recorded session, its tools, and the
    approval and compute-budget policy of the agent loop."""

    session: ResearchSession
    registry: ToolRegistry
    pending: dict[str, _Pending] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings, session_id: str | None = None) -> ResearchToolServer:
        """A new session (or ``session_id``'s) serving the MCP tools."""
        # The server's own tools only: it does not connect to MCP servers itself.
        settings = settings.model_copy(update={"mcp_servers": {}})
        registry = server_tools()
        options = SessionOptions(headless=True)
        if session_id:
            session = ResearchSession.open(settings, session_id, options=options, tools=registry)
        else:
            session = ResearchSession.create(settings, "MCP server (intern mcp)",
                                             options=options, tools=registry)
        return cls(session, registry)

    # --- the MCP surface -------------------------------------------------------------
    def list_tools(self) -> list[Any]:
        """The tools as MCP ``Tool`` objects (schemas are the agent's own)."""
        import mcp_types as types

        out = []
        for name in self.registry.names():
            tool = self.registry.get(name)
            assert tool is not None
            spec = tool.spec()["function"]
            out.append(types.Tool(
                name=name, description=spec["description"], input_schema=spec["parameters"],
                annotations=types.ToolAnnotations(read_only_hint=tool.read_only)))
        return out

    async def call_tool(self, ctx: Any, params: Any) -> Any:
        """Validate, approve (or ask), run, record; an MCP ``CallToolResult`` or, while an
        approval question is out, an ``InputRequiredResult``."""
        import mcp_types as types

        name, arguments = params.name, dict(params.arguments or {})
        try:
            tool, parsed = self.registry.parse(name, json.dumps(arguments))
        except ToolError as exc:
            return _text_result(f"ERROR: {exc}", error=True)
        call_id = f"mcp_{pysecrets.token_hex(6)}"
        answer = await self._approve(ctx, params, tool, parsed, call_id)
        if isinstance(answer, types.InputRequiredResult):
            return answer
        if answer is not None:
            return _text_result(f"ERROR: {answer}", error=True)
        return _text_result(*await self._run(tool, parsed, call_id))

    # --- approvals -------------------------------------------------------------------
    async def _approve(self, ctx: Any, params: Any, tool: Tool[Any], parsed: BaseModel,
                       call_id: str) -> Any:
        """None to run; a denial text; or an InputRequiredResult asking the user."""
        tctx = self.session.tool_ctx
        reason = tool.approval_reason(parsed, tctx)
        if reason is None:
            return None
        answered = self._answer(params, tool.name, parsed)
        if answered is not None:
            # The retry of a call whose question the user has answered (multi-round-trip).
            pending, approved = answered
            self._resolve(pending.call_id, approved, "mcp client user",
                          pending.estimate if approved else None)
            return None if approved else "the user did not approve this action"
        estimate = await tool.cost_estimate_usd(parsed, tctx)
        request = ApprovalRequested(request_id=call_id, name=tool.name,
                                    arguments=parsed.model_dump(mode="json"), reason=reason,
                                    cost_estimate_usd=estimate)
        self._emit(request)
        settings = self.session.settings
        spent = self.session.store.get_session(self.session.info.id).compute_spent_usd
        budget = settings.compute_budget_usd
        if estimate is not None and budget is not None and spent + estimate <= budget:
            return self._resolve(call_id, True, "compute budget", estimate)
        if settings.auto_approve:
            return self._resolve(call_id, True, "--yes", estimate)
        decision = await self._ask_client(ctx, params, tool.name, request)
        if isinstance(decision, bool):
            self._resolve(call_id, decision, "mcp client user", estimate if decision else None)
            return None if decision else "the user did not approve this action"
        if decision is None:
            self._resolve(call_id, False, "no way to ask", None)
            cost = f" (estimated ${estimate:.2f})" if estimate is not None else ""
            return (f"{tool.name} needs the user's approval{cost}: {reason}. This MCP client "
                    "cannot ask its user (no elicitation support), so it was not run. Ask "
                    "the user to restart `intern mcp` with --compute-budget DOLLARS (or --yes)")
        return decision  # the question itself (InputRequiredResult)

    async def _ask_client(self, ctx: Any, params: Any, name: str,
                          request: ApprovalRequested) -> bool | Any | None:
        """True/False from the user; None when the client cannot ask; or, on the
        multi-round-trip protocol, the InputRequiredResult carrying the question."""
        import mcp_types as types
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        digest = _digest(name, request.arguments)
        can_ask = ctx.session.check_client_capability(
            types.ClientCapabilities(elicitation=types.ElicitationCapability()))
        if not can_ask:
            return None
        message = _question(request)
        schema = {"type": "object", "properties": {"approve": {
            "type": "boolean", "title": "Approve", "description": "Run it?"}},
            "required": ["approve"]}
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            token = pysecrets.token_urlsafe(16)
            # Questions never answered expire after an hour (a client may give up).
            for key in [k for k, v in self.pending.items() if time.time() - v.asked_at > 3600]:
                del self.pending[key]
            self.pending[token] = _Pending(digest, time.time(), request.request_id,
                                           request.cost_estimate_usd)
            ask = types.ElicitRequest(params=types.ElicitRequestFormParams(
                message=message, requested_schema=schema))
            return types.InputRequiredResult(input_requests={APPROVAL_KEY: ask},
                                             request_state=token)
        result = await ctx.session.elicit_form(message, schema, ctx.request_id)
        return _accepted(result)

    def _answer(self, params: Any, name: str, parsed: BaseModel
                ) -> tuple[_Pending, bool] | None:
        """(the question, approved?) when this call carries the user's answer to a question
        this server asked; None otherwise. An answer approves only the very call it was
        asked about, once."""
        responses = getattr(params, "input_responses", None) or {}
        state = getattr(params, "request_state", None)
        if APPROVAL_KEY not in responses or state not in self.pending:
            return None
        pending = self.pending.pop(state)
        same = pending.digest == _digest(name, parsed.model_dump(mode="json"))
        return pending, same and _accepted(responses[APPROVAL_KEY])

    def _resolve(self, call_id: str, approved: bool, by: str, spend: float | None) -> None:
        if approved and spend:
            store, sid = self.session.store, self.session.info.id
            spent = store.get_session(sid).compute_spent_usd
            store.update_session(sid, compute_spent_usd=spent + spend)
        self._emit(ApprovalResolved(request_id=call_id, approved=approved, by=by))

    # --- running ---------------------------------------------------------------------
    async def _run(self, tool: Tool[Any], parsed: BaseModel, call_id: str) -> tuple[str, bool]:
        from openintern.agent.context import truncate_tool_output

        tctx = self.session.tool_ctx
        self._emit(ToolCallStarted(call_id=call_id, name=tool.name,
                                   arguments=parsed.model_dump(mode="json")))
        start = time.perf_counter()
        try:
            result = await tool.run(parsed, tctx)
        except ToolError as exc:
            result = ToolResult.error(str(exc))
        except Exception as exc:  # a tool bug is the caller's error text, not a dead server
            result = ToolResult.error(f"{tool.name} failed unexpectedly: "
                                      f"{type(exc).__name__}: {exc}")
        text = self.session.store.redactor.text(result.text)
        text = truncate_tool_output(
            text, max_chars=self.session.settings.tool_output_max_chars,
            spill_path=tctx.workspace / ".openintern" / "spill" / f"{call_id}.txt",
            workspace=tctx.workspace)
        self._emit(ToolCallFinished(call_id=call_id, name=tool.name, ok=result.ok,
                                    preview=text[:2000],
                                    duration_s=round(time.perf_counter() - start, 4),
                                    data=result.data))
        return text, not result.ok

    def _emit(self, event: Any) -> None:
        self.session.bus.emit(event)


def _text_result(text: str, error: bool = False) -> Any:
    import mcp_types as types

    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=error)


def _digest(name: str, arguments: dict[str, Any]) -> str:
    raw = json.dumps([name, arguments], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _accepted(answer: Any) -> bool:
    if getattr(answer, "action", None) != "accept":
        return False
    content = getattr(answer, "content", None) or {}
    return content.get("approve") is True


def _question(request: ApprovalRequested) -> str:
    cost = (f" Estimated cost: ${request.cost_estimate_usd:.2f}."
            if request.cost_estimate_usd is not None else "")
    args = json.dumps(request.arguments, default=str)
    if len(args) > 600:
        args = args[:600] + "…"
    return f"OpenIntern wants to run {request.name}: {request.reason}.{cost} Arguments: {args}"


async def serve_stdio(settings: Settings, session_id: str | None = None) -> None:
    """Serve the research tools on stdin/stdout until the client disconnects."""
    from mcp.server import Server
    from mcp.server.stdio import stdio_server

    from openintern import __version__

    tools = ResearchToolServer.open(settings, session_id)

    async def list_tools(ctx: Any, params: Any) -> Any:
        import mcp_types as types

        return types.ListToolsResult(tools=tools.list_tools())

    server: Server[Any] = Server("openintern", version=__version__, instructions=INSTRUCTIONS,
                                 on_list_tools=list_tools, on_call_tool=tools.call_tool)
    try:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    finally:
        tools.session.close()
