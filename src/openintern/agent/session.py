"""A research session wired from settings: store, sandbox, tools, model, context, loop.

The CLI and the web app both drive sessions through this class; neither reaches into the
loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from openintern.agent.context import ContextBuilder, ContextLimits, ModelSummarizer
from openintern.agent.guards import Approver, AutoApprover, DenyingApprover
from openintern.agent.loop import LoopLimits, ResearchLoop
from openintern.agent.pinned import Section, render_pinned_state
from openintern.config import Settings
from openintern.events import ErrorEvent, EventBus, GuardTriggered, SessionStarted, TurnComplete
from openintern.llm.types import LLMClient
from openintern.sandbox import make_sandbox
from openintern.secrets import Redactor
from openintern.store import SessionInfo, SessionState, Store
from openintern.tools.base import ToolContext, ToolRegistry
from openintern.tools.catalog import default_registry

if TYPE_CHECKING:
    from openintern.notifications.notifier import Notifier
    from openintern.trackers.mirror import TrackerMirror

# Session statuses of a turn that stopped before the model finished it.
RESUMABLE_STATUSES = frozenset({
    "running", "interrupted", "error", "budget", "max_iterations", "malformed_reply",
    "store_error",
})


def system_prompt() -> str:
    """The system prompt shipped with the package."""
    return (resources.files("openintern.agent") / "prompts" / "system.md").read_text("utf-8")


def open_store(settings: Settings) -> Store:
    """The store named by the settings, redacting the settings' own secrets too."""
    return Store(settings.resolved_store_url(), Redactor.from_environment(settings.secret_values()))


def make_llm(settings: Settings) -> LLMClient:
    """The LiteLLM client for the configured model."""
    from openintern.llm.client import LiteLLMClient

    return LiteLLMClient.from_settings(settings)


@dataclass
class SessionOptions:
    """How a session runs (beyond Settings): headless or interactive, and its approver."""

    headless: bool = True
    approver: Approver | None = None
    extra_sections: list[Section] = field(default_factory=list)


def _recorded_data_policy(settings: Settings, recorded: object) -> Settings:
    """A resumed session keeps the data policy it was started with: local-only stays
    local-only, and its private paths stay private (the new settings may only add)."""
    if not isinstance(recorded, dict):
        return settings
    update: dict[str, object] = {}
    if recorded.get("egress") == "local-only" and settings.egress != "local-only":
        # No sandbox network either (a bool before the sandbox got network levels).
        off = False if isinstance(settings.sandbox_network, bool) else "off"
        update.update(egress="local-only", sandbox_network=off)
    paths = [p for p in recorded.get("private_paths") or [] if isinstance(p, str)]
    missing = [p for p in paths if p not in settings.private_paths]
    if missing:
        update["private_paths"] = [*settings.private_paths, *missing]
    return settings.model_copy(update=update) if update else settings


class ResearchSession:
    """One session: its record in the store and the loop that advances it."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        info: SessionInfo,
        *,
        options: SessionOptions,
        llm: LLMClient | None = None,
        tools: ToolRegistry | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.info = info
        self.options = options
        self.bus = bus or EventBus(info.id)
        self.bus.session_id = info.id
        # Critical: an event the store cannot record must stop the turn, not vanish.
        self.bus.subscribe(store.add_event, critical=True)
        self.workspace = Path(info.workspace)
        from openintern.accounting.session_accounts import SessionAccounts

        # One accountant, egress gate and private-data filter for everything the session
        # (and its sub-agents and tools) spends and sends.
        self.accounts = SessionAccounts.create(
            settings, store, info.id, headless=options.headless, notify=self._notify)
        self.llm = self.accounts.wrap_model(llm or make_llm(settings))
        self.tools = tools or default_registry()
        self.sandbox = make_sandbox(settings, self.workspace)
        from openintern.research.ledger import Ledger
        from openintern.research.report import render_experiment_table

        self.ledger = Ledger(store)
        self.tool_ctx = ToolContext(
            settings=settings,
            workspace=self.workspace,
            sandbox=self.sandbox,
            state=SessionState(store, info.id),
            session_id=info.id,
            emit=self.bus.emit,
            services={"ledger": self.ledger, "backends": {}, "llm": self.llm, "store": store,
                      "accountant": self.accounts.accountant,
                      "backend_meter": self.accounts.backend_meter},
        )
        # The experiment table joins the pinned research state (the caller's options
        # object is not changed: it may be shared between sessions).
        self.sections: list[Section] = [
            *options.extra_sections,
            lambda sid: render_experiment_table(self.ledger, sid, max_rows=10),
        ]
        self.loop = self._make_loop()
        self._start_integrations()

    def _start_integrations(self) -> None:
        """MCP servers start connecting now (their tools join at the first turn);
        notifications subscribe to the bus."""
        from openintern.mcp.tools import missing_sdk_message, open_connections

        self._mcp_reported: set[str] = set()
        self.mcp = open_connections(self.settings)
        self._mcp_missing = missing_sdk_message(self.settings)
        self.notifier: Notifier | None = None
        if self.settings.notifications:
            from openintern.notifications.notifier import Notifier

            self.notifier = Notifier.from_settings(
                self.settings, headless=self.options.headless, redact=self.store.redactor.text)
            if self.notifier is not None:
                self.bus.subscribe(self.notifier)
        self.mirror: TrackerMirror | None = None
        if self.settings.trackers:
            from openintern.trackers.mirror import TrackerMirror

            self.mirror = TrackerMirror.from_settings(self.settings, self.ledger, self.info.id)
            if self.mirror is not None:
                self.bus.subscribe(self.mirror)

    async def _offer_mcp_tools(self) -> None:
        if self._mcp_missing:
            self.bus.emit(ErrorEvent(message=self._mcp_missing))
            self._mcp_missing = None
        if self.mcp is not None:
            from openintern.mcp.tools import offer_tools

            await offer_tools(self.mcp, self.settings, self.tools, self.bus.emit,
                              self._mcp_reported)

    def close(self) -> None:
        """Stop what the session started beside the loop (MCP servers, notifier,
        tracker mirror: pending notices and runs are sent first)."""
        if self.mcp is not None:
            self.mcp.close()
        if self.notifier is not None:
            self.notifier.close()
        if self.mirror is not None:
            self.mirror.close()

    def _notify(self, guard: str, text: str) -> None:
        self.bus.emit(GuardTriggered(guard=guard, detail=text))

    def _make_loop(self) -> ResearchLoop:
        s = self.settings
        window = s.context_window or self.llm.context_window()
        limits = ContextLimits.from_settings(s, window)
        context = ContextBuilder(
            system_prompt=system_prompt(),
            limits=limits,
            spill_dir=self.workspace / ".openintern" / "spill",
            workspace=self.workspace,
            pinned_state=lambda: render_pinned_state(
                self.store, self.info.id, self.sections
            ),
            summarizer=ModelSummarizer(self.llm),
        )
        approver = self.options.approver
        if approver is None:
            approver = AutoApprover() if s.auto_approve else DenyingApprover()
        return ResearchLoop(
            session_id=self.info.id,
            model=self.llm,
            tools=self.tools,
            context=context,
            store=self.store,
            bus=self.bus,
            tool_ctx=self.tool_ctx,
            approver=approver,
            limits=LoopLimits(
                max_iterations=s.max_iterations,
                budget_usd=s.effective_budget(self.options.headless),
                compute_budget_usd=s.compute_budget_usd,
            ),
        )

    # --- construction ------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        settings: Settings,
        task: str,
        *,
        store: Store | None = None,
        options: SessionOptions | None = None,
        llm: LLMClient | None = None,
        bus: EventBus | None = None,
        tools: ToolRegistry | None = None,
    ) -> ResearchSession:
        """Record a new session for ``task`` in the configured workspace."""
        store = store or open_store(settings)
        opts = options or SessionOptions()
        workspace = settings.workspace.resolve()
        workspace.mkdir(parents=True, exist_ok=True)
        info = store.create_session(
            task=task,
            model=settings.model,
            workspace=str(workspace),
            headless=opts.headless,
            config={
                "sandbox": settings.sandbox,
                "network": settings.sandbox_network,
                "api_base": settings.api_base,
                # Kept so a resumed session stops at the budget it was given, not the
                # default, unless a new --budget says otherwise.
                "budget_usd": settings.effective_budget(opts.headless),
                "accounting": {
                    "token_budget": settings.token_budget,
                    "egress": settings.egress,
                    "private_paths": settings.private_paths,
                },
            },
        )
        return cls(settings, store, info, options=opts, llm=llm, bus=bus, tools=tools)

    @classmethod
    def open(
        cls,
        settings: Settings,
        session_id: str,
        *,
        store: Store | None = None,
        options: SessionOptions | None = None,
        llm: LLMClient | None = None,
        bus: EventBus | None = None,
        tools: ToolRegistry | None = None,
    ) -> ResearchSession:
        """Re-open a recorded session (its workspace and model as recorded, unless the
        settings name another model explicitly)."""
        store = store or open_store(settings)
        info = store.get_session(session_id)
        settings = settings.model_copy(update={"workspace": Path(info.workspace)})
        settings = _recorded_data_policy(settings, info.config.get("accounting"))
        if "model" not in settings.model_fields_set:
            settings = settings.model_copy(update={"model": info.model})
            if info.config.get("api_base") and not settings.api_base:
                settings = settings.model_copy(update={"api_base": info.config["api_base"]})
        recorded = info.config.get("budget_usd")
        if settings.max_cost_usd is None and isinstance(recorded, int | float):
            settings = settings.model_copy(update={"max_cost_usd": float(recorded)})
        elif settings.max_cost_usd is not None and settings.max_cost_usd != recorded:
            # A new budget given on resume stays the session's budget from now on.
            store.update_session(info.id, config={**info.config,
                                                  "budget_usd": settings.max_cost_usd})
        return cls(settings, store, info, options=options or SessionOptions(), llm=llm, bus=bus,
                   tools=tools)

    # --- use ---------------------------------------------------------------------------
    @property
    def interrupted_mid_turn(self) -> bool:
        """Whether the last turn never completed (the process was stopped or killed)."""
        return self.store.get_session(self.info.id).status == "running"

    @property
    def stopped_mid_turn(self) -> bool:
        """Whether the last turn stopped before the model finished it (killed, interrupted,
        an error, a limit): ``run(None)`` continues it."""
        return self.store.get_session(self.info.id).status in RESUMABLE_STATUSES

    async def run(self, text: str | None) -> TurnComplete:
        """Run one turn: with ``text`` a new user message, with None continue the turn
        that was interrupted."""
        from openintern.egress import gate_active

        with gate_active(self.accounts.gate):
            self.bus.emit(
                SessionStarted(task=self.info.task, model=self.settings.model,
                               resumed=text is None)
            )
            await self._offer_mcp_tools()
            if await self.sync_experiments():
                self.loop.context.refresh_pinned()
            return await self.loop.run_turn(text)

    async def sync_experiments(self) -> int:
        """Bring unfinished experiments of this session up to date from their backends
        (jobs keep running while the agent is stopped); returns how many were synced.
        An unreachable backend is reported as an event, never fatal."""
        from openintern.compute.base import JobBackendError
        from openintern.compute.registry import backend_from_services
        from openintern.research.runner import sync

        synced = 0
        for exp in self.ledger.experiments(self.info.id):
            if exp.done or exp.job_id is None:
                continue
            try:
                backend = backend_from_services(
                    self.tool_ctx.services, exp.backend or "local", self.settings,
                    self.workspace, self.sandbox)
                await sync(self.ledger, exp.id, backend)
                synced += 1
            except (JobBackendError, OSError) as exc:
                self.bus.emit(ErrorEvent(message=f"could not refresh experiment {exp.id}: {exc}"))
        return synced

    def set_model(self, model: str) -> None:
        """Switch the model for the following turns."""
        self.settings = self.settings.model_copy(update={"model": model})
        self.llm = self.accounts.wrap_model(make_llm(self.settings))
        self.tool_ctx.services["llm"] = self.llm
        self.store.update_session(self.info.id, model=model)
        self.loop = self._make_loop()

    def set_budget(self, budget_usd: float | None) -> None:
        """Change the session's dollar cap for this and following turns."""
        from openintern.accounting.session_accounts import session_budget

        self.settings = self.settings.model_copy(update={"max_cost_usd": budget_usd})
        self.tool_ctx.settings = self.settings
        self.loop.budget.budget_usd = budget_usd
        self.accounts.accountant.set_budget(session_budget(self.settings, self.options.headless))

    def undo(self) -> int:
        """Undo the last user turn; returns how many messages were removed."""
        removed = self.store.undo_last_turn(self.info.id)
        self.loop = self._make_loop()
        return removed

    def request_compaction(self) -> None:
        """Compact the context before the next model call (the /compact command)."""
        self.loop.context.request_compaction()
