"""End-to-end: tool specs are terse in every request; `help` brings a tool's full guide
into the context only when the model asks for it."""

from __future__ import annotations

from pathlib import Path

from e2e_helpers import intern_env, run_intern

from openintern.llm.script import Script
from openintern.llm.scripted import ScriptedServer
from openintern.llm.tokens import estimate_request_tokens


def test_help_returns_the_full_guide_the_spec_leaves_out(workspace: Path) -> None:
    script = Script.from_steps([
        {"tool_calls": [{"name": "help", "arguments": {"tool": "jobs"}}]},
        {"text": "I know how to submit a job now."},
    ])
    with ScriptedServer(script) as server:
        result = run_intern("how do I run a job?", env=intern_env(server.base_url),
                            cwd=workspace)
        first, second = server.requests
    assert result.code == 0, result.output[-2000:]
    specs = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert "help" in specs and "a100-large" not in str(specs["jobs"])
    assert estimate_request_tokens([], first["tools"]) <= 4000
    guide = second["messages"][-1]
    assert guide["role"] == "tool" and guide["content"].startswith("# jobs\n")
    assert "a100-large" in guide["content"] and "- wait_timeout_s (number, default 60.0" in (
        guide["content"])
