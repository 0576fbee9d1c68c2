"""What a model prompt carries, for the egress log: characters by role, how many
characters of which tool outputs and of which workspace files (a ``read_file`` result is
attributed to the file it read), and what the private-data filter withheld."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from openintern.llm.types import Message

# Tools whose result is the content of the file named by their ``path`` argument.
_FILE_READERS = frozenset({"read_file"})


def _call_paths(messages: list[Message]) -> dict[str, str]:
    paths: dict[str, str] = {}
    for message in messages:
        for call in message.tool_calls:
            if call.name not in _FILE_READERS:
                continue
            try:
                args = json.loads(call.arguments or "{}")
            except ValueError:
                continue
            if isinstance(args, dict) and isinstance(args.get("path"), str):
                paths[call.id] = args["path"]
    return paths


def describe_prompt(messages: list[Message], withheld: dict[str, int] | None = None,
                    tools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The egress detail of one prompt (counts only, never the text itself)."""
    by_role: Counter[str] = Counter()
    outputs: Counter[str] = Counter()
    files: Counter[str] = Counter()
    paths = _call_paths(messages)
    for message in messages:
        size = len(message.content or "")
        by_role[message.role] += size + sum(len(c.arguments) for c in message.tool_calls)
        if message.role != "tool":
            continue
        outputs[message.name or "tool"] += size
        path = paths.get(message.tool_call_id or "")
        if path is not None:
            files[path] += size
    detail: dict[str, Any] = {
        "prompt_chars": sum(by_role.values()),
        "chars_by_role": dict(by_role),
        "tool_output_chars": dict(outputs),
    }
    if tools:
        detail["tool_spec_chars"] = len(json.dumps(tools, separators=(",", ":")))
    if files:
        detail["file_chars"] = dict(files)
    if withheld:
        detail["withheld_private_lines"] = dict(withheld)
    return detail
