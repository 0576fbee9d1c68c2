"""The ``datasets`` tool: find Hub datasets, inspect one without downloading it, and audit
a local dataset for duplicates, leakage, gaps and imbalance."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from openintern.data.audit import AuditOptions, DatasetLoadError, audit_dataset
from openintern.data.audit_report import render_schema_markdown
from openintern.data.datasets_server import DatasetInspection, DatasetsServerClient
from openintern.data.hub import HubClient, HubError, RepoSummary
from openintern.http import ServiceError
from openintern.private_paths import PrivatePaths
from openintern.sources.clients import explain, make_client, secret, shared
from openintern.sources.html_markdown import truncate
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult
from openintern.tools.schema import GUIDE_ONLY

MAX_OUTPUT_CHARS = 12_000
CELL_CHARS = 160


def hub_client(ctx: ToolContext) -> HubClient:
    """The session's Hub client (token sent only to ``hf_endpoint``)."""
    s = ctx.settings
    return shared(ctx.services, "hub_client", lambda: HubClient(make_client(
        s, ctx.services, service="hub", base_url=s.hf_endpoint, token=secret(s.hf_token))))


def datasets_server_client(ctx: ToolContext) -> DatasetsServerClient:
    """The session's dataset viewer client (token sent only to ``datasets_server_url``)."""
    s = ctx.settings
    return shared(ctx.services, "datasets_server_client", lambda: DatasetsServerClient(
        make_client(s, ctx.services, service="datasets-server",
                    base_url=s.datasets_server_url, token=secret(s.hf_token))))


class DatasetsParams(BaseModel):
    operation: Literal["search", "inspect", "audit"] = Field(
        description="search Hub datasets; inspect one (splits, features, rows, stats); "
        "audit a LOCAL file or folder."
    )
    query: str | None = Field(None, description="search: words in dataset ids.")
    dataset: str | None = Field(None, description="inspect: Hub id, e.g. 'stanfordnlp/imdb'.")
    config: str | None = Field(None, description="inspect: subset (default: the first).")
    split: str | None = Field(None, description="inspect: split (default: train).")
    path: str | None = Field(
        None, description="audit: data file or folder of split files in the workspace."
    )
    label_column: str | None = Field(None, description="audit: label column (default: auto).",
                                     json_schema_extra=GUIDE_ONLY)
    id_column: str | None = Field(None, description="audit: id column, ignored in comparisons.",
                                  json_schema_extra=GUIDE_ONLY)
    key_columns: list[str] | None = Field(
        None, description="audit: columns compared for duplicates (default: all but id/label)."
    , json_schema_extra=GUIDE_ONLY)
    sort: Literal["downloads", "likes", "trendingScore", "lastModified", "createdAt"] = Field(
        "downloads", description="search: order (descending)."
    , json_schema_extra=GUIDE_ONLY)
    filter: str | None = Field(
        None, description="search: tag, e.g. 'task_categories:text-classification'."
    , json_schema_extra=GUIDE_ONLY)
    limit: int = Field(10, ge=1, le=50, description="search: results.")
    rows: int = Field(3, ge=0, le=20, description="inspect: first rows to show.",
                      json_schema_extra=GUIDE_ONLY)


def _need(value: str | None, name: str, operation: str) -> str:
    if not value:
        raise ToolError(f"operation {operation!r} needs {name}")
    return value


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "…"


def render_search(hits: list[RepoSummary], query: str | None, limit: int) -> str:
    """A ranked, deduplicated table of search hits."""
    seen: set[str] = set()
    lines = [f"Hub datasets matching {query!r}:" if query else "Hub datasets:",
             "| dataset | downloads | likes | license | tags |", "|---|---:|---:|---|---|"]
    for hit in hits:
        if hit.id in seen:
            continue
        seen.add(hit.id)
        tags = [t for t in hit.tags if not t.startswith(("license:", "region:"))][:6]
        name = f"{hit.id} (DISABLED on the Hub: unusable)" if hit.disabled else hit.id
        lines.append(f"| {name} | {hit.downloads or 0:,} | {hit.likes or 0:,} | "
                     f"{hit.license or '-'} | {_cell(', '.join(tags))} |")
    if not seen:
        return f"No Hub dataset matches {query!r}; try fewer or different words."
    if len(seen) >= limit:
        lines.append(f"(first {limit}; raise limit (max 50) or refine the query for more)")
    return "\n".join(lines)


def render_inspection(r: DatasetInspection) -> str:
    """The inspection as compact markdown."""
    lines = [f"## {r.dataset}"]
    if r.capabilities:
        lines.append("Viewer capabilities: " + ", ".join(
            f"{k}={'yes' if v else 'no'}" for k, v in r.capabilities.items()))
    configs = list(dict.fromkeys(c for c, _ in r.splits))
    lines.append(f"Configs ({len(configs)}): " + "; ".join(
        f"{c}: {', '.join(s for cc, s in r.splits if cc == c)}" for c in configs[:20])
        + (" …" if len(configs) > 20 else ""))
    if r.sizes:
        lines += ["", "| config | split | rows | columns | parquet MB |",
                  "|---|---|---:|---:|---:|"]
        for s in r.sizes[:30]:
            mb = f"{s.parquet_bytes / 1e6:.1f}" if s.parquet_bytes is not None else "-"
            lines.append(f"| {s.config} | {s.split} | {s.rows if s.rows is not None else '-'} | "
                         f"{s.columns if s.columns is not None else '-'} | {mb} |")
    if r.license or r.description:
        lines.append("")
        if r.license:
            lines.append(f"License: {r.license}")
        if r.description:
            lines.append(f"Description: {_cell(r.description)}")
    if r.features:
        lines += ["", f"### Features of {r.config}"]
        lines += [f"- {name}: {kind}" for name, kind in list(r.features.items())[:40]]
    if r.first_rows:
        columns = list(r.first_rows[0])[:8]
        lines += ["", f"### First rows of {r.config}/{r.split}",
                  "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for row in r.first_rows:
            lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
        if r.truncated_cells:
            lines.append(f"({r.truncated_cells} cells were truncated by the server)")
    if r.statistics:
        lines += ["", f"### Column statistics of {r.config}/{r.split}",
                  "| column | type | missing | summary |", "|---|---|---:|---|"]
        for c in r.statistics[:30]:
            missing = f"{100 * c.nan_proportion:.1f}%" if c.nan_proportion is not None else "-"
            lines.append(f"| {c.name} | {c.type} | {missing} | {_cell(c.summary)} |")
    if r.problems:
        lines += ["", "Not available: " + "; ".join(r.problems)]
    return "\n".join(lines)


class Datasets(Tool[DatasetsParams]):
    """Find and inspect Hub datasets; audit a local one (balance, duplicates, train/test
    leakage) before training on it.

    - search: Hugging Face Hub datasets by keyword (ranked by downloads by default).
    - inspect: a Hub dataset through the dataset viewer, without downloading it: configs,
      splits with row counts, features (types, class names), first rows, column statistics.
    - audit: a LOCAL dataset in the workspace (a CSV/TSV/JSON/JSONL/Parquet/Arrow file, a
      folder of split files such as train.csv and test.csv, or a save_to_disk folder): schema,
      rows per split, missing values, class balance, exact and near duplicates within each
      split, and train/test leakage (rows of a later split that also occur in an earlier
      one, exactly or after lowercasing/stripping punctuation/collapsing spaces). Run it on
      every dataset before training: leakage silently inflates test scores.
    """

    name = "datasets"
    read_only = True

    async def run(self, params: DatasetsParams, ctx: ToolContext) -> ToolResult:
        try:
            if params.operation == "search":
                hits = await hub_client(ctx).search(
                    "dataset", params.query, sort=params.sort, filter=params.filter,
                    limit=params.limit)
                return ToolResult(render_search(hits, params.query, params.limit),
                                  data={"results": [h.id for h in hits]})
            if params.operation == "inspect":
                dataset = _need(params.dataset, "dataset", "inspect")
                report = await datasets_server_client(ctx).inspect(
                    dataset, params.config, params.split, rows=params.rows)
                text = truncate(render_inspection(report), MAX_OUTPUT_CHARS,
                                "pass config/split to narrow, or fewer rows")
                return ToolResult(text, data={"dataset": dataset, "config": report.config,
                                              "split": report.split})
            return await self._audit(params, ctx)
        except (ServiceError, HubError) as exc:
            raise ToolError(explain(exc)) from None

    async def _audit(self, params: DatasetsParams, ctx: ToolContext) -> ToolResult:
        path = ctx.resolve_path(_need(params.path, "path", "audit"))
        options = AuditOptions(label_column=params.label_column, id_column=params.id_column,
                               key_columns=params.key_columns)
        try:
            report = await asyncio.to_thread(audit_dataset, path, options)
        except DatasetLoadError as exc:
            raise ToolError(str(exc)) from None
        private = PrivatePaths.of(ctx.workspace, ctx.settings.private_paths)
        if ctx.settings.private_data_view == "schema" and private.contains(path):
            # The user allows this private data's schema only.
            return ToolResult(render_schema_markdown(report),
                              data={"path": str(path), "private": True})
        text = truncate(report.to_markdown(), MAX_OUTPUT_CHARS,
                        "audit one split file at a time or pass key_columns")
        data = {
            "path": str(path),
            "splits": {s.name: s.rows for s in report.splits},
            "leakage": {f"{o.earlier}->{o.later}": o.near for o in report.overlaps},
            "exact_duplicates": {s.name: s.exact_duplicates for s in report.splits},
        }
        return ToolResult(text, data=data)
