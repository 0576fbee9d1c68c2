"""The experiment pages: the ledger (sortable, mean ± CI per configuration, lineage), one
run (live metric charts and log tail), and two runs side by side; plus the logs API."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from openintern.research.ledger import ExperimentRecord, Ledger, LedgerError
from openintern.web.access import can_see, visible_experiments
from openintern.web.lab import compare, config_rows, has_lineage, lineage, run_logs
from openintern.web.templating import templates


def experiment_or_404(request: Request, exp_id: str) -> ExperimentRecord:
    """The experiment (by id or unique prefix) if this user may see it, else 404."""
    try:
        record = Ledger(request.app.state.hub.store).get(exp_id)
    except LedgerError:
        raise HTTPException(404, f"no experiment {exp_id!r}") from None
    if not can_see(request, record.session_id):
        raise HTTPException(404, f"no experiment {exp_id!r}")
    return record


def mount_experiment_pages(app: FastAPI) -> None:
    """Add the experiment pages and the logs API to ``app``."""

    @app.get("/experiments", response_class=HTMLResponse, include_in_schema=False)
    async def experiments_page(request: Request, session: str | None = None) -> HTMLResponse:
        records = visible_experiments(request, session)
        roots = lineage(records)
        return templates.TemplateResponse(request, "experiments.html", {
            "experiments": records, "session": session, "configs": config_rows(records),
            "roots": roots if has_lineage(roots) else [],
        })

    @app.get("/experiments/compare", response_class=HTMLResponse, include_in_schema=False)
    async def compare_page(request: Request, a: str, b: str) -> HTMLResponse:
        left, right = experiment_or_404(request, a), experiment_or_404(request, b)
        return templates.TemplateResponse(request, "compare.html", {
            "a": left, "b": right, "rows": compare(left, right)})

    @app.get("/experiments/{exp_id}", response_class=HTMLResponse, include_in_schema=False)
    async def experiment_page(request: Request, exp_id: str) -> HTMLResponse:
        record = experiment_or_404(request, exp_id)
        ledger = Ledger(request.app.state.hub.store)
        parent = ledger.get(record.parent_id) if record.parent_id else None
        children = [r for r in ledger.experiments(record.session_id)
                    if r.parent_id == record.id]
        return templates.TemplateResponse(request, "experiment.html", {
            "e": record, "parent": parent, "children": children})

    @app.get("/api/experiments/{exp_id}/logs")
    async def logs(request: Request, exp_id: str) -> dict[str, str]:
        """The last lines of the run's output (or why there are none)."""
        record = experiment_or_404(request, exp_id)
        hub = request.app.state.hub
        return {"experiment_id": record.id, "status": record.status,
                "text": await run_logs(hub.settings, hub.store, record)}
