"""Rules react to edits: a record-change event re-runs the rules for the records people touched.

The dispatcher refreshes the changed records into the mirror, then calls `EditReactor.changed`.
Changes are coalesced per project and record and debounced (`edit_debounce_seconds`, default
1.5 s; each new edit restarts the wait, at most 4× that): then `react` runs every rule over the
mirrored snapshot at `now` and keeps only what concerns those records — their derived cells
(风险评分, 偏差, 基线偏差, status …) plus the project row (整体状态) — and their non-digest notices
(escalation, budget, gate, slip, sign-off, 知会). Overdue / due-soon items still wait for the
morning digest. Notice keys are the periodic check's, so the ledger sends each once whichever
runs first; the periodic check stays the safety net for events that never arrive.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from gtm.bot.checks.check import make_sender
from gtm.bot.checks.notify import Sender
from gtm.bot.rules.engine import run_checks
from gtm.bot.runtime import ProjectRuntime, Runtime
from gtm.sync.store.ledger import get_states, save_states
from gtm.sync.writeback import apply, plan_writes

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass
class ReactRun:
    project: str
    records: set[tuple[str, str]]
    writes_applied: int = 0
    notices: int = 0
    outcomes: list[Any] = field(default_factory=list)


def react(runtime: Runtime, project: ProjectRuntime, records: set[tuple[str, str]], now: datetime,
          sender: Sender | None = None) -> ReactRun:
    """Run the rules for `records` ((table key, record id)) of `project` at `now`: write their
    derived cells, send their notices, keep their escalation ladder state."""
    mirror = runtime.mirror(project)
    snapshot = mirror.snapshot(now)
    with runtime.store.session() as s:
        states = get_states(s, project.slug)
    result = run_checks(snapshot, now, project.policy, states)
    run = ReactRun(project.slug, set(records))
    writes = [w for w in result.writes if (w.table, w.record_id) in records or w.table == "project"]
    if writes:
        run.writes_applied = apply(plan_writes(writes, mirror), mirror, runtime.gateway).written_cells
    notices = [n for n in result.notices if not n.digest and n.record is not None
               and (n.record.table, n.record.record_id) in records]
    run.notices = len(notices)
    if notices:
        name = snapshot.project.name or project.name
        sender = sender or make_sender(runtime, {name: project.slug})
        run.outcomes = sender.dispatch(project.slug, name, notices, now, project.policy)
    ladder = [e for e in result.escalations if (e.table, e.record_id) in records]
    if ladder:
        with runtime.store.session() as s:
            save_states(s, project.slug, ladder)
    return run


class EditReactor:
    """Debounces record-change events per project and runs `react` for the records they name."""

    def __init__(self, runtime: Runtime, clock: Clock, delay: float = 1.5) -> None:
        self.runtime, self.clock, self.delay = runtime, clock, max(0.0, delay)
        self._pending: dict[str, set[tuple[str, str]]] = {}
        self._first: dict[str, float] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()
        self._running: dict[str, threading.Lock] = {}
        self.runs: list[ReactRun] = []  # the latest runs (kept short), for tests and metrics
        self._closed = False

    def changed(self, project: ProjectRuntime, table_key: str, record_ids: list[str]) -> None:
        slug = project.slug
        with self._lock:
            if self._closed:
                return
            self._pending.setdefault(slug, set()).update((table_key, r) for r in record_ids)
            first = self._first.setdefault(slug, time.monotonic())
            old = self._timers.pop(slug, None)
            if old is not None:
                old.cancel()
            wait = min(self.delay, max(0.0, first + 4 * self.delay - time.monotonic()))
            timer = threading.Timer(wait, self._fire, args=(slug,))
            timer.daemon = True
            self._timers[slug] = timer
            timer.start()

    def _fire(self, slug: str) -> None:
        with self._lock:
            records = self._pending.pop(slug, set())
            self._first.pop(slug, None)
            self._timers.pop(slug, None)
            run_lock = self._running.setdefault(slug, threading.Lock())
        if not records:
            return
        with run_lock:
            try:
                project = self.runtime.project(slug)
                run = react(self.runtime, project, records, self.clock())
            except Exception:  # noqa: BLE001 - the periodic check is the safety net
                log.exception("rules after an edit failed for %s (%d records)", slug, len(records))
                return
        with self._lock:
            self.runs = [*self.runs[-49:], run]

    def idle(self) -> bool:
        with self._lock:
            return not self._timers and not self._pending

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for t in self._timers.values():
                t.cancel()
            self._timers.clear()
            self._pending.clear()
