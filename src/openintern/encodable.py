"""Text every sink can encode: no NUL characters, no lone surrogates.

Model output and tool output may hold characters no sink accepts: a lone surrogate
(``"\\ud800"``, from a JSON escape in a tool argument, or bytes decoded with
``surrogateescape``) cannot be written to a UTF-8 terminal, file or SQLite text column,
and PostgreSQL refuses NUL in text and JSON. Everything that reaches a renderer, the store
or the web passes through :func:`encodable` first; each bad character becomes U+FFFD.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

REPLACEMENT = "\ufffd"

T = TypeVar("T")


def encodable_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD (unchanged when clean)."""
    if text.isascii():
        # The common case, checked in C: only NUL can be wrong in ASCII.
        return text.replace("\x00", REPLACEMENT) if "\x00" in text else text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join(REPLACEMENT if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text.replace("\x00", REPLACEMENT) if "\x00" in text else text


def encodable(value: T) -> T:
    """``value`` with every string inside made encodable: strings, lists, tuples, dict
    keys and values, and pydantic models (whose fields are replaced in place)."""
    return _clean(value)  # type: ignore[no-any-return]


def _clean(value: Any) -> Any:
    """The cleaned value; the very same object when nothing in it had to change."""
    if isinstance(value, str):
        return encodable_text(value)
    if isinstance(value, dict):
        items = [(_clean(k), _clean(v)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items(),
                                                               strict=True)):
            return value
        return dict(items)
    if isinstance(value, (list, tuple)):
        cleaned = [_clean(v) for v in value]
        if all(c is v for c, v in zip(cleaned, value, strict=True)):
            return value
        return cleaned if isinstance(value, list) else tuple(cleaned)
    if isinstance(value, BaseModel):
        for name, field_value in value.__dict__.items():
            if isinstance(field_value, (str, dict, list, tuple, BaseModel)):
                cleaned_field = _clean(field_value)
                if cleaned_field is not field_value:
                    setattr(value, name, cleaned_field)
        return value
    return value
