"""Baseline: the plan the team committed to (`gtm baseline set`) against today's plan. Pure.

基线结束 holds the approved end date (task: 计划结束, milestone: 目标日期, when the baseline was
set); postponing moves the planned date only, so 基线偏差 = planned (or, once done, actual) end −
基线结束, in calendar days like 偏差(天). Rows without a baseline get no variance (an empty cell).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from gtm.bot.rules import RuleResult, make_write, require_aware
from gtm.bot.rules.overdue import as_date
from gtm.schemas.plan import MilestoneStatus, PlanSnapshot, TaskStatus
from gtm.schemas.settings import Policy

# table key → (planned attr, actual attr, done value)
DATES: dict[str, tuple[str, str, str]] = {
    "task": ("planned_end", "actual_end", TaskStatus.DONE.value),
    "milestone": ("target_date", "actual_date", MilestoneStatus.DONE.value),
}


def _d(value: Any, policy: Policy) -> date | None:
    d = as_date(value, policy)
    return d if isinstance(d, date) else None


def current_end(table: str, row: Any, policy: Policy) -> date | None:
    """The end the plan says now: the actual end once done, else the planned end."""
    planned, actual, done = DATES[table]
    if row.status == done and _d(getattr(row, actual), policy):
        return _d(getattr(row, actual), policy)
    return _d(getattr(row, planned), policy)


def baseline_variance(table: str, row: Any, policy: Policy) -> int | None:
    """Days the current end is after (+) or before (−) the baseline; None without a baseline."""
    base = _d(row.baseline_end, policy)
    end = current_end(table, row, policy)
    if base is None or end is None:
        return None
    return (end - base).days


def check_baseline(snapshot: PlanSnapshot, now: datetime, policy: Policy) -> RuleResult:
    """基线偏差 writes for every task and milestone whose value changed (`now`: rule contract;
    the variance compares dates only)."""
    require_aware(now)
    out = RuleResult()
    for table in DATES:
        for row in snapshot.rows(table):
            if row.baseline_end is None and row.baseline_variance is None:
                continue  # no baseline: nothing to keep (the common case, checked first)
            var = baseline_variance(table, row, policy)
            if row.baseline_variance != var:
                out.writes.append(make_write(table, row.record_id, "baseline_variance", var))
    return out


def baseline_writes(snapshot: PlanSnapshot, policy: Policy, *, only_missing: bool = False) -> RuleResult:
    """`gtm baseline set`: 基线结束 := today's planned end (and 基线偏差 accordingly) per row."""
    out = RuleResult()
    for table, (planned, _, _) in DATES.items():
        for row in snapshot.rows(table):
            end = _d(getattr(row, planned), policy)
            if end is None or (only_missing and row.baseline_end is not None):
                continue
            if row.baseline_end != end:
                out.writes.append(make_write(table, row.record_id, "baseline_end", end))
            cur = current_end(table, row, policy)
            var = (cur - end).days if cur is not None else None
            if row.baseline_variance != var:
                out.writes.append(make_write(table, row.record_id, "baseline_variance", var))
    return out
