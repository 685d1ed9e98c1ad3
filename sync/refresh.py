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


def render_summary(summary: SyncSummary, lang: str = "zh", max_problems: int = 20):
    """Rich renderables (tables) for the CLI: per-table counts, then the data problems."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table

    zh = lang != "en"
    t = Table(title=(f"同步 {summary.project}" if zh else f"Sync {summary.project}"))
    heads = (["表", "方式", "读取", "变更", "删除", "记录数", "调用", "问题"] if zh else
             ["Table", "Mode", "Read", "Changed", "Deleted", "Records", "Calls", "Problems"])
    for h in heads:
        t.add_column(h, justify="left" if h in ("表", "方式", "Table", "Mode") else "right")
    by_table = Counter(p.table for p in summary.problems)
    modes = {"full": "全量", "incremental": "增量", "records": "按记录"}
    for r in summary.report.tables:
        spec = PLAN_TABLES[r.table]
        t.add_row(spec.name if zh else spec.en, modes.get(r.mode, r.mode) if zh else r.mode, str(r.read),
                  str(r.changed), str(r.deleted), str(r.total), str(r.calls), str(by_table.get(r.table, 0)))
    rep = summary.report
    t.add_section()
    t.add_row("合计" if zh else "Total", "", str(rep.read), str(rep.changed), str(rep.deleted),
              str(sum(r.total for r in rep.tables)), str(summary.total_calls), str(len(summary.problems)))
    parts = [t]
    calls = Table(title="API 调用" if zh else "API calls")
    calls.add_column("API")
    calls.add_column("次数" if zh else "Calls", justify="right")
    for api, n in sorted(summary.calls.items()):
        calls.add_row(api, str(n))
    if summary.retries:
        calls.add_row("重试" if zh else "retries", str(summary.retries))
    parts.append(calls)
    drift = summary.drift
    if drift is not None and (drift.gaps or drift.changes):
        dt = Table(title="字段变化 / schema drift" if zh else "Schema drift")
        dt.add_column("")
        said = set()
        for c in drift.changes:
            said.add((c.table, c.attr))
            dt.add_row(escape(c.text if zh else c.text_en))
        for g in drift.gaps:
            if (g.table, g.field) not in said:
                dt.add_row(escape(g.describe("zh" if zh else "en")))
        parts.append(dt)
    if summary.problems:
        pt = Table(title=(f"数据问题（{len(summary.problems)}）" if zh else f"Data problems ({len(summary.problems)})"))
        pt.add_column("")
        for p in summary.problems[:max_problems]:
            pt.add_row(escape(p.describe("zh" if zh else "en")))
        if len(summary.problems) > max_problems:
            more = len(summary.problems) - max_problems
            pt.add_row(f"… 另有 {more} 条" if zh else f"… {more} more")
        parts.append(pt)
    return Group(*parts)
