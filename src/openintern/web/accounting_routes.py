"""JSON routes for a session's cost ledger and egress log (the session page shows them
live; ``intern cost`` and ``intern egress`` print the same data)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from openintern.accounting.report import cost_summary, egress_summary, requirements_text
from openintern.store import Store
from openintern.web.access import can_see

router = APIRouter(prefix="/api")


async def _store(request: Request, session_id: str) -> Store:
    # Off the server's loop: the check reads the database.
    if not await asyncio.to_thread(can_see, request, session_id):  # 404 both ways
        raise HTTPException(404, f"no session {session_id!r}")
    store: Store = request.app.state.hub.store
    return store


@router.get("/sessions/{session_id}/cost")
async def session_cost(request: Request, session_id: str) -> dict[str, Any]:
    """Spend by category (model, summaries, sub-agents, compute by backend), tokens,
    GPU-hours, per job and configuration, over time; and the "what the loop required"
    sentence of the session report."""
    store = await _store(request, session_id)

    def build() -> dict[str, Any]:
        data = cost_summary(store, session_id).to_json()
        data["requirements"] = requirements_text(store, session_id)
        return data

    return await asyncio.to_thread(build)


@router.get("/sessions/{session_id}/egress")
async def session_egress(request: Request, session_id: str) -> dict[str, Any]:
    """Every request the session sent or was refused: per destination and one by one."""
    store = await _store(request, session_id)
    return await asyncio.to_thread(egress_summary, store, session_id)
