"""The ``research`` tool: a read-only sub-agent that answers one question with a brief.

The sub-agent runs in its own recorded session (see :mod:`openintern.agent.subagent`)
with the read-only research tools, ``read_file`` and ``submit_brief`` — a tool only it
has, whose params model *is* the brief, so a finding without a source is a validation
error the sub-agent sees and fixes. The brief comes back to the main agent as compact
markdown with numbered sources; ``data`` holds the brief as JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal, cast

from pydantic import BaseModel, Field, model_validator

from openintern.accounting.accountant import CostAccountant
from openintern.agent.subagent import SubagentOutcome, SubagentRun, run_subagent
from openintern.llm.types import LLMClient
from openintern.store import Store
from openintern.tools.base import Tool, ToolContext, ToolError, ToolRegistry, ToolResult
from openintern.tools.schema import GUIDE_ONLY

MAX_ITERATIONS = 40
DEFAULT_TOKEN_BUDGET = 200_000
# The schema's ceiling; settings.research_max_tokens and the session's own budget may
# lower it further (a sub-agent spends from its parent's budget).
MAX_TOKEN_BUDGET = 1_000_000


class Source(BaseModel):
    """Where a claim comes from."""

    kind: Literal["paper", "url", "file"] = Field(
        description="paper: a paper you read; url: a web page, doc, repo or dataset page; "
        "file: a file in the workspace."
    )
    id_or_url: str = Field(
        min_length=1,
        description="Paper id as the papers tool gives it (e.g. arXiv:2401.00001), the full "
        "URL, or the workspace file path.",
    )
    section: str | None = Field(
        None, description="Section (e.g. '2.1 Data'), table, or line range the claim is from."
    )

    @model_validator(mode="after")
    def _url_is_a_url(self) -> Source:
        if self.kind == "url" and not self.id_or_url.startswith(("http://", "https://")):
            raise ValueError(
                f"a url source needs a full http(s) URL, got {self.id_or_url!r}"
            )
        return self


class Finding(BaseModel):
    """One claim and the source it was read in."""

    claim: str = Field(min_length=1, description="One specific claim, numbers exact.")
    source: Source = Field(description="Where you read it. Required: no source, no claim.")
    confidence: Literal["high", "medium", "low"] = Field(
        "medium", description="high: stated plainly in the source; low: inferred."
    )


class Brief(BaseModel):
    """The structured answer of a research sub-agent."""

    summary: str = Field(min_length=1, description="The answer in a few sentences.")
    findings: list[Finding] = Field(
        default_factory=list, description="Claims, each with its source."
    )
    open_questions: list[str] = Field(
        default_factory=list, description="What you could not establish."
    )
    recommended_next_steps: list[str] = Field(
        default_factory=list, description="What the main agent should do next."
    )


class ResearchBrief(Brief):
    """A brief as the research tool returns it: the sub-agent's brief plus how the run
    ended. ``complete`` is False when the sub-agent stopped before submitting."""

    question: str
    complete: bool
    stop_reason: str
    session_id: str
    iterations: int
    tokens_used: int


@dataclass
class _BriefSlot:
    """Where one run's ``submit_brief`` puts the brief (one slot per run)."""

    brief: Brief | None = None


class SubmitBrief(Tool[Brief]):
    """Submit your research brief and finish. Call this exactly once, at the end.

    Every finding must name its source: kind "paper" with the paper id and section you
    read, kind "url" with the full URL, or kind "file" with the workspace path. Only claim
    what a source says; put what you could not verify under open_questions.
    """

    name = "submit_brief"
    read_only = True

    def __init__(self, slot: _BriefSlot) -> None:
        self._slot = slot

    async def run(self, params: Brief, ctx: ToolContext) -> ToolResult:
        if self._slot.brief is not None:
            raise ToolError("a brief was already submitted; the research is finished")
        unseen = _unseen_sources(params, ctx)
        if unseen:
            raise ToolError(
                "these sources never appeared in anything you read in this research: "
                + ", ".join(unseen)
                + ". Open them first (papers read / web fetch / read_file), cite what you "
                "did read, or move the claim to open_questions."
            )
        self._slot.brief = params
        return ToolResult(
            f"Brief received ({len(params.findings)} findings). You are done.",
            data=params.model_dump(mode="json"),
        )


def _normalised(ref: str) -> str:
    ref = ref.strip().lower()
    for prefix in ("arxiv:", "doi:", "https://arxiv.org/abs/", "http://arxiv.org/abs/"):
        ref = ref.removeprefix(prefix)
    return re.sub(r"v\d+$", "", ref.rstrip("/"))


def _unseen_sources(brief: Brief, ctx: ToolContext) -> list[str]:
    """Sources the brief cites that appear nowhere in this sub-session's tool calls or
    results: a claim attributed to a paper or page the sub-agent never saw."""
    store = ctx.services.get("store")
    if not isinstance(store, Store):
        return []
    # What was read: tool results, and the arguments of calls made to read (the brief's
    # own submit_brief arguments, stored before this runs, do not count).
    seen = "\n".join(
        f"{m.content}\n"
        + "\n".join(c.arguments for c in m.tool_calls if c.name != SubmitBrief.name)
        for m in store.load_messages(ctx.session_id)
        if m.role in ("tool", "assistant")
    ).lower()
    unseen = []
    for finding in brief.findings:
        ref = finding.source.id_or_url
        if _normalised(ref) not in seen and ref not in unseen:
            unseen.append(ref)
    return unseen


class ResearchParams(BaseModel):
    """Arguments of the research tool."""

    question: str = Field(min_length=3, description="Self-contained question.")
    focus: str | None = Field(None, description="What to extract, e.g. 'the recipe'.",
                              json_schema_extra=GUIDE_ONLY)
    max_iterations: int = Field(12, ge=1, le=MAX_ITERATIONS, description="Sub-agent steps.",
                                json_schema_extra=GUIDE_ONLY)
    max_tokens: int = Field(
        DEFAULT_TOKEN_BUDGET, ge=2_000, le=MAX_TOKEN_BUDGET,
        description="Sub-agent tokens, all steps; spent from the session's budget.",
        json_schema_extra=GUIDE_ONLY)


class Research(Tool[ResearchParams]):
    """Delegate a literature/web question needing several lookups to a read-only
    sub-agent; returns a sourced brief and keeps your context small.

    The sub-agent has its own context and the read-only tools (papers, datasets, hub,
    docs, github, web, read_file); it cannot write files or run commands. It returns a
    brief: a summary, findings each attributed to a source (paper id + section, or URL),
    open questions and next steps. Use it for questions that need several lookups, e.g.
    "what is the current best recipe for X": your own context stays small. Several
    research calls in one reply run in parallel. A brief marked INCOMPLETE hit its
    iteration or token cap; ask a narrower question or raise the caps.
    """

    name = "research"
    read_only = True

    async def run(self, params: ResearchParams, ctx: ToolContext) -> ToolResult:
        llm = ctx.services.get("llm")
        store = ctx.services.get("store")
        if llm is None or not hasattr(llm, "stream"):
            raise ToolError(
                "the research sub-agent needs the session's model client in "
                "ctx.services['llm'], which this session does not provide; research "
                "directly with the papers/web/docs tools instead"
            )
        if not isinstance(store, Store):
            raise ToolError(
                "the research sub-agent needs the session store in ctx.services['store'], "
                "which this session does not provide; research directly with the "
                "papers/web/docs tools instead"
            )
        slot = _BriefSlot()
        max_tokens = _token_cap(params.max_tokens, ctx)
        run = SubagentRun(
            task=params.question,
            prompt=_task_prompt(params, max_tokens),
            system_prompt=researcher_prompt(),
            tools=researcher_registry(slot),
            max_iterations=params.max_iterations,
            max_tokens=max_tokens,
            should_stop=lambda: "brief submitted" if slot.brief is not None else None,
            config={
                "kind": "research",
                "max_iterations": params.max_iterations,
                "max_tokens": max_tokens,
            },
        )
        outcome = await run_subagent(run, llm=cast(LLMClient, llm), store=store, parent=ctx)
        brief = _result_brief(params.question, slot.brief, outcome)
        return ToolResult(render_brief(brief), data=brief.model_dump(mode="json"))


def _token_cap(asked: int, ctx: ToolContext) -> int:
    """The sub-agent's token budget: what was asked, within the settings' ceiling and
    what is left of the session's token budget."""
    cap = min(asked, ctx.settings.research_max_tokens)
    accountant = ctx.services.get("accountant")
    if isinstance(accountant, CostAccountant):
        left = accountant.remaining_tokens()
        if left is not None:
            cap = min(cap, left)
    return max(0, cap)


def researcher_prompt() -> str:
    """The sub-agent's system prompt shipped with the package."""
    path = resources.files("openintern.agent") / "prompts" / "researcher.md"
    return path.read_text("utf-8")


def researcher_registry(slot: _BriefSlot) -> ToolRegistry:
    """The sub-agent's tools: read-only research tools, read_file, submit_brief and help."""
    from openintern.tools.catalog import research_tools
    from openintern.tools.files import ReadFile
    from openintern.tools.help import Help

    # Only read-only tools, and never research itself: sub-agents do not nest.
    tools = [t for t in research_tools() if t.read_only and t.name != Research.name]
    registry = ToolRegistry([*tools, ReadFile(), SubmitBrief(slot)])
    registry.add(Help(registry))
    return registry


def _task_prompt(params: ResearchParams, max_tokens: int) -> str:
    lines = [f"Question: {params.question}"]
    if params.focus:
        lines.append(f"Focus: {params.focus}")
    lines.append(
        f"Limits: at most {params.max_iterations} steps and about {max_tokens} "
        "tokens in total. Finish by calling submit_brief before you run out; every "
        "finding needs its source."
    )
    return "\n".join(lines)


def _result_brief(question: str, brief: Brief | None, outcome: SubagentOutcome) -> ResearchBrief:
    run = {
        "question": question,
        "session_id": outcome.session_id,
        "iterations": outcome.iterations,
        "tokens_used": outcome.tokens_used,
    }
    if brief is not None:
        return ResearchBrief(**brief.model_dump(), complete=True, stop_reason="submitted", **run)
    reason = outcome.stop_detail or {
        "max_iterations": f"iteration cap of {outcome.iterations} steps reached",
        "finished": "the sub-agent ended without calling submit_brief",
        "error": "the model call failed",
    }.get(outcome.reason, outcome.reason)
    summary = outcome.last_text or "The sub-agent wrote nothing before it stopped."
    return ResearchBrief(
        summary=summary,
        open_questions=[f"The research stopped early ({reason}); its findings are unsourced."],
        recommended_next_steps=[
            f"Inspect sub-session {outcome.session_id} (`intern sessions`, or its page in "
            "`intern serve`) or rerun research with a narrower question or larger caps."
        ],
        complete=False,
        stop_reason=reason,
        **run,
    )


def render_brief(brief: ResearchBrief) -> str:
    """The brief as compact markdown: summary, findings citing numbered sources, then
    the source list."""
    status = "" if brief.complete else f" — INCOMPLETE ({brief.stop_reason})"
    out = [f"## Research brief{status}", f"Question: {brief.question}", "", brief.summary]
    numbers: dict[tuple[str, str, str | None], int] = {}
    if brief.findings:
        out += ["", "### Findings"]
        for i, finding in enumerate(brief.findings, 1):
            s = finding.source
            key = (s.kind, s.id_or_url, s.section)
            number = numbers.setdefault(key, len(numbers) + 1)
            out.append(f"{i}. {finding.claim} [{number}] ({finding.confidence})")
    for title, items in (
        ("Open questions", brief.open_questions),
        ("Next steps", brief.recommended_next_steps),
    ):
        if items:
            out += ["", f"### {title}", *(f"- {item}" for item in items)]
    if numbers:
        out += ["", "### Sources"]
        for (kind, ref, section), number in numbers.items():
            where = f", {section}" if section else ""
            out.append(f"[{number}] {kind} {ref}{where}")
    out += [
        "",
        f"(sub-session {brief.session_id}: {brief.iterations} steps, "
        f"{brief.tokens_used} tokens)",
    ]
    return "\n".join(out)
