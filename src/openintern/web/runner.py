"""Research sessions running inside the web server process.

Each live session is an asyncio task owned by a :class:`SessionRunner`; it keeps running
whether or not a browser tab watches it. The :class:`SessionHub` holds the runners and a
per-session fan-out of events, so an SSE stream can listen to a session before (or after)
the session has a runner in this process.

Building a session (store records, the sandbox, the model client, whose first import
takes seconds) is blocking work: it runs in a worker thread, never on the event loop, and
the hub warms the model client when the server starts. A web user's session gets that
user's own workspace; the sandbox policy is the server's setting, never the request's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from openintern.agent.guards import ApprovalDecision, AutoApprover
from openintern.agent.session import ResearchSession, SessionOptions
from openintern.config import Settings
from openintern.events import ApprovalRequested, EventBase
from openintern.llm.types import LLMClient
from openintern.research.ledger import Ledger
from openintern.store import Store
from openintern.tools.base import ToolRegistry
from openintern.web.workspaces import owner_workspace

log = logging.getLogger(__name__)

Listener = Callable[[EventBase], None]


class RunnerError(RuntimeError):
    """A steering action that cannot be done now; the message says why and what to do."""


class ApprovalNotPending(RunnerError):
    """The approval request is not (or no longer) waiting for an answer."""


class RunningElsewhere(RunnerError):
    """The session's turn is running in another process (a terminal, another server)."""


class InvalidEditedArguments(RunnerError):
    """Edited arguments that the pending tool's parameters reject; nothing was answered,
    so the request stays pending and the user can fix the edit."""


class WebApprover:
    """Approves or rejects pending calls from the browser: each request waits on a future
    until the user answers (or the turn is interrupted). An approval may carry edited
    arguments, which the loop runs the tool with."""

    def __init__(self) -> None:
        self._pending: dict[str, asyncio.Future[ApprovalDecision]] = {}
        self.requests: dict[str, ApprovalRequested] = {}

    async def approve(self, request: ApprovalRequested) -> ApprovalDecision:
        """Wait for the user's answer to ``request``."""
        future: asyncio.Future[ApprovalDecision] = asyncio.get_running_loop().create_future()
        self._pending[request.request_id] = future
        self.requests[request.request_id] = request
        try:
            return await future
        finally:
            self._pending.pop(request.request_id, None)
            self.requests.pop(request.request_id, None)

    def resolve(self, request_id: str, approved: bool,
                arguments: dict[str, Any] | None = None) -> bool:
        """Answer a pending request (``arguments``: the user's edit, for an approval);
        False when no such request is waiting."""
        future = self._pending.get(request_id)
        if future is None or future.done():
            return False
        future.set_result(ApprovalDecision(approved, arguments if approved else None))
        return True

    def pending(self) -> list[ApprovalRequested]:
        """Requests still waiting for an answer."""
        return list(self.requests.values())


# A turn whose process wrote nothing for this long is taken as dead (killed), not live.
ELSEWHERE_IDLE_S = 600.0


def running_elsewhere(status: str, updated_at: float, now: float | None = None) -> bool:
    """Whether a session not run by this server has a turn in progress in another
    process: its status says running and it was updated recently (a killed process
    leaves "running" behind too; that one may be continued here)."""
    return status == "running" and (now or time.time()) - updated_at < ELSEWHERE_IDLE_S


def _import_slow_modules() -> None:
    # The statistics of the lab pages first (seconds), then the model client (LiteLLM,
    # up to tens of seconds), with the bundled price table as the client uses it.
    import scipy.stats  # type: ignore[import-untyped]  # noqa: F401

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # noqa: F401


def _in_daemon_thread(work: Callable[[], None]) -> asyncio.Future[None]:
    """Run ``work`` in a daemon thread; the future completes when it is done. A daemon
    thread, unlike the loop's executor, never holds up the server's exit (a stopped
    server does not wait for an import to finish)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    def run() -> None:
        error: BaseException | None = None
        try:
            work()
        except BaseException as exc:  # handed to whoever awaits the future
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
            loop.call_soon_threadsafe(settle, error)

    threading.Thread(target=run, name="openintern-warm", daemon=True).start()
    return future


def _validation_text(exc: ValidationError) -> str:
    """Pydantic's errors as one line a person can act on: ``field: problem; ...``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(arguments)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


@dataclass
class SessionRunner:
    """One session live in this process: its turn task and the messages queued behind it."""

    session: ResearchSession
    approver: WebApprover | None
    queue: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether a turn is in progress."""
        return self.task is not None and not self.task.done()

    def send(self, text: str) -> Literal["started", "queued"]:
        """Start a turn with ``text``, or queue it for after the running turn."""
        if self.running:
            self.queue.append(text)
            return "queued"
        self.task = asyncio.create_task(self._drive(text), name=f"session-{self.session.info.id}")
        return "started"

    async def _drive(self, text: str) -> None:
        next_text: str | None = text
        while next_text is not None:
            try:
                await self.session.run(next_text)
            except Exception:  # the loop reports its own errors; this is a last resort
                log.exception("session %s crashed", self.session.info.id)
                return
            next_text = self.queue.pop(0) if self.queue else None

    async def interrupt(self) -> bool:
        """Cancel the running turn (queued messages are dropped); False if none ran."""
        if not self.running:
            return False
        self.queue.clear()
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        return True

    def resolve_approval(self, request_id: str, approved: bool,
                         arguments: dict[str, Any] | None = None) -> None:
        """Answer a pending approval. Edited ``arguments`` are checked against the
        pending tool's parameters first, so a bad edit is an error the user sees (and can
        fix) rather than a silent rejection by the loop.

        Raises :class:`ApprovalNotPending` or :class:`InvalidEditedArguments`."""
        request = self.approver.requests.get(request_id) if self.approver else None
        if self.approver is None or request is None:
            raise ApprovalNotPending(f"no pending approval {request_id!r} in this session")
        if arguments is not None:
            if not approved:
                raise InvalidEditedArguments(
                    "edited arguments only go with an approval; reject without them")
            tool = self.session.tools.get(request.name)
            if tool is not None:  # unknown here: the loop still validates before running
                try:
                    tool.params.model_validate(arguments)
                except ValidationError as exc:
                    raise InvalidEditedArguments(
                        f"the edited arguments do not fit {request.name}: "
                        f"{_validation_text(exc)}. Fix them and approve again, or reject."
                    ) from None
        if not self.approver.resolve(request_id, approved, arguments):
            raise ApprovalNotPending(f"no pending approval {request_id!r} in this session")

    async def undo(self) -> int:
        """Undo the last user turn (only between turns)."""
        if self.running:
            raise RunnerError("a turn is running; interrupt it before undoing")
        return await asyncio.to_thread(self.session.undo)

    async def raise_budget(self, budget_usd: float) -> None:
        """Set the dollar cap for this and following turns."""
        s = self.session
        s.set_budget(budget_usd)

        def record() -> None:
            config = s.store.get_session(s.info.id).config
            s.store.update_session(s.info.id, config={**config, "budget_usd": budget_usd})

        await asyncio.to_thread(record)


@dataclass
class NewSession:
    """What the user chose when starting a session."""

    goal: str
    model: str | None = None
    budget_usd: float | None = None
    job_backend: Literal["local", "ray", "hf"] | None = None
    owner: str | None = None  # the user who started it, when users are configured


class SessionHub:
    """The sessions of this server: runners by id and per-session event listeners.

    ``llm_factory`` and ``tools_factory`` replace the model client and the tool registry
    (tests use them to add a tool that needs approval); by default sessions get what the
    CLI gets.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        llm_factory: Callable[[Settings], LLMClient] | None = None,
        tools_factory: Callable[[], ToolRegistry] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.llm_factory = llm_factory
        self.tools_factory = tools_factory
        self.runners: dict[str, SessionRunner] = {}
        self._listeners: dict[str, list[Listener]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._warming: asyncio.Future[None] | None = None
        self._ledger: Ledger | None = None

    @property
    def ledger(self) -> Ledger:
        """The experiment ledger on the hub's store (made once: making one checks the
        tables)."""
        if self._ledger is None:
            self._ledger = Ledger(self.store)
        return self._ledger

    # --- listening -----------------------------------------------------------------------
    def listen(self, session_id: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every live event of a session; returns the remover."""
        self._listeners.setdefault(session_id, []).append(listener)

        def remove() -> None:
            listeners = self._listeners.get(session_id, [])
            if listener in listeners:
                listeners.remove(listener)

        return remove

    def _forward(self, event: EventBase) -> None:
        # The store subscriber runs before this one, so ``seq`` is already set.
        for listener in list(self._listeners.get(event.session_id, [])):
            listener(event)

    def _forward_threadsafe(self, event: EventBase) -> None:
        # Events from worker threads must reach asyncio queues on the server's loop.
        if self._loop is not None and threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self._forward, event)
        else:
            self._forward(event)

    # --- sessions ------------------------------------------------------------------------
    def _options(self, settings: Settings) -> tuple[SessionOptions, WebApprover | None]:
        approver = None if settings.auto_approve else WebApprover()
        options = SessionOptions(headless=False, approver=approver or AutoApprover())
        return options, approver

    def _attach(self, session: ResearchSession, approver: WebApprover | None) -> SessionRunner:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        session.bus.subscribe(self._forward_threadsafe)
        runner = SessionRunner(session=session, approver=approver)
        self.runners[session.info.id] = runner
        return runner

    def _llm(self, settings: Settings) -> LLMClient | None:
        return self.llm_factory(settings) if self.llm_factory else None

    def _tools(self) -> ToolRegistry | None:
        return self.tools_factory() if self.tools_factory else None

    async def start(self, new: NewSession) -> SessionRunner:
        """Record a new session and start its first turn with the goal. The session is
        built in a worker thread (the loop keeps serving everyone else meanwhile), in the
        owner's workspace, with the server's sandbox policy."""
        update: dict[str, object] = {}
        if new.model:
            update["model"] = new.model
        if new.budget_usd is not None:
            update["max_cost_usd"] = new.budget_usd
        if new.job_backend:
            update["job_backend"] = new.job_backend
        settings = self.settings.model_copy(update=update)
        options, approver = self._options(settings)

        def build() -> ResearchSession:
            workspace = owner_workspace(settings, new.owner)
            session = ResearchSession.create(settings.model_copy(update={"workspace": workspace}),
                                             new.goal, store=self.store,
                                             options=options, llm=self._llm(settings),
                                             tools=self._tools())
            # What the CLI does not record: the web form's backend and cap, and the owner.
            self.store.update_session(session.info.id, owner=new.owner or "", config={
                **session.info.config, "job_backend": settings.job_backend,
                "budget_usd": new.budget_usd, "owner": new.owner})
            session.info = self.store.get_session(session.info.id)
            return session

        await self.warm()
        session = await asyncio.to_thread(build)
        runner = self._attach(session, approver)
        runner.send(new.goal)
        return runner

    async def runner(self, session_id: str) -> SessionRunner:
        """The live runner of a session, opening a recorded one on demand (in a worker
        thread). Raises :class:`RunningElsewhere` when another process runs its turn."""
        if session_id in self.runners:
            return self.runners[session_id]
        info = await asyncio.to_thread(self.store.get_session, session_id)  # StoreError
        if running_elsewhere(info.status, info.updated_at):
            raise RunningElsewhere(
                "this session's turn is running in another process (intern in a terminal, "
                "or another server); wait for it to end, or stop it there (Ctrl+C)")
        settings = self.settings
        budget = info.config.get("budget_usd")
        if budget is not None:
            settings = settings.model_copy(update={"max_cost_usd": float(budget)})
        # The recorded model and model server, even when the server's settings name one.
        update: dict[str, object] = {"model": info.model}
        if info.config.get("api_base") and not settings.api_base:
            update["api_base"] = info.config["api_base"]
        settings = settings.model_copy(update=update)
        options, approver = self._options(settings)
        await self.warm()
        session = await asyncio.to_thread(
            ResearchSession.open, settings, session_id, store=self.store, options=options,
            llm=self._llm(settings), tools=self._tools())
        if session_id in self.runners:  # opened meanwhile by another request
            return self.runners[session_id]
        return self._attach(session, approver)

    # --- warming ---------------------------------------------------------------------------
    async def warm(self) -> None:
        """Import what the first session and the first lab page would otherwise wait for
        (LiteLLM and scipy take seconds to import), in a thread; started when the server
        starts, awaited by the first session. Never fails: a broken import surfaces when
        it is used."""
        if self._warming is None:
            self._warming = _in_daemon_thread(_import_slow_modules)
        with contextlib.suppress(Exception):
            await asyncio.shield(self._warming)

    @property
    def warmed(self) -> bool:
        """Whether the model client is imported (sessions start without waiting)."""
        return self._warming is not None and self._warming.done()

    async def shutdown(self) -> None:
        """Interrupt every running turn (the server is stopping)."""
        for runner in list(self.runners.values()):
            await runner.interrupt()
