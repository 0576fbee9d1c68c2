"""The tool contract.

A tool is a pydantic params model (its JSON schema is what the model sees), a docstring
(its description, written for the model), an async ``run`` returning a :class:`ToolResult`,
and flags. Tools never print; they return.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, get_args

from pydantic import BaseModel, ValidationError

from openintern.events import EventBase, PlanItem
from openintern.tools.schema import compact_schema, first_paragraph, has_guide_only, render_guide

if TYPE_CHECKING:
    from openintern.config import Settings
    from openintern.sandbox.base import Sandbox


class ToolError(Exception):
    """A tool failed in a way the model can act on; the message is shown to the model."""


@dataclass
class ToolResult:
    """What a tool returns: ``text`` for the model, ``data`` for events and the store."""

    text: str
    ok: bool = True
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def error(cls, message: str, **data: Any) -> ToolResult:
        """A failed call, phrased so the model knows what to do next."""
        text = message if message.startswith("ERROR:") else f"ERROR: {message}"
        return cls(text=text, ok=False, data=data)


class ResearchState(Protocol):
    """The durable research facts a tool may update (backed by the store)."""

    def set_plan(self, items: list[PlanItem]) -> None:
        """Replace the plan."""
        ...

    def get_plan(self) -> list[PlanItem]:
        """The current plan."""
        ...

    def add_note(self, text: str, tags: list[str]) -> int:
        """Save a note; returns its id."""
        ...

    def list_notes(self) -> list[tuple[int, str, list[str]]]:
        """All notes as (id, text, tags)."""
        ...


# The id of the tool call being run: set by the loop around each call (each runs in its
# own task), read through ``ToolContext.call_id`` by tools that stream progress events.
_CURRENT_CALL: ContextVar[str] = ContextVar("openintern_tool_call", default="")


@contextlib.contextmanager
def running_call(call_id: str) -> Iterator[None]:
    """Mark the code inside as running the tool call ``call_id``."""
    token = _CURRENT_CALL.set(call_id)
    try:
        yield
    finally:
        _CURRENT_CALL.reset(token)


@dataclass
class ToolContext:
    """Everything a tool may use. Tools reach the world only through this."""

    settings: Settings
    workspace: Path
    sandbox: Sandbox
    state: ResearchState
    session_id: str
    emit: Callable[[EventBase], EventBase]
    # Extra capabilities registered by later layers (job backends, ledger, clients).
    services: dict[str, Any] = field(default_factory=dict)

    @property
    def call_id(self) -> str:
        """The id of the tool call being run ("" outside one)."""
        return _CURRENT_CALL.get()

    def resolve_path(self, path: str) -> Path:
        """Resolve a model-supplied path inside the workspace, refusing escapes."""
        raw = Path(path).expanduser()
        candidate = raw if raw.is_absolute() else self.workspace / raw
        resolved = candidate.resolve()
        root = self.workspace.resolve()
        if resolved != root and root not in resolved.parents:
            raise ToolError(
                f"path {path!r} is outside the workspace {root}; use a path inside it"
            )
        return resolved


P = TypeVar("P", bound=BaseModel)


class Tool(Generic[P]):
    """Base class of every tool. Subclasses set ``name``, write a docstring for the model,
    and implement ``run``. The params model is taken from the generic argument."""

    name: ClassVar[str]
    params: ClassVar[type[BaseModel]]
    # Needs the user's approval before running (money, destructive, irreversible).
    needs_approval: ClassVar[bool] = False
    # Reads only: may run concurrently with other read-only calls.
    read_only: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            args = get_args(base)
            if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
                cls.params = args[0]

    async def run(self, params: P, ctx: ToolContext) -> ToolResult:
        """Do the work. Raise :class:`ToolError` for failures the model should see."""
        raise NotImplementedError

    def approval_reason(self, params: P, ctx: ToolContext) -> str | None:
        """Why this particular call needs approval (None: it does not). Defaults to the
        class flag; tools with conditional approval (cost, scope) override it."""
        return "this action needs approval" if self.needs_approval else None

    def forwarded_secrets(self, params: P, ctx: ToolContext) -> list[str]:
        """Names of secrets this call hands to agent-written code (jobs). A call that
        forwards any is never approved automatically: not by a budget, not by --yes."""
        return []

    async def cost_estimate_usd(self, params: P, ctx: ToolContext) -> float | None:
        """Dollar estimate of this call, shown with approval requests (async: a backend
        may look up live prices)."""
        return None

    async def cost_forecast(self, params: P, ctx: ToolContext) -> str:
        """A sentence on what this call is expected to cost, shown with approval requests
        (e.g. from earlier runs of the same script); empty when there is none."""
        return ""

    @classmethod
    def description(cls) -> str:
        """The docstring's first paragraph: what the model reads in every request (the
        rest of the docstring is the tool's guide, shown by the ``help`` tool)."""
        return first_paragraph(cls.__doc__ or cls.name)

    @classmethod
    def guide(cls) -> str:
        """The whole docstring and every parameter with its default and limits."""
        return render_guide(cls.name, cls.__doc__ or cls.name, cls.params.model_json_schema())

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """The OpenAI function-tool spec: the description and a compact schema of the
        params model (see :mod:`openintern.tools.schema`); when parameters are left out
        of it, the description says where they are."""
        full = cls.params.model_json_schema()
        description = cls.description()
        if has_guide_only(full):
            description += " (More options: help.)"
        return {
            "type": "function",
            "function": {
                "name": cls.name,
                "description": description,
                "parameters": compact_schema(full),
            },
        }


class ToolRegistry:
    """The set of tools offered to the model, looked up by name."""

    def __init__(self, tools: Iterable[Tool[Any]] = ()) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool[Any]) -> None:
        """Register a tool (a later one with the same name replaces the earlier)."""
        self._tools[tool.name] = tool

    def remove(self, name: str) -> None:
        """Take a tool out (nothing happens when it is not there)."""
        self._tools.pop(name, None)

    def get(self, name: str) -> Tool[Any] | None:
        """The tool called ``name``, or None."""
        return self._tools.get(name)

    def names(self) -> list[str]:
        """Registered tool names, sorted."""
        return sorted(self._tools)

    def specs(self) -> list[dict[str, Any]]:
        """Specs of every tool, in a stable order (stable prefix for prompt caching)."""
        return [self._tools[name].spec() for name in self.names()]

    def parse(self, name: str, arguments: str) -> tuple[Tool[Any], BaseModel]:
        """Validate a model's call. Raises ToolError with a message the model can fix."""
        tool = self.get(name)
        if tool is None:
            raise ToolError(
                f"unknown tool {name!r}. Available tools: {', '.join(self.names())}"
            )
        try:
            raw = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise ToolError(
                f"arguments of {name} are not valid JSON ({exc.msg} at position {exc.pos}); "
                "send a single JSON object matching the tool's schema"
            ) from None
        if not isinstance(raw, dict):
            raise ToolError(f"arguments of {name} must be a JSON object, got {type(raw).__name__}")
        try:
            return tool, tool.params.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ToolError(f"invalid arguments for {name}: {problems}") from None
