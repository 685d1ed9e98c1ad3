"""`gtm sync [--full]`: refresh one project's mirror and say what it cost.

The API-call figures come from the gateway's own counters (before/after), so they include retries
and anything else the refresh did, not just what the mirror thinks it asked for.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from gtm.schemas.plan import DataProblem, PlanSnapshot
from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.binding import BaseBinding
from gtm.sync.drift import DriftReport
from gtm.sync.mirror import DEFAULT_RECONCILE_INTERVAL, Mirror, RefreshReport


@dataclass
class SyncSummary:
    project: str
    report: RefreshReport
    snapshot: PlanSnapshot
    calls: dict[str, int] = field(default_factory=dict)  # API name → calls during this sync
    retries: int = 0
    rate_limited: int = 0
    drift: DriftReport | None = None

    @property
    def problems(self) -> list[DataProblem]:
        return self.snapshot.problems

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def counts(self) -> dict[str, int]:
        return {k: len(self.snapshot.rows(k)) for k in PLAN_TABLES.keys()}


def sync_project(store, gateway, binding: BaseBinding, now: datetime, full: bool = False, *,
                 reconcile_interval: timedelta = DEFAULT_RECONCILE_INTERVAL,
                 mirror: Mirror | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> SyncSummary:
    """Refresh the mirror (incremental unless `full` or a reconcile is due) and decode it."""
    calls0 = Counter(gateway.stats.calls)
    retries0 = sum(gateway.stats.retries.values())
    limited0 = sum(gateway.stats.rate_limited.values())
    m = mirror or Mirror(store, gateway, binding, reconcile_interval=reconcile_interval)
    drift = m.check_schema(now)
    report = m.refresh(now, full=full, tables_full=drift.changed_tables, progress=progress)
    snap = m.snapshot(now)
    delta = Counter(gateway.stats.calls)
    delta.subtract(calls0)
    return SyncSummary(project=binding.slug, report=report, snapshot=snap,
                       calls={k: v for k, v in delta.items() if v > 0},
                       retries=sum(gateway.stats.retries.values()) - retries0,
                       rate_limited=sum(gateway.stats.rate_limited.values()) - limited0, drift=drift)

