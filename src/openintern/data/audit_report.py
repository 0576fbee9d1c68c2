"""Render an :class:`~openintern.data.audit.AuditReport` as compact markdown for a model:
problems first, numbers in tables, a few example row ids to look at."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openintern.data.audit import AuditReport, ClassBalance, SplitAudit

_IMBALANCE_RATIO = 3.0


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def _count(part: int, whole: int) -> str:
    return f"{part:,} ({_pct(part, whole)})" if part else "0"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: AuditReport, *, max_columns: int = 40, max_classes: int = 12) -> str:
    """The report as markdown: headline findings, then per-topic tables."""
    lines = [f"## Dataset audit: {report.path}", ""]
    lines.append(
        f"{len(report.splits)} split(s): "
        + ", ".join(f"{s.name} ({s.rows:,} rows)" for s in report.splits)
        + f". Audited in {report.elapsed_s:.1f} s."
    )
    label = report.label_column
    how = "auto-detected" if report.label_detected else "given"
    lines.append(f"Label column: `{label}` ({how})." if label else
                 "Label column: none found (pass label_column to check class balance).")
    if report.id_column:
        lines.append(f"Id column `{report.id_column}` is ignored when comparing rows.")
    if report.key_columns:
        lines.append(
            "Duplicates/leakage compare: "
            + ", ".join(f"`{c}`" for c in report.key_columns[:12])
            + (" …" if len(report.key_columns) > 12 else "")
            + f" (near = lowercase, punctuation stripped, whitespace collapsed, floats "
            f"rounded to {report.round_digits} digits)."
        )
    findings = _headline(report)
    lines += ["", "### Findings"] + (findings or ["- No duplicates, leakage or gaps found."])
    lines += ["", *_split_table(report.splits)]
    lines += ["", *_schema_table(report, max_columns)]
    if any(s.balance for s in report.splits):
        lines += ["", *_balance_table(report, max_classes)]
    if report.overlaps:
        lines += ["", *_overlap_table(report)]
    if report.warnings:
        lines += ["", "### Warnings"] + [f"- {w}" for w in report.warnings]
    return "\n".join(lines)


def render_schema_markdown(report: AuditReport, *, max_columns: int = 40) -> str:
    """Only the splits' sizes and the schema (what a private dataset may show when the
    user allows its schema alone)."""
    lines = [f"## Dataset schema: {report.path}", "",
             "(private data: schema only; statistics and duplicates are not shown)", ""]
    lines += [*_split_table(report.splits), "", *_schema_table(report, max_columns)]
    return "\n".join(lines)


def _headline(report: AuditReport) -> list[str]:
    out = []
    for o in report.overlaps:
        if o.near:
            out.append(
                f"- LEAKAGE: {o.near:,} of {o.later_rows:,} {o.later} rows "
                f"({_pct(o.near, o.later_rows)}) also occur in {o.earlier} "
                f"({o.exact:,} exact, {o.near - o.exact:,} only after normalisation)."
            )
    for s in report.splits:
        if s.exact_duplicates:
            out.append(f"- {s.name}: {s.exact_duplicates:,} exact duplicate rows.")
        extra = s.near_duplicates - s.exact_duplicates
        if extra > 0:
            out.append(f"- {s.name}: {extra:,} more near-duplicate rows (case/space/punctuation).")
        if s.conflicting_label_groups:
            out.append(
                f"- {s.name}: {s.conflicting_label_groups:,} groups of identical inputs carry "
                "different labels."
            )
        missing = [c for c in s.columns if c.missing]
        if missing:
            worst = max(missing, key=lambda c: c.missing)
            out.append(
                f"- {s.name}: missing values in {len(missing)} column(s), worst `{worst.name}` "
                f"{_count(worst.missing, s.rows)}."
            )
        ratio = s.balance.ratio if s.balance else None
        if ratio is not None and ratio >= _IMBALANCE_RATIO and s.balance:
            top, bottom = s.balance.counts[0], s.balance.counts[-1]
            out.append(
                f"- {s.name}: class imbalance {ratio:.1f}:1 (`{top[0]}` {top[1]:,} vs "
                f"`{bottom[0]}` {bottom[1]:,})."
            )
    return out


def _examples(groups: list[list[str]], limit: int = 3) -> str:
    return "; ".join(" = ".join(g) for g in groups[:limit])


def _split_table(splits: list[SplitAudit]) -> list[str]:
    lines = [
        "### Splits",
        "| split | rows | columns | exact dup rows | near dup rows | examples |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for s in splits:
        examples = _examples(s.near_examples or s.exact_examples)
        lines.append(
            f"| {s.name} | {s.rows:,} | {len(s.columns)} | {_count(s.exact_duplicates, s.rows)}"
            f" | {_count(s.near_duplicates, s.rows)} | {_cell(examples) or '-'} |"
        )
    return lines


def _schema_table(report: AuditReport, max_columns: int) -> list[str]:
    names: list[str] = []
    for s in report.splits:
        names += [c.name for c in s.columns if c.name not in names]
    header = "| column | type | " + " | ".join(f"missing in {s.name}" for s in report.splits)
    lines = ["### Schema and missing values", header + " |",
             "|---|---|" + "---:|" * len(report.splits)]
    for name in names[:max_columns]:
        dtype = next(c.dtype for s in report.splits for c in s.columns if c.name == name)
        cells = []
        for s in report.splits:
            col = next((c for c in s.columns if c.name == name), None)
            cells.append("absent" if col is None else _count(col.missing, s.rows))
        lines.append(f"| {_cell(name)} | {dtype} | " + " | ".join(cells) + " |")
    if len(names) > max_columns:
        lines.append(f"({len(names) - max_columns} more columns not shown; audit with "
                     "key_columns or raise max_columns to see them.)")
    return lines


def _balance_cell(balance: ClassBalance, max_classes: int) -> str:
    total = sum(n for _, n in balance.counts)
    shown = ", ".join(f"{_cell(v)}: {n:,} ({_pct(n, total)})"
                      for v, n in balance.counts[:max_classes])
    if balance.n_classes > max_classes:
        shown += f", … {balance.n_classes - max_classes} more"
    return shown


def _balance_table(report: AuditReport, max_classes: int) -> list[str]:
    lines = [f"### Class balance (`{report.label_column}`)",
             "| split | classes | max/min | counts |", "|---|---:|---:|---|"]
    for s in report.splits:
        if s.balance is None:
            lines.append(f"| {s.name} | - | - | no label column |")
            continue
        ratio = s.balance.ratio
        ratio_text = "-" if ratio is None else f"{ratio:.1f}"
        lines.append(f"| {s.name} | {s.balance.n_classes} | {ratio_text} | "
                     f"{_balance_cell(s.balance, max_classes)} |")
    return lines


def _overlap_table(report: AuditReport) -> list[str]:
    lines = ["### Overlap between splits (rows of the later split already in the earlier)",
             "| splits | exact | near (incl. exact) | examples (later = earlier) |",
             "|---|---:|---:|---|"]
    for o in report.overlaps:
        examples = "; ".join(f"{o.later} {b} = {o.earlier} {a}" for b, a in o.examples[:3])
        lines.append(
            f"| {o.earlier} → {o.later} | {_count(o.exact, o.later_rows)} | "
            f"{_count(o.near, o.later_rows)} | {_cell(examples) or '-'} |"
        )
    return lines
