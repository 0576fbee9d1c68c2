"""The script format of the scripted model server (see ``scripted.py``).

A script is a JSON file ``{"steps": [Step, ...]}``. Each step is one assistant reply:

- ``text``: assistant text (may be empty).
- ``tool_calls``: ``[{"name": ..., "arguments": <object or raw string>, "id": optional}]``.
  An object is serialised to JSON; a raw string is sent untouched, so a script can
  produce deliberately malformed arguments.
- ``error``: ``{"status": 429|500|..., "message": ..., "retry_after": seconds,
  "times": N}``: the server answers this step with that HTTP error N times (default 1),
  then with the step's normal reply.
- ``cut_after_chars``: streaming only. Emit that many characters of ``text``, then drop
  the connection without a finish reason or ``[DONE]``; once, so the retry succeeds.
- ``fault``: ``{"kind": "non_json"|"no_choices"|"truncated_stream", "times": N}``: answer
  the step ``times`` times (default 1) with a broken HTTP 200 — a body that is not JSON,
  JSON without ``choices``, or (streaming) a stream that ends cleanly after its first
  chunk with no finish reason and no ``[DONE]`` — then with the step's normal reply.
- ``delay_s``: wait this long before answering.
- ``finish_reason``: override the finish reason (default ``tool_calls`` when the step has
  tool calls, else ``stop``).

The models are pydantic with unknown keys forbidden, so a typo in a script file is a
clear error naming the step and field instead of a silently ignored key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ScriptError(ValueError):
    """A script file is missing, is not JSON, or does not match the script format."""


class ScriptedToolCall(BaseModel):
    """One tool call the scripted assistant makes."""

    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] | list[Any] | str = Field(default_factory=dict)
    id: str | None = None

    def arguments_text(self) -> str:
        """The arguments as the wire carries them: raw strings untouched, objects as JSON."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


class ScriptedError(BaseModel):
    """An HTTP error the server returns (``times`` times) before the step's reply."""

    model_config = ConfigDict(extra="forbid")

    status: int = Field(ge=400, le=599)
    message: str = "scripted error"
    retry_after: float | None = Field(None, ge=0)
    times: int = Field(1, ge=1)


FaultKind = Literal["non_json", "no_choices", "truncated_stream"]


class ScriptedFault(BaseModel):
    """A broken HTTP 200 the server sends (``times`` times) before the step's reply."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    times: int = Field(1, ge=1)


class Step(BaseModel):
    """One scripted assistant reply (see the module docstring for the fields)."""

    model_config = ConfigDict(extra="forbid")

    text: str = ""
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    error: ScriptedError | None = None
    cut_after_chars: int | None = Field(None, ge=0)
    fault: ScriptedFault | None = None
    delay_s: float = Field(0.0, ge=0)
    finish_reason: str | None = None

    def effective_finish_reason(self) -> str:
        """The finish reason sent with the reply."""
        if self.finish_reason:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"


class Script(BaseModel):
    """An ordered list of steps the server answers with, one per model call."""

    model_config = ConfigDict(extra="forbid")

    steps: list[Step]

    @classmethod
    def from_steps(cls, steps: list[Step | dict[str, Any]]) -> Script:
        """Build a script from steps or plain dicts (validated like a file)."""
        try:
            return cls.model_validate({"steps": steps})
        except ValidationError as exc:
            raise ScriptError(f"invalid script: {exc}") from exc

    @classmethod
    def load(cls, path: Path | str) -> Script:
        """Read a script file; raise ``ScriptError`` saying what is wrong with it."""
        p = Path(path)
        try:
            raw = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScriptError(f"cannot read script file {p}: {exc.strerror or exc}") from exc
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ScriptError(
                f"script file {p} is not valid JSON (line {exc.lineno}, column {exc.colno}): "
                f"{exc.msg}"
            ) from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ScriptError(
                f'script file {p} does not match the format {{"steps": [...]}}: {exc}'
            ) from exc
