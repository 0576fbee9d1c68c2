"""Find the splits of a local dataset and load them into DuckDB.

A local dataset is one file (CSV, TSV, JSON, JSON Lines, Parquet, Arrow), a folder of such
files (``train.csv`` / ``test.csv``, Hub-style shards ``data/train-00000-of-00002.parquet``,
split folders ``train/part-0.parquet``), or a folder written by the ``datasets`` library's
``save_to_disk`` (Arrow stream files listed in ``state.json``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


class DatasetLoadError(Exception):
    """A local dataset could not be found or read; the message says what to do."""


# Suffixes we can read, mapped to the reader used.
_READERS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
}
# Names that identify a split when they appear as a file stem or a folder name.
SPLIT_WORDS = ("train", "training", "test", "testing", "validation", "valid", "val", "dev", "eval")
_SHARD = re.compile(r"^(?P<name>.+?)[-_.]\d{3,5}[-_]of[-_]\d{3,5}$")
_MAX_FILES = 2000


@dataclass
class SplitSource:
    """The files of one split, all read with the same reader."""

    name: str
    reader: str
    files: list[Path] = field(default_factory=list)


def discover_splits(path: Path) -> list[SplitSource]:
    """The splits stored at ``path`` (a file or a folder), in a stable order."""
    if not path.exists():
        raise DatasetLoadError(f"no file or folder at {path}; check the path (ls the workspace)")
    if path.is_file():
        reader = _reader_for(path)
        return [SplitSource(name=_split_name(path, path.parent), reader=reader, files=[path])]
    saved = _save_to_disk_splits(path)
    if saved:
        return saved
    files = sorted(p for p in _walk(path) if p.suffix.lower() in _READERS)
    if not files:
        raise DatasetLoadError(
            f"{path} holds no CSV/TSV/JSON/JSONL/Parquet/Arrow file; point the audit at a "
            "data file or a folder of split files"
        )
    by_split: dict[tuple[str, str], SplitSource] = {}
    for file in files:
        reader = _READERS[file.suffix.lower()]
        name = _split_name(file, path)
        source = by_split.setdefault((name, reader), SplitSource(name=name, reader=reader))
        source.files.append(file)
    names = [key[0] for key in by_split]
    if len(set(names)) != len(names):
        # One split stored in two formats: keep them apart under distinct names.
        for (name, reader), source in by_split.items():
            if names.count(name) > 1:
                source.name = f"{name}.{reader}"
    return sorted(by_split.values(), key=lambda s: _split_order(s.name))


def _walk(root: Path, depth: int = 3) -> Iterable[Path]:
    """Files under ``root`` up to ``depth`` levels, skipping hidden entries and caches."""
    count = 0
    stack = [(root, 0)]
    while stack:
        folder, level = stack.pop()
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith((".", "__")):
                continue
            if entry.is_dir() and level < depth:
                stack.append((entry, level + 1))
            elif entry.is_file():
                count += 1
                if count > _MAX_FILES:
                    raise DatasetLoadError(
                        f"{root} holds more than {_MAX_FILES} files; audit one split folder "
                        "or file at a time"
                    )
                yield entry


def _reader_for(path: Path) -> str:
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DatasetLoadError(
            f"cannot read {path.name}: supported formats are "
            f"{', '.join(sorted(_READERS))} (or a save_to_disk folder)"
        )
    return reader


def _split_name(file: Path, root: Path) -> str:
    """A split name from the file stem (shard suffix removed) or its split-named folder."""
    stem = file.name[: -len(file.suffix)] if file.suffix else file.name
    if stem.endswith(".jsonl") or stem.endswith(".json"):
        stem = stem.rsplit(".", 1)[0]
    match = _SHARD.match(stem)
    base = match.group("name") if match else stem
    if base.lower() in SPLIT_WORDS:
        return base
    for parent in file.parents:
        if parent == root or root not in parent.parents:
            break
        if parent.name.lower() in SPLIT_WORDS:
            return parent.name
    if match and file.parent != root:
        return base
    relative = file.relative_to(root) if root in file.parents else Path(file.name)
    prefix = "/".join(relative.parts[:-1])
    return f"{prefix}/{base}" if prefix else base


def _split_order(name: str) -> tuple[int, str]:
    """Train first, then validation-like, then test-like, then the rest by name."""
    lower = name.lower()
    rank = {"train": 0, "training": 0, "validation": 1, "valid": 1, "val": 1, "dev": 1,
            "eval": 2, "test": 3, "testing": 3}
    return rank.get(lower, 4), lower


def _save_to_disk_splits(folder: Path) -> list[SplitSource]:
    """Splits of a ``datasets`` save_to_disk folder (a DatasetDict or one Dataset)."""
    dict_file = folder / "dataset_dict.json"
    if dict_file.is_file():
        try:
            names = json.loads(dict_file.read_text())["splits"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetLoadError(f"{dict_file} is not a valid dataset_dict.json: {exc}") from None
        sources = [_state_split(folder / str(name), str(name)) for name in names]
        return sorted(sources, key=lambda s: _split_order(s.name))
    if (folder / "state.json").is_file():
        return [_state_split(folder, folder.name)]
    return []


def _state_split(folder: Path, name: str) -> SplitSource:
    state_file = folder / "state.json"
    try:
        state = json.loads(state_file.read_text())
        files = [folder / str(entry["filename"]) for entry in state["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetLoadError(
            f"{state_file} is missing or unreadable ({exc}); is this a save_to_disk folder?"
        ) from None
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise DatasetLoadError(f"save_to_disk split {name!r} lacks its files: {missing}")
    return SplitSource(name=name, reader="arrow", files=files)


def load_split(con: duckdb.DuckDBPyConnection, source: SplitSource, table: str) -> None:
    """Materialise ``source`` as the temp table ``table`` (rowid = order in the files)."""
    paths = [str(p) for p in source.files]
    try:
        if source.reader == "arrow":
            _load_arrow(con, paths, table)
        elif source.reader == "parquet":
            con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM read_parquet(?)", [paths])
        elif source.reader == "json":
            con.execute(
                f"CREATE TEMP TABLE {table} AS SELECT * FROM read_json_auto(?)", [paths]
            )
        else:
            _load_csv(con, paths, table)
    except DatasetLoadError:
        raise
    except Exception as exc:  # duckdb raises many error types; all mean "unreadable"
        raise DatasetLoadError(
            f"could not read split {source.name!r} ({', '.join(p.name for p in source.files)}"
            f"): {str(exc).splitlines()[0]}"
        ) from None


def _load_csv(con: duckdb.DuckDBPyConnection, paths: list[str], table: str) -> None:
    import duckdb

    try:
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT * FROM read_csv(?, auto_detect=true)",
            [paths],
        )
    except duckdb.Error:
        # Type sniffing looks at a sample; a late row of another type breaks it. Read
        # everything as text rather than fail: the audit still finds duplicates and gaps.
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT * FROM read_csv(?, all_varchar=true)",
            [paths],
        )


def _load_arrow(con: duckdb.DuckDBPyConnection, paths: list[str], table: str) -> None:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    tables = []
    for path in paths:
        with pa.memory_map(path) as source:
            try:
                tables.append(ipc.open_stream(source).read_all())
            except pa.ArrowInvalid:
                # Arrow IPC "file" format (random access) rather than a stream.
                tables.append(ipc.open_file(source).read_all())
    arrow_table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    con.register(f"{table}_arrow", arrow_table)
    con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {table}_arrow")
    con.unregister(f"{table}_arrow")
