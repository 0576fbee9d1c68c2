"""The shell tool: run a command in the sandbox."""

from __future__ import annotations

from pydantic import BaseModel, Field

from openintern.sandbox.live_output import listening
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult
from openintern.tools.live_output import OutputStream


class ShellParams(BaseModel):
    command: str = Field(description="Bash command.")
    timeout_s: int = Field(120, ge=1, le=36_000, description="Seconds before it is killed.")
    cwd: str | None = Field(None, description="Directory in the workspace (default: its root).")


class Shell(Tool[ShellParams]):
    """Run a bash command in the sandbox (cwd: the workspace); returns exit code and output.

    The workspace is read-write; the rest of the system is read-only, /tmp is private, and
    no API keys are in the environment. `pip install` installs into the workspace's own
    virtual environment. Output is capped (head and tail kept, the rest saved to a file).
    Use it for inspecting files, running short scripts and tests; run long trainings as
    jobs so they survive and can be watched.
    """

    name = "shell"

    async def run(self, params: ShellParams, ctx: ToolContext) -> ToolResult:
        if not params.command.strip():
            raise ToolError("command is empty")
        cwd = ctx.resolve_path(params.cwd) if params.cwd else ctx.workspace
        if not cwd.is_dir():
            raise ToolError(f"cwd {params.cwd!r} is not a directory in the workspace")
        # The loop truncates and spills long outputs; ask the sandbox for a generous cap so
        # the spill file holds the whole output.
        # Its output also streams to the user interfaces as it arrives (ToolOutput).
        with OutputStream(ctx) as live, listening(live.feed):
            result = await ctx.sandbox.run(
                params.command,
                timeout_s=params.timeout_s,
                cwd=cwd,
                max_output_chars=max(ctx.settings.tool_output_max_chars * 8, 200_000),
            )
        status = f"exit code {result.exit_code}"
        if result.timed_out:
            status = f"timed out after {params.timeout_s} s (killed)"
        header = f"[{status}; {result.duration_s:.1f} s]"
        body = result.output if result.output else "(no output)"
        return ToolResult(
            f"{header}\n{body}",
            ok=result.exit_code == 0 and not result.timed_out,
            data={
                "exit_code": result.exit_code,
                "timed_out": result.timed_out,
                "duration_s": round(result.duration_s, 3),
            },
        )
