"""Audit a local dataset: schema, row counts, missing values, class balance, duplicates
within each split and exact + near-duplicate overlap between splits (train/test leakage).

Everything runs in DuckDB over the files (no pandas), so a million-row Parquet file audits
in seconds. Duplicates are found by hashing rows: "exact" hashes the raw values; "near"
hashes normalised values (text lowercased, punctuation stripped, whitespace collapsed;
floats rounded), which catches case/spacing/punctuation variants of the same example.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from openintern.data.audit_sources import (
    DatasetLoadError,
    SplitSource,
    discover_splits,
    load_split,
)

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "AuditOptions",
    "AuditReport",
    "ClassBalance",
    "ColumnAudit",
    "DatasetLoadError",
    "SplitAudit",
    "SplitOverlap",
    "audit_dataset",
]

LABEL_NAMES = ("label", "labels", "target", "class", "y")
ID_NAMES = ("id", "idx", "index", "uid", "guid", "uuid", "row_id", "example_id",
            "__index_level_0__")
_TEXT_TYPES = ("VARCHAR",)
_FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")
_MAX_STORED_CLASSES = 200


@dataclass
class AuditOptions:
    """Knobs of an audit; every field has a sensible default."""

    label_column: str | None = None
    id_column: str | None = None
    # Columns compared for duplicates/leakage; default: every column but id and label.
    key_columns: list[str] | None = None
    round_digits: int = 6
    max_examples: int = 5


@dataclass
class ColumnAudit:
    """One column of one split."""

    name: str
    dtype: str
    missing: int


@dataclass
class ClassBalance:
    """Label counts of one split, most frequent first."""

    counts: list[tuple[str, int]]
    n_classes: int

    @property
    def ratio(self) -> float | None:
        """Largest class over smallest class (1.0 = balanced); None when not all counted."""
        values = [c for _, c in self.counts]
        if not values or self.n_classes > len(values):
            return None
        return max(values) / max(min(values), 1)


@dataclass
class SplitAudit:
    """Findings for one split."""

    name: str
    files: list[str]
    rows: int
    columns: list[ColumnAudit]
    exact_duplicates: int = 0
    exact_examples: list[list[str]] = field(default_factory=list)
    near_duplicates: int = 0
    near_examples: list[list[str]] = field(default_factory=list)
    conflicting_label_groups: int = 0
    balance: ClassBalance | None = None


@dataclass
class SplitOverlap:
    """Rows of ``later`` whose key columns also occur in ``earlier``."""

    earlier: str
    later: str
    later_rows: int
    exact: int
    near: int
    examples: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class AuditReport:
    """The whole audit; :meth:`to_markdown` renders it for the model."""

    path: str
    splits: list[SplitAudit]
    overlaps: list[SplitOverlap]
    label_column: str | None
    label_detected: bool
    id_column: str | None
    key_columns: list[str]
    round_digits: int
    elapsed_s: float
    warnings: list[str] = field(default_factory=list)

    def to_markdown(self, max_columns: int = 40, max_classes: int = 12) -> str:
        """A compact markdown report (see :mod:`openintern.data.audit_report`)."""
        from openintern.data.audit_report import render_markdown

        return render_markdown(self, max_columns=max_columns, max_classes=max_classes)


def audit_dataset(path: Path, options: AuditOptions | None = None) -> AuditReport:
    """Audit the dataset at ``path`` (file or folder). Blocking: run it in a thread."""
    import duckdb

    opts = options or AuditOptions()
    started = time.perf_counter()
    sources = discover_splits(path)
    con = duckdb.connect(":memory:")
    try:
        return _audit(con, path, sources, opts, started)
    finally:
        con.close()


def _audit(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    sources: list[SplitSource],
    opts: AuditOptions,
    started: float,
) -> AuditReport:
    warnings: list[str] = []
    schemas: list[dict[str, str]] = []
    for index, source in enumerate(sources):
        load_split(con, source, f"s{index}")
        rows = con.execute(f"DESCRIBE s{index}").fetchall()
        schemas.append({str(r[0]): str(r[1]) for r in rows})

    all_columns = {c for schema in schemas for c in schema}
    label, detected = _pick_column(opts.label_column, LABEL_NAMES, schemas, "label")
    id_col, _ = _pick_column(opts.id_column, ID_NAMES, schemas, "id")
    shared = [c for c in schemas[0] if all(c in s for s in schemas)]
    if opts.key_columns:
        unknown = [c for c in opts.key_columns if c not in all_columns]
        if unknown:
            raise DatasetLoadError(
                f"key column(s) {unknown} not found; columns are {sorted(all_columns)}"
            )
        keys = [c for c in opts.key_columns if c in shared]
        missing_in_some = [c for c in opts.key_columns if c not in shared]
        if missing_in_some:
            warnings.append(f"key column(s) {missing_in_some} are absent from some splits")
    else:
        keys = [c for c in shared if c not in (label, id_col)]
    if not keys:
        warnings.append(
            "no column is shared by every split besides id/label; duplicate and leakage "
            "checks were skipped"
        )

    splits = []
    for index, source in enumerate(sources):
        table = f"s{index}"
        schema = schemas[index]
        split = SplitAudit(
            name=source.name,
            files=[str(p) for p in source.files],
            rows=_scalar(con, f"SELECT count(*) FROM {table}"),
            columns=_column_audits(con, table, schema),
        )
        if label and label in schema:
            split.balance = _balance(con, table, label)
        if keys:
            _build_keys(con, index, schema, keys, label, id_col, opts.round_digits)
            _within_split(con, index, split, opts.max_examples, has_label=label in schema)
        splits.append(split)

    overlaps = []
    if keys:
        for later in range(1, len(sources)):
            for earlier in range(later):
                overlaps.append(_overlap(con, earlier, later, splits, opts.max_examples))
    return AuditReport(
        path=str(path),
        splits=splits,
        overlaps=overlaps,
        label_column=label,
        label_detected=detected,
        id_column=id_col,
        key_columns=keys,
        round_digits=opts.round_digits,
        elapsed_s=time.perf_counter() - started,
        warnings=warnings,
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _pick_column(
    given: str | None, names: tuple[str, ...], schemas: list[dict[str, str]], what: str
) -> tuple[str | None, bool]:
    """The column the user named (must exist) or the first conventional name present."""
    columns = [c for schema in schemas for c in schema]
    if given:
        if given not in columns:
            raise DatasetLoadError(
                f"{what} column {given!r} not found; columns are {sorted(set(columns))}"
            )
        return given, False
    by_lower = {c.lower(): c for c in schemas[0]}
    for name in names:
        if name in by_lower:
            return by_lower[name], True
    return None, False


def _column_audits(
    con: duckdb.DuckDBPyConnection, table: str, schema: dict[str, str]
) -> list[ColumnAudit]:
    """Missing cells per column: NULL, blank strings and float NaN all count."""
    parts = []
    for name, dtype in schema.items():
        col = _quote(name)
        expr = f"count(*) - count({col})"
        if dtype in _TEXT_TYPES:
            expr += f" + count_if(trim({col}) = '')"
        elif dtype in _FLOAT_TYPES:
            expr += f" + count_if(isnan({col}))"
        parts.append(expr)
    if not parts:
        return []
    row = con.execute(f"SELECT {', '.join(parts)} FROM {table}").fetchone() or ()
    return [
        ColumnAudit(name=name, dtype=dtype, missing=int(value or 0))
        for (name, dtype), value in zip(schema.items(), row, strict=False)
    ]


def _balance(con: duckdb.DuckDBPyConnection, table: str, label: str) -> ClassBalance:
    col = _quote(label)
    rows = con.execute(
        f"SELECT CAST({col} AS VARCHAR) AS v, count(*) AS n FROM {table} "
        "GROUP BY v ORDER BY n DESC, v"
    ).fetchall()
    counts = [("<missing>" if v is None else str(v), int(n)) for v, n in rows]
    # Keep every count of a classification label; a near-continuous target keeps its top.
    return ClassBalance(counts=counts[:_MAX_STORED_CLASSES], n_classes=len(counts))


def _normalised(name: str, dtype: str, digits: int) -> str:
    col = _quote(name)
    if dtype in _TEXT_TYPES:
        # Lowercase, drop punctuation/symbols, collapse whitespace: "Hello,  World!" and
        # "hello world" hash the same.
        stripped = f"regexp_replace(lower({col}), '[^\\p{{L}}\\p{{N}}\\s]+', '', 'g')"
        return f"trim(regexp_replace({stripped}, '\\s+', ' ', 'g'))"
    if dtype in _FLOAT_TYPES or dtype.startswith("DECIMAL"):
        return f"round({col}, {digits})"
    return col


def _build_keys(
    con: duckdb.DuckDBPyConnection,
    index: int,
    schema: dict[str, str],
    keys: list[str],
    label: str | None,
    id_col: str | None,
    digits: int,
) -> None:
    """Table k{index}: row id, display id, label, and three row hashes.

    ek: whole row (ids aside) raw; fk: key columns raw; nk: key columns normalised.
    """
    content = [c for c in schema if c != id_col]
    ek = f"hash({', '.join(_quote(c) for c in content)})"
    fk = f"hash({', '.join(_quote(c) for c in keys)})"
    nk = f"hash({', '.join(_normalised(c, schema[c], digits) for c in keys)})"
    shown = f"CAST({_quote(id_col)} AS VARCHAR)" if id_col and id_col in schema else "NULL"
    lab = f"CAST({_quote(label)} AS VARCHAR)" if label and label in schema else "NULL"
    con.execute(
        f"CREATE TEMP TABLE k{index} AS SELECT rowid AS r, {shown} AS shown, {lab} AS lab, "
        f"{ek} AS ek, {fk} AS fk, {nk} AS nk FROM s{index}"
    )


def _row_ref(shown: object, row: object) -> str:
    return f"id={shown}" if shown is not None else f"row {row}"


def _within_split(
    con: duckdb.DuckDBPyConnection, index: int, split: SplitAudit, limit: int, has_label: bool
) -> None:
    table = f"k{index}"
    split.exact_duplicates = split.rows - _scalar(con, f"SELECT count(DISTINCT ek) FROM {table}")
    split.near_duplicates = split.rows - _scalar(con, f"SELECT count(DISTINCT nk) FROM {table}")
    for key, target in (("ek", split.exact_examples), ("nk", split.near_examples)):
        groups = con.execute(
            f"SELECT list(shown ORDER BY r)[1:3], list(r ORDER BY r)[1:3] FROM {table} "
            f"GROUP BY {key} HAVING count(*) > 1 ORDER BY min(r) LIMIT {limit}"
        ).fetchall()
        for shown, rows in groups:
            target.append([_row_ref(s, r) for s, r in zip(shown, rows, strict=False)])
    if has_label:
        split.conflicting_label_groups = _scalar(
            con,
            f"SELECT count(*) FROM (SELECT nk FROM {table} GROUP BY nk "
            "HAVING count(DISTINCT lab) > 1)",
        )


def _overlap(
    con: duckdb.DuckDBPyConnection,
    earlier: int,
    later: int,
    splits: list[SplitAudit],
    limit: int,
) -> SplitOverlap:
    a, b = f"k{earlier}", f"k{later}"
    exact = _scalar(con, f"SELECT count(*) FROM {b} WHERE fk IN (SELECT fk FROM {a})")
    near = _scalar(con, f"SELECT count(*) FROM {b} WHERE nk IN (SELECT nk FROM {a})")
    examples: list[tuple[str, str]] = []
    if near:
        rows = con.execute(
            f"SELECT {b}.shown, {b}.r, min_by({a}.shown, {a}.r), min({a}.r) "
            f"FROM {b} JOIN {a} ON {b}.nk = {a}.nk GROUP BY {b}.shown, {b}.r "
            f"ORDER BY {b}.r LIMIT {limit}"
        ).fetchall()
        examples = [(_row_ref(s_b, r_b), _row_ref(s_a, r_a)) for s_b, r_b, s_a, r_a in rows]
    return SplitOverlap(
        earlier=splits[earlier].name,
        later=splits[later].name,
        later_rows=splits[later].rows,
        exact=exact,
        near=near,
        examples=examples,
    )
