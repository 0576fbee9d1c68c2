"""The experiment pages: the ledger (runs grouped by sweep and configuration, statistics
per configuration, parallel coordinates, lineage), one run (live charts, output, system
metrics, artifacts, code), two runs side by side, and the diff of two runs' code. Routes
are plain ``def`` (worker threads: they read the store and files)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from openintern.research.ledger import ExperimentRecord
from openintern.research.run_labels import RunName, run_names
from openintern.web.access import experiment_or_404, visible_experiments
from openintern.web.config_stats import CI_NAME, TEST_NAME, config_rows
from openintern.web.lab import compare, has_lineage, lineage
from openintern.web.run_files import (
    RunFileError,
    artifact_path,
    artifacts,
    code_diff,
    file_kind,
    local_output_dir,
    local_run_dir,
    read_text,
    snapshot_file,
    snapshot_files,
    workspace_of,
)
from openintern.web.templating import templates

FULL_LOG_BYTES = 16 * 2**20  # the "full log" page shows at most the last 16 MiB


@dataclass
class ConfigGroup:
    """The runs of one configuration within a sweep (its seeds)."""

    label: str
    runs: list[ExperimentRecord] = field(default_factory=list)


@dataclass
class SweepGroup:
    """A sweep (or a run name shared by several runs) and its configurations."""

    title: str
    sweep_id: str | None
    configs: list[ConfigGroup] = field(default_factory=list)

    @property
    def size(self) -> int:
        """How many runs the group holds."""
        return sum(len(c.runs) for c in self.configs)


def grouped(records: Iterable[ExperimentRecord], names: dict[str, RunName]) -> list[SweepGroup]:
    """Runs grouped by sweep (or shared name), then configuration, in first-seen order."""
    sweeps: dict[str, SweepGroup] = {}
    configs: dict[str, ConfigGroup] = {}
    for r in records:
        key = r.sweep_id or r.name or r.id
        sweep = sweeps.setdefault(key, SweepGroup(r.name or r.id, r.sweep_id))
        group = names[r.id].group
        if group not in configs:
            label = names[r.id].label.split(" · seed ")[0]
            configs[group] = ConfigGroup(label)
            sweep.configs.append(configs[group])
        configs[group].runs.append(r)
    return list(sweeps.values())


def _session_records(request: Request, records: list[ExperimentRecord]
                     ) -> list[ExperimentRecord]:
    ledger = request.app.state.hub.ledger
    seen: dict[str, ExperimentRecord] = {}
    for sid in dict.fromkeys(r.session_id for r in records):
        for r in ledger.experiments(sid):
            seen[r.id] = r
    return list(seen.values())


def _text_page(request: Request, title: str, back: str, body: str, note: str = ""
               ) -> HTMLResponse:
    return templates.TemplateResponse(request, "text_file.html", {
        "title": title, "back": back, "body": body, "note": note})


def mount_experiment_pages(app: FastAPI) -> None:
    """Add the experiment pages to ``app``."""

    @app.get("/experiments", response_class=HTMLResponse, include_in_schema=False)
    def experiments_page(request: Request, session: str | None = None,
                         baseline: str | None = None) -> HTMLResponse:
        records = visible_experiments(request, session)
        names = run_names(records)
        roots = lineage(records)
        return templates.TemplateResponse(request, "experiments.html", {
            "experiments": records, "session": session, "names": names,
            "groups": grouped(records, names), "configs": config_rows(records, baseline),
            "test_name": TEST_NAME, "ci_name": CI_NAME,
            "roots": roots if has_lineage(roots) else [],
        })

    @app.get("/experiments/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare_page(request: Request, a: str, b: str) -> HTMLResponse:
        left, right = experiment_or_404(request, a), experiment_or_404(request, b)
        names = run_names(_session_records(request, [left, right]))
        title_a, title_b = names[left.id].title, names[right.id].title
        if title_a == title_b:  # same name and label in two sessions: the ids tell
            title_a, title_b = f"{title_a} ({left.id[:6]})", f"{title_b} ({right.id[:6]})"
        return templates.TemplateResponse(request, "compare.html", {
            "a": left, "b": right, "title_a": title_a, "title_b": title_b,
            "rows": compare(left, right, names[left.id].label, names[right.id].label)})

    @app.get("/experiments/code-diff", response_class=HTMLResponse, include_in_schema=False)
    def code_diff_page(request: Request, a: str, b: str) -> HTMLResponse:
        left, right = experiment_or_404(request, a), experiment_or_404(request, b)
        hub = request.app.state.hub
        names = run_names(_session_records(request, [left, right]))
        diffs = code_diff(left, workspace_of(hub.settings, hub.store, left),
                          right, workspace_of(hub.settings, hub.store, right))
        return templates.TemplateResponse(request, "code_diff.html", {
            "a": left, "b": right, "title_a": names[left.id].title,
            "title_b": names[right.id].title, "diffs": diffs})

    @app.get("/experiments/{exp_id}", response_class=HTMLResponse, include_in_schema=False)
    def experiment_page(request: Request, exp_id: str) -> HTMLResponse:
        record = experiment_or_404(request, exp_id)
        hub = request.app.state.hub
        siblings = hub.ledger.experiments(record.session_id)
        names = run_names(siblings)
        parent = next((r for r in siblings if r.id == record.parent_id), None)
        children = [r for r in siblings if r.parent_id == record.id]
        output_dir = local_output_dir(hub.settings, hub.store, record)
        run_dir = local_run_dir(hub.settings, hub.store, record)
        workspace = workspace_of(hub.settings, hub.store, record)
        return templates.TemplateResponse(request, "experiment.html", {
            "e": record, "name": names[record.id], "names": names, "parent": parent,
            "children": children, "artifacts": artifacts(output_dir, run_dir),
            "code_files": snapshot_files(record, workspace),
            "others": [r for r in siblings if r.id != record.id and r.snapshot_path]})

    @app.get("/experiments/{exp_id}/log.txt", include_in_schema=False)
    def full_log(request: Request, exp_id: str) -> Response:
        record = experiment_or_404(request, exp_id)
        hub = request.app.state.hub
        run_dir = local_run_dir(hub.settings, hub.store, record)
        path = run_dir / "output.log" if run_dir else None
        if path is None or not path.is_file():
            raise HTTPException(404, "no output log for this run (not a local job, or gone)")
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - FULL_LOG_BYTES))
            data = f.read().decode("utf-8", errors="replace")
        head = "" if size <= FULL_LOG_BYTES else (
            f"[the first {size - FULL_LOG_BYTES} bytes are not shown]\n")
        return PlainTextResponse(head + hub.store.redactor.text(data))

    @app.get("/experiments/{exp_id}/files/{rel:path}", include_in_schema=False)
    def artifact(request: Request, exp_id: str, rel: str) -> Response:
        """An artifact: raster images as themselves (not SVG: it could carry script),
        text in a page (redacted), anything else as a download."""
        record = experiment_or_404(request, exp_id)
        hub = request.app.state.hub
        try:
            path = artifact_path(rel, local_output_dir(hub.settings, hub.store, record),
                                 local_run_dir(hub.settings, hub.store, record))
        except RunFileError as exc:
            raise HTTPException(404, str(exc)) from None
        kind = file_kind(path)
        if kind == "image":
            return FileResponse(path, headers={"Content-Security-Policy": "sandbox"})
        if kind == "text":
            text, cut = read_text(path)
            return _text_page(request, f"{rel} · {record.name}", f"/experiments/{record.id}",
                              hub.store.redactor.text(text),
                              "(cut: the file is longer)" if cut else "")
        return FileResponse(path, filename=Path(rel).name,
                            media_type="application/octet-stream",
                            content_disposition_type="attachment")

    @app.get("/experiments/{exp_id}/code/{rel:path}", include_in_schema=False)
    def code_file(request: Request, exp_id: str, rel: str) -> HTMLResponse:
        record = experiment_or_404(request, exp_id)
        hub = request.app.state.hub
        try:
            path = snapshot_file(record, workspace_of(hub.settings, hub.store, record), rel)
        except RunFileError as exc:
            raise HTTPException(404, str(exc)) from None
        text, cut = read_text(path)
        return _text_page(request, f"{rel} · code of {record.name}", f"/experiments/{record.id}",
                          hub.store.redactor.text(text), "(cut: the file is longer)" if cut else "")

