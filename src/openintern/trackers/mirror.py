"""Mirrors finished ledger experiments to the configured trackers.

An event-bus subscriber: experiment, job, turn and session events ask for a scan of the
session's experiments; a worker thread (tracker libraries are slow to import and write
files or call servers) writes each finished experiment once per tracker and remembers it
in ``<data dir>/trackers/mirrored.json``, so a run finished while the agent was away is
mirrored at the next session start, and none is written twice. A run is written when it
has finished, whole: a detached job may outlive the agent process, so a tracker run is
never left half-open.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import sys
import threading
from pathlib import Path

from openintern.config import Settings, data_dir
from openintern.events import (
    ErrorEvent,
    EventBase,
    ExperimentUpdate,
    JobUpdate,
    SessionStarted,
    TurnComplete,
)
from openintern.research.ledger import ExperimentRecord, Ledger
from openintern.trackers.backends import RunRecord, Tracker, TrackerUnavailableError, make_tracker

log = logging.getLogger(__name__)
_STOP = object()


def run_record(ledger: Ledger, exp: ExperimentRecord) -> RunRecord:
    """What a tracker gets for one experiment."""
    tags = {"openintern.experiment_id": exp.id, "openintern.session_id": exp.session_id,
            "openintern.status": exp.status}
    for key, value in (("hypothesis", exp.hypothesis), ("parent_id", exp.parent_id),
                       ("sweep_id", exp.sweep_id), ("backend", exp.backend),
                       ("job_id", exp.job_id), ("code_hash", exp.code_hash),
                       ("primary_metric", exp.primary_metric), ("conclusion", exp.conclusion)):
        if value:
            tags[f"openintern.{key}"] = str(value)[:5000]
    points = [(p.name, p.step, p.value, p.ts) for p in ledger.series(exp.id)]
    return RunRecord(experiment_id=exp.id, session_id=exp.session_id, name=exp.name or exp.id,
                     status=exp.status, config=exp.config, seed=exp.seed,
                     code_hash=exp.code_hash, tags=tags, started_at=exp.started_at,
                     ended_at=exp.ended_at, points=points, final_metrics=exp.final_metrics)


class MirrorState:
    """Which experiments each tracker already has (a small JSON file, written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _load(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def done(self, tracker: str) -> set[str]:
        """Experiment ids already written to ``tracker``."""
        with self._lock:
            return set(self._load().get(tracker, []))

    def add(self, tracker: str, exp_id: str) -> None:
        """Remember one more."""
        with self._lock:
            data = self._load()
            data[tracker] = sorted({*data.get(tracker, []), exp_id})
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(self.path)


class TrackerMirror:
    """Watches one session and mirrors its finished experiments."""

    def __init__(self, settings: Settings, ledger: Ledger, session_id: str, *,
                 flush_s: float = 60.0) -> None:
        self.settings = settings
        self.ledger = ledger
        self.session_id = session_id
        self.state = MirrorState(data_dir() / "trackers" / "mirrored.json")
        self.flush_s = flush_s
        self.written: list[tuple[str, str, str]] = []  # (tracker, experiment id, where)
        self.failures: list[str] = []
        self._trackers: list[Tracker] | None = None
        self._queue: queue.Queue[object] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="tracker-mirror", daemon=True)
        self._worker.start()
        self._closed = False
        atexit.register(self.close)

    @classmethod
    def from_settings(cls, settings: Settings, ledger: Ledger, session_id: str
                      ) -> TrackerMirror | None:
        """The mirror the settings ask for (None without trackers)."""
        if not settings.trackers:
            return None
        return cls(settings, ledger, session_id)

    def __call__(self, event: EventBase) -> None:
        """Ask for a scan when something may have finished (quick)."""
        if isinstance(event, ErrorEvent):
            return
        finished = (isinstance(event, ExperimentUpdate | JobUpdate)
                    and event.status in ("succeeded", "failed", "cancelled", "timeout"))
        if finished or isinstance(event, TurnComplete | SessionStarted):
            self._queue.put("scan")

    def scan_now(self) -> None:
        """Queue a scan (also used after the session opens)."""
        self._queue.put("scan")

    def close(self) -> None:
        """Finish pending writes (at most ``flush_s`` seconds), then stop the worker."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._worker.join(self.flush_s)

    # --- worker ------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            # Collapse a burst of requests into one scan.
            stop = False
            while not self._queue.empty():
                if self._queue.get() is _STOP:
                    stop = True
            try:
                self._scan()
            except Exception as exc:  # a tracker bug must not take the worker down
                self._fail(f"tracker mirror failed: {type(exc).__name__}: {exc}")
            if stop:
                return

    def _trackers_ready(self) -> list[Tracker]:
        if self._trackers is None:
            self._trackers = []
            for name in self.settings.trackers:
                try:
                    self._trackers.append(make_tracker(name, self.settings))
                except TrackerUnavailableError as exc:
                    self._fail(str(exc))
        return self._trackers

    def _scan(self) -> None:
        trackers = self._trackers_ready()
        if not trackers:
            return
        finished = [e for e in self.ledger.experiments(self.session_id) if e.done]
        for tracker in trackers:
            done = self.state.done(tracker.name)
            for exp in finished:
                if exp.id in done:
                    continue
                try:
                    # Tracker libraries print; stdout may be a protocol (intern mcp).
                    with contextlib.redirect_stdout(sys.stderr):
                        where = tracker.write(run_record(self.ledger, exp))
                except Exception as exc:
                    self._fail(f"could not mirror experiment {exp.id} to {tracker.name}: "
                               f"{type(exc).__name__}: {exc}")
                    continue
                self.state.add(tracker.name, exp.id)
                self.written.append((tracker.name, exp.id, where))

    def _fail(self, message: str) -> None:
        self.failures.append(message)
        log.warning("%s", message)
