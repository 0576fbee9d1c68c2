"""Research-state tools: the plan (todo list) and notes, both kept in the store."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from openintern.events import NoteSaved, PlanItem, PlanUpdated
from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult

_MARK = {"pending": "[ ]", "in_progress": "[>]", "done": "[x]", "cancelled": "[-]"}


def render_plan(items: list[PlanItem]) -> str:
    """The plan as a checklist."""
    if not items:
        return "(no plan yet)"
    return "\n".join(f"{i + 1}. {_MARK[it.status]} {it.text}" for i, it in enumerate(items))


class PlanEntry(BaseModel):
    text: str = Field(description="One step.")
    status: Literal["pending", "in_progress", "done", "cancelled"] = "pending"


class PlanParams(BaseModel):
    items: list[PlanEntry] = Field(description="The whole plan, in order.")


class Plan(Tool[PlanParams]):
    """Replace your research plan (send the whole list; one step in_progress). It stays
    in your context through every compaction.

    Statuses: pending, in_progress, done, cancelled. The plan is where you keep track of
    a long task."""

    name = "plan"

    async def run(self, params: PlanParams, ctx: ToolContext) -> ToolResult:
        if not params.items:
            raise ToolError("the plan needs at least one item")
        items = [PlanItem(text=e.text, status=e.status) for e in params.items]
        ctx.state.set_plan(items)
        ctx.emit(PlanUpdated(items=items))
        done = sum(it.status == "done" for it in items)
        return ToolResult(
            f"plan saved ({done}/{len(items)} done)\n{render_plan(items)}",
            data={"items": [it.model_dump() for it in items]},
        )


class NoteParams(BaseModel):
    text: str = Field(description="The finding with its evidence (numbers, run, source).")
    tags: list[str] = Field(default_factory=list, description="Short tags.")


class Note(Tool[NoteParams]):
    """Save a finding you will need later; notes stay in your context through every
    compaction, so anything important must be a note.

    Good notes: a result with its numbers, a dataset quirk, a paper's recipe, a decision
    and why."""

    name = "note"

    async def run(self, params: NoteParams, ctx: ToolContext) -> ToolResult:
        if not params.text.strip():
            raise ToolError("note text is empty")
        note_id = ctx.state.add_note(params.text.strip(), params.tags)
        ctx.emit(NoteSaved(note_id=note_id, text=params.text.strip(), tags=params.tags))
        return ToolResult(f"note {note_id} saved", data={"note_id": note_id})
