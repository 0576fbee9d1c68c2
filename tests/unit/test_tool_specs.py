"""Tool specs ride along in every request: the whole default set stays small, keeps what
a model needs to write a call, and the full guide is one `help` call away."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openintern.llm.tokens import estimate_request_tokens
from openintern.tools.base import ToolError, ToolRegistry
from openintern.tools.catalog import default_registry
from openintern.tools.help import Help, HelpParams
from openintern.tools.schema import compact_schema

# Every tool of the default registry together (later tools included: evaluate, synthesize,
# ...). What a tool needs beyond its first docstring paragraph belongs in its guide.
SPEC_BUDGET_TOKENS = 4000
VALIDATION_ONLY = {"maxLength", "minLength", "maxItems", "minItems", "pattern", "minimum",
                   "maximum", "exclusiveMinimum", "exclusiveMaximum", "title"}


def _keys(node: Any, under_properties: bool = False) -> set[str]:
    """Schema keywords used anywhere in ``node`` (property names excluded)."""
    if isinstance(node, list):
        return set().union(*(_keys(x) for x in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in node.items():
        if not under_properties:
            found.add(key)
        found |= _keys(value, under_properties=key == "properties" and not under_properties)
    return found


def test_all_default_tool_specs_fit_the_budget() -> None:
    specs = default_registry().specs()
    tokens = estimate_request_tokens([], specs)
    per_tool = sorted(((estimate_request_tokens([], [s]), s["function"]["name"]) for s in specs),
                      reverse=True)
    assert tokens <= SPEC_BUDGET_TOKENS, (
        f"the default tools' specs take ~{tokens} tokens (largest: {per_tool[:5]}); move "
        "guidance from descriptions into the docstring after its first paragraph (shown by "
        "`help`)")


def test_specs_keep_what_a_call_needs_and_drop_what_only_validation_needs() -> None:
    for spec in default_registry().specs():
        function = spec["function"]
        description = function["description"]
        assert description and "\n" not in description, function["name"]
        parameters = function["parameters"]
        assert parameters["type"] == "object"
        assert not (_keys(parameters) & VALIDATION_ONLY), function["name"]
        # Optional[X] is X (omitting is "none"); real unions (bool | object) stay.
        assert "$defs" not in parameters and '"null"' not in json.dumps(parameters)
        for name in parameters.get("required", []):
            assert name in parameters["properties"]
    jobs = next(s for s in default_registry().specs() if s["function"]["name"] == "jobs")
    props = jobs["function"]["parameters"]["properties"]
    assert jobs["function"]["parameters"]["required"] == ["operation"]
    assert "wait" in props["operation"]["enum"]
    assert props["tail"]["default"] == 80 and props["command"]["type"] == "string"
    assert "default" not in props["command"]  # a null default says nothing


def test_a_limit_left_out_of_the_spec_is_still_enforced_with_a_clear_error() -> None:
    registry = default_registry()
    assert "maximum" not in json.dumps(registry.get("read_file").spec())  # type: ignore[union-attr]
    with pytest.raises(ToolError, match="limit"):
        registry.parse("read_file", json.dumps({"path": "a.txt", "limit": 10**6}))
    tool, params = registry.parse("jobs", json.dumps({"operation": "list", "command": None}))
    assert tool.name == "jobs" and params.command is None  # type: ignore[attr-defined]


def test_compact_schema_merges_optional_fields_and_inlines_nested_models() -> None:
    schema = {
        "title": "P", "description": "Arguments.", "type": "object",
        "$defs": {"Item": {"title": "Item", "type": "object",
                           "properties": {"title": {"title": "Title", "type": "string"}}}},
        "properties": {
            "pattern": {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}],
                        "default": None, "description": "A field  named\n like a keyword."},
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "default": []},
            "mode": {"enum": ["a", "b"], "type": "string", "default": "a"},
        },
    }
    assert compact_schema(schema) == {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "A field named like a keyword."},
            "items": {"type": "array", "items": {
                "type": "object", "properties": {"title": {"type": "string"}}}},
            "mode": {"enum": ["a", "b"], "default": "a"},
        },
    }


async def test_help_shows_the_whole_docstring_and_every_limit(tmp_path: Path) -> None:
    registry = default_registry()
    help_tool = registry.get("help")
    assert isinstance(help_tool, Help)
    result = await help_tool.run(HelpParams(tool="jobs"), None)  # type: ignore[arg-type]
    text = result.text
    assert "a100-large" in text  # guidance moved out of the spec
    assert "- tail (integer, default 80, >= 0, <= 5000): logs: last N lines." in text
    assert "- operation (" in text and "required" in text
    plan = (await help_tool.run(HelpParams(tool="plan"), None)).text  # type: ignore[arg-type]
    assert "PlanEntry:" in plan and "- status (" in plan
    with pytest.raises(ToolError, match=r"no tool named 'nope'.*read_file"):
        await help_tool.run(HelpParams(tool="nope"), None)  # type: ignore[arg-type]


async def test_help_covers_tools_added_later() -> None:
    registry = ToolRegistry()
    registry.add(Help(registry))
    from openintern.tools.shell import Shell

    registry.add(Shell())
    guide = (await registry.get("help").run(  # type: ignore[union-attr]
        HelpParams(tool="shell"), None)).text  # type: ignore[arg-type]
    assert guide.startswith("# shell\n") and "jobs so they survive" in guide


async def test_rarely_needed_parameters_are_in_the_guide_and_still_accepted() -> None:
    registry = default_registry()
    jobs = registry.get("jobs")
    assert jobs is not None
    function = jobs.spec()["function"]
    assert "pip" not in function["parameters"]["properties"]
    assert function["description"].endswith("(More options: help.)")
    guide = (await registry.get("help").run(  # type: ignore[union-attr]
        HelpParams(tool="jobs"), None)).text  # type: ignore[arg-type]
    assert "- pip (list of string, at most 50 items" in guide and "not in the short spec" in guide
    _, params = registry.parse("jobs", json.dumps(
        {"operation": "submit", "command": "true", "pip": ["numpy==2.1"]}))
    assert params.pip == ["numpy==2.1"]  # type: ignore[attr-defined]
    shell = registry.get("shell")
    assert shell is not None and "More options" not in shell.spec()["function"]["description"]
