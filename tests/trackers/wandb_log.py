"""Reads the records of a W&B run file (``run-<id>.wandb``), which offline runs leave
behind: a 7-byte header (``:W&B``, magic 0xBEE1, version) and then LevelDB-log framing
(32 KiB blocks; chunks of checksum, length, type FULL/FIRST/MIDDLE/LAST) around protobuf
``Record`` messages of ``wandb.proto.wandb_internal_pb2``. wandb 0.31 no longer ships a
Python reader for it."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_BLOCK = 32768
_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[Any]:
    """Every Record of the file, in order."""
    from wandb.proto import wandb_internal_pb2 as pb

    raw = path.read_bytes()
    ident, magic, _version = struct.unpack("<4sHB", raw[:_HEADER])
    assert ident == b":W&B" and magic == 0xBEE1, "not a W&B run file"
    pos, parts = _HEADER, b""
    while pos + _HEADER <= len(raw):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:
            pos += left  # zero padding at the end of a block
            continue
        _crc, length, kind = struct.unpack("<IHB", raw[pos:pos + _HEADER])
        data = raw[pos + _HEADER:pos + _HEADER + length]
        pos += _HEADER + length
        if kind == 0 and length == 0:
            break
        if kind in (_FULL, _FIRST):
            parts = data
        elif kind in (_MIDDLE, _LAST):
            parts += data
        if kind in (_FULL, _LAST):
            record = pb.Record()
            record.ParseFromString(parts)
            yield record


def history(path: Path) -> list[dict[str, str]]:
    """The logged history rows (key -> JSON text of the value)."""
    rows = []
    for record in records(path):
        if record.WhichOneof("record_type") == "history":
            rows.append({item.key or "/".join(item.nested_key): item.value_json
                         for item in record.history.item})
    return rows


def config(path: Path) -> dict[str, str]:
    """The run's config (key -> JSON text), last value of each key."""
    out: dict[str, str] = {}
    for record in records(path):
        if record.WhichOneof("record_type") == "config":
            out.update({item.key or "/".join(item.nested_key): item.value_json
                        for item in record.config.update})
        if record.WhichOneof("record_type") == "run":
            out.update({item.key or "/".join(item.nested_key): item.value_json
                        for item in record.run.config.update})
    return out


def exit_code(path: Path) -> int | None:
    """The exit code the run finished with (None when it never finished)."""
    for record in records(path):
        if record.WhichOneof("record_type") == "exit":
            return int(record.exit.exit_code)
    return None
