"""What the model reads about a tool: a compact spec in every request, the full guide on
demand.

Tool specs ride along in every request of a session, so each token in them is paid
hundreds of times. pydantic's JSON schemas carry much that only validation needs: length
limits, patterns, bounds, ``anyOf [X, null]`` for optional fields, null defaults and
titles. The params model still enforces all of it (its error messages tell the model
what to fix), so the spec keeps only what a model needs to write a call: types, enums,
required fields, meaningful defaults and terse descriptions. The full text (the whole
docstring and every parameter with its limits) is what the ``help`` tool shows.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

# Keys that only validation needs (the params model enforces them).
_VALIDATION_ONLY = frozenset(
    {
        "title",
        "maxLength",
        "minLength",
        "maxItems",
        "minItems",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "uniqueItems",
        "format",
    }
)
# ``Field(json_schema_extra=GUIDE_ONLY)``: an optional parameter few calls need, left out
# of the spec sent with every request and listed in the tool's guide (the params model
# still accepts it).
GUIDE_ONLY_KEY = "guide_only"
GUIDE_ONLY: dict[str, Any] = {GUIDE_ONLY_KEY: True}
# Defaults that say nothing a model would not assume for an omitted field.
_EMPTY_DEFAULTS: tuple[Any, ...] = (None, "", [], {}, False)


def _is_empty_default(value: Any) -> bool:
    return any(value == e and type(value) is type(e) for e in _EMPTY_DEFAULTS)


def _is_guide_only(prop: Any) -> bool:
    return isinstance(prop, dict) and prop.get(GUIDE_ONLY_KEY) is True


def has_guide_only(schema: dict[str, Any]) -> bool:
    """Whether some parameter of ``schema`` is left out of the compact spec."""
    return any(_is_guide_only(p) for p in (schema.get("properties") or {}).values())


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null" and len(schema) == 1


def _compact(node: Any) -> Any:
    if isinstance(node, list):
        return [_compact(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _VALIDATION_ONLY:
            continue
        if key == "default" and _is_empty_default(value):
            continue
        if key == "description" and isinstance(value, str):
            value = " ".join(value.split())
        if key == "additionalProperties" and value is True:
            continue
        if key == GUIDE_ONLY_KEY:
            continue
        if key == "properties" and isinstance(value, dict):
            # Names are data here, never schema keywords to drop.
            out[key] = {name: _compact(prop) for name, prop in value.items()
                        if not _is_guide_only(prop)}
            continue
        if key == "$defs" and isinstance(value, dict):
            out[key] = {name: _compact(prop) for name, prop in value.items()}
            continue
        out[key] = _compact(value)
    if "enum" in out and out.get("type") in ("string", "integer"):
        del out["type"]  # the values say it
    # Optional[X]: omitting the field is how a model says "none".
    options = out.get("anyOf")
    if isinstance(options, list) and any(_is_null(o) for o in options):
        rest = [o for o in options if not _is_null(o)]
        if len(rest) == 1 and isinstance(rest[0], dict):
            del out["anyOf"]
            out = {**rest[0], **out}
        else:
            out["anyOf"] = rest
    return out


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with local ``$ref``s replaced by the definitions they name (nested
    models are small; a reference and its definition cost more than the definition)."""
    if isinstance(node, list):
        return [_inline(x, defs) for x in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
        target = defs[ref[8:]]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**_inline(target, {k: v for k, v in defs.items() if k != ref[8:]}), **rest}
    return {k: _inline(v, defs) for k, v in node.items()}


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (a pydantic JSON schema) without what only validation needs, with
    nested models inlined (recursive ones stay as references); the params model's own
    docstring (the top-level description) is dropped too."""
    out = _compact(schema)
    assert isinstance(out, dict)
    out.pop("description", None)
    defs = out.pop("$defs", None)
    if isinstance(defs, dict) and defs:
        inlined = _inline(out, defs)
        if "#/$defs/" in json.dumps(inlined):  # a recursive model: keep the definitions
            return {**out, "$defs": defs}
        assert isinstance(inlined, dict)
        out = inlined
    return out


def first_paragraph(doc: str) -> str:
    """The text up to the first blank line, on one line: the part of a docstring sent
    with every request."""
    return " ".join(inspect.cleandoc(doc).split("\n\n", 1)[0].split())


def _type_name(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    options = prop.get("anyOf")
    if isinstance(options, list):
        return " | ".join(_type_name(o) for o in options if isinstance(o, dict)
                          and not _is_null(o))
    kind = prop.get("type", "any")
    if kind == "array" and isinstance(prop.get("items"), dict):
        return f"list of {_type_name(prop['items'])}"
    return str(kind)


_LIMITS = (
    ("minimum", ">= {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "<= {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "at least {} chars"),
    ("maxLength", "at most {} chars"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("pattern", "matching {}"),
)


def _limits(prop: dict[str, Any]) -> list[str]:
    found = [text.format(prop[key]) for key, text in _LIMITS if key in prop]
    for option in prop.get("anyOf") or []:
        if isinstance(option, dict):
            found += _limits(option)
    if isinstance(prop.get("items"), dict):
        found += [f"each {x}" for x in _limits(prop["items"])]
    return found


def _parameter_lines(schema: dict[str, Any], indent: str = "") -> list[str]:
    required = set(schema.get("required") or [])
    lines: list[str] = []
    for name, raw in (schema.get("properties") or {}).items():
        prop = raw if isinstance(raw, dict) else {}
        facts = [_type_name(prop)]
        if name in required:
            facts.append("required")
        elif "default" in prop and not _is_empty_default(prop["default"]):
            facts.append(f"default {json.dumps(prop['default'])}")
        facts += _limits(prop)
        if _is_guide_only(prop):
            facts.append("not in the short spec")
        description = prop.get("description", "")
        lines.append(f"{indent}- {name} ({', '.join(facts)})" + (f": {description}"
                                                                 if description else ""))
    return lines


def render_guide(name: str, doc: str, schema: dict[str, Any]) -> str:
    """The full guide of a tool: its whole docstring, then every parameter with type,
    default and limits (nested models listed after)."""
    parts = [f"# {name}", inspect.cleandoc(doc), "Parameters:", *_parameter_lines(schema)]
    for def_name, sub in (schema.get("$defs") or {}).items():
        if isinstance(sub, dict) and sub.get("properties"):
            parts += [f"{def_name}:", *_parameter_lines(sub, indent="  ")]
    return "\n".join(parts)
