"""The event-bus subscriber that turns session events into notices and sends them.

It never slows the loop: ``__call__`` only looks at the event and queues; a worker thread
sends. An approval is announced only once it has waited ``approval_after_s`` (an approval
the policy or the user settles at once is no news). At interpreter exit the queue is
flushed for a few seconds, so the "session stopped" notice of a headless run gets out.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from openintern.config import NotificationTarget, Settings
from openintern.events import (
    ApprovalRequested,
    ApprovalResolved,
    EventBase,
    ExperimentUpdate,
    JobUpdate,
    ModelCall,
    TurnComplete,
)
from openintern.notifications.senders import DeliveryError, Notice, send

log = logging.getLogger(__name__)

_STOP = object()
_DONE = ("succeeded", "failed", "cancelled", "timeout")
_STOPPED = {
    "finished": "finished",
    "needs_input": "is waiting for you",
    "budget": "stopped at its budget",
    "max_iterations": "stopped at its iteration cap",
    "interrupted": "was interrupted",
    "error": "stopped on an error",
}


@dataclass
class _Waiting:
    event: ApprovalRequested
    due: float


class Notifier:
    """Watches one session's events and notifies the configured targets."""

    def __init__(self, targets: list[NotificationTarget], *, budget_usd: float | None,
                 budget_fraction: float = 0.8, approval_after_s: float = 2.0,
                 redact: Callable[[str], str] = str, flush_s: float = 10.0) -> None:
        self.targets = targets
        self.budget_usd = budget_usd
        self.budget_fraction = budget_fraction
        self.approval_after_s = approval_after_s
        self.redact = redact
        self.flush_s = flush_s
        self.sent: list[Notice] = []
        self.failures: list[str] = []
        self._budget_told = False
        self._jobs_told: set[tuple[str, str, str]] = set()
        self._waiting: dict[str, _Waiting] = {}
        self._lock = threading.Lock()
        self._closing = False
        # None wakes the worker (an approval to time); _STOP ends it after what is queued.
        self._queue: queue.Queue[Notice | object | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="notifier", daemon=True)
        self._worker.start()
        atexit.register(self.close)

    @classmethod
    def from_settings(cls, settings: Settings, *, headless: bool,
                      redact: Callable[[str], str] = str) -> Notifier | None:
        """The notifier the settings ask for (None without targets)."""
        if not settings.notifications:
            return None
        return cls(list(settings.notifications), budget_usd=settings.effective_budget(headless),
                   budget_fraction=settings.notify_budget_fraction,
                   approval_after_s=settings.notify_approval_after_s, redact=redact)

    # --- the subscriber --------------------------------------------------------------
    def __call__(self, event: EventBase) -> None:
        """Look at one event (quick: anything to send is queued)."""
        if isinstance(event, ApprovalRequested):
            with self._lock:
                self._waiting[event.request_id] = _Waiting(
                    event, time.monotonic() + self.approval_after_s)
            self._queue.put(None)  # wake the worker so it times the wait
        elif isinstance(event, ApprovalResolved):
            with self._lock:
                self._waiting.pop(event.request_id, None)
        elif isinstance(event, JobUpdate):
            self._job(event)
        elif isinstance(event, ExperimentUpdate):
            self._experiment(event)
        elif isinstance(event, ModelCall):
            self._budget(event)
        elif isinstance(event, TurnComplete):
            self._turn(event)

    def _job(self, event: JobUpdate) -> None:
        key = (event.backend, event.job_id, event.status)
        if event.status not in _DONE or key in self._jobs_told:
            return
        self._jobs_told.add(key)
        detail = f"\n{event.detail}" if event.detail else ""
        self._put(Notice("job", f"Job {event.job_id} on {event.backend} {event.status}",
                         f"Session {event.session_id}.{detail}", event.session_id,
                         "high" if event.status != "succeeded" else "default"))

    def _experiment(self, event: ExperimentUpdate) -> None:
        key = ("experiment", event.experiment_id, event.status)
        if event.status not in _DONE or key in self._jobs_told:
            return
        self._jobs_told.add(key)
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(event.metrics.items())[:8])
        self._put(Notice("job", f"Experiment {event.experiment_id} {event.status}",
                         f"Session {event.session_id}. {metrics or 'no metrics'}",
                         event.session_id,
                         "high" if event.status != "succeeded" else "default"))

    def _budget(self, event: ModelCall) -> None:
        budget = self.budget_usd
        if self._budget_told or not budget:
            return
        if event.total_cost_usd >= self.budget_fraction * budget:
            self._budget_told = True
            share = event.total_cost_usd / budget
            self._put(Notice("budget", f"Budget {share:.0%} spent",
                             f"Session {event.session_id} has spent ${event.total_cost_usd:.2f} "
                             f"of its ${budget:.2f} budget; it stops at the cap.",
                             event.session_id, "high"))

    def _turn(self, event: TurnComplete) -> None:
        what = _STOPPED.get(event.reason, event.reason)
        text = event.text.strip()
        body = (f"{event.iterations} model calls, ${event.total_cost_usd:.2f}. "
                f"Resume with: intern resume {event.session_id}")
        if text:
            body = f"{text[:500]}\n\n{body}"
        self._put(Notice("session", f"Session {event.session_id} {what}", body,
                         event.session_id, "default" if event.reason == "finished" else "high"))

    def _put(self, notice: Notice) -> None:
        self._queue.put(notice)

    # --- the worker ------------------------------------------------------------------
    def _due_approvals(self, now: float) -> tuple[list[ApprovalRequested], float | None]:
        with self._lock:
            due = [w.event for w in self._waiting.values() if w.due <= now]
            for event in due:
                del self._waiting[event.request_id]
            later = [w.due for w in self._waiting.values()]
        return due, min(later) if later else None

    def _work(self) -> None:
        while True:
            due, next_due = self._due_approvals(time.monotonic())
            for event in due:
                self._deliver(_approval_notice(event))
            timeout = None if next_due is None else max(0.0, next_due - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                continue
            if item is _STOP:
                return
            if isinstance(item, Notice):
                self._deliver(item)

    def _deliver(self, notice: Notice) -> None:
        notice.title, notice.body = self.redact(notice.title), self.redact(notice.body)
        for target in self.targets:
            if notice.kind not in target.events:
                continue
            try:
                send(target, notice)
            except DeliveryError as exc:
                self.failures.append(str(exc))
                log.warning("%s", exc)
        self.sent.append(notice)

    def close(self) -> None:
        """Send what is queued (at most ``flush_s`` seconds), then stop the worker."""
        if self._closing:
            return
        self._closing = True
        self._queue.put(_STOP)
        self._worker.join(self.flush_s)


def _approval_notice(event: ApprovalRequested) -> Notice:
    cost = (f" (estimated ${event.cost_estimate_usd:.2f})"
            if event.cost_estimate_usd is not None else "")
    return Notice("approval", f"Approval needed: {event.name}{cost}",
                  f"{event.reason}\nSession {event.session_id} is waiting; answer in the "
                  "terminal or the web app.", event.session_id, "high")
