"""Schedule forecast: the plan as a graph and each task's and milestone's forecast finish. Pure.

The graph: a task's 前置任务 are its predecessors; a task's 里程碑 link makes it feed that
milestone; a 依赖 row's 影响的里程碑 makes it feed those milestones.

Forecast (working days from `WorkCalendar`, dates in the project's time zone):
- a done task finishes on 实际结束 (else 计划结束);
- an open task starts at 计划开始, or the working day after its latest predecessor's forecast
  finish when that is later ("pushed"); its remaining work is duration × (1 − 进度) working days
  (duration = working days from 计划开始 to 计划结束), counted from its start or from today when
  today is later; it never finishes before its 计划结束 unless pushed, and never before today;
- a pending (待确认) dependency is forecast on its 需要日期, or today once that has passed;
- a milestone's forecast is the latest forecast of the tasks and pending dependencies feeding it.

Predecessor cycles are data problems (the cycle's links are left out of the forecast), never an
error. Slips and the critical path built on this forecast: `gtm.bot.rules.schedule`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

from gtm.bot.rules import local_date, require_aware
from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.rules.graph import find_cycles
from gtm.bot.rules.overdue import as_date
from gtm.schemas.plan import (
    FIRST_YEAR,
    LAST_YEAR,
    DependencyStatus,
    MilestoneStatus,
    PlanSnapshot,
    TaskStatus,
    plausible_date,
)
from gtm.schemas.settings import Policy

_TASK_DONE = TaskStatus.DONE.value
_MS_DONE = MilestoneStatus.DONE.value
_PENDING = DependencyStatus.PENDING.value


class TaskForecast(NamedTuple):  # a tuple: built 10^5 times per run, cheaply
    start: date | None
    finish: date | None
    pushed: bool  # its start moved later because of a predecessor
    driver: str | None  # the predecessor with the latest forecast finish (critical path)
    done: bool


class MilestoneForecast(NamedTuple):
    target: date | None
    finish: date | None
    late_days: int  # working days after the target (0 when on time or unknown)
    driver: tuple[str, str] | None  # (table, record id) of the latest feeding item
    done: bool


@dataclass
class Schedule:
    """The computed schedule of one plan at one instant."""

    today: date
    tasks: dict[str, TaskForecast] = field(default_factory=dict)
    milestones: dict[str, MilestoneForecast] = field(default_factory=dict)
    dependencies: dict[str, date] = field(default_factory=dict)  # pending ones: forecast date
    successors: dict[str, list[str]] = field(default_factory=dict)
    predecessors: dict[str, list[str]] = field(default_factory=dict)  # tasks that have some; cycles left out
    cycles: list[list[str]] = field(default_factory=list)  # task record ids, in cycle order
    planned_start: dict[str, date] = field(default_factory=dict)  # usable 计划开始 of linked tasks


def _date(value: object, policy: Policy) -> date | None:
    """A usable date or None (a bad cell is reported by the overdue rule, not twice here)."""
    if value is None:
        return None
    d = value if type(value) is date else as_date(value, policy)
    # implausible dates (before 2000, after 2100) are reported by the data checks; never forecast
    return d if plausible_date(d) else None


def _order(ids: list[str], preds: dict[str, list[str]]) -> list[str]:
    """Kahn's topological order (the graph is acyclic here)."""
    indeg = {i: len(preds.get(i, ())) for i in ids}
    succ: dict[str, list[str]] = {}
    for i in ids:
        for p in preds.get(i, ()):
            succ.setdefault(p, []).append(i)
    ready = [i for i in ids if indeg[i] == 0]
    out: list[str] = []
    while ready:
        v = ready.pop()
        out.append(v)
        for s in succ.get(v, ()):
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    return out


_WINDOW_DAYS = 3660  # prefix counts cover at most ten years
_BACK_DAYS, _AHEAD_DAYS = 730, 1460  # the window around today; dates beyond ask the calendar


class _Days:
    """Working-day arithmetic through prefix counts over a window of dates (O(1) per question);
    dates outside the window fall back to `WorkCalendar`."""

    def __init__(self, cal: WorkCalendar, lo: date, hi: date) -> None:
        self.cal, self.lo = cal, lo
        self.n = min((hi - lo).days + 1, _WINDOW_DAYS)
        self.cum: list[int] = []  # working days in [lo, lo + i]
        self.days: list[date] = []  # the working days of the window, in order
        count = 0
        for i in range(self.n):
            d = lo + timedelta(days=i)
            if cal.is_working_day(d):
                count += 1
                self.days.append(d)
            self.cum.append(count)

    def between(self, start: date, end: date) -> int:
        """Working days in (start, end]."""
        i, j = (start - self.lo).days, (end - self.lo).days
        if 0 <= i < self.n and 0 <= j < self.n:
            return self.cum[j] - self.cum[i]
        return self.cal.working_days_between(start, end)

    def add(self, d: date, n: int) -> date:
        """The n-th working day after `d` (n ≥ 0; `d` itself for 0)."""
        if n <= 0:
            return d
        i = (d - self.lo).days
        if 0 <= i < self.n:
            k = self.cum[i] + n - 1
            if k < len(self.days):
                return self.days[k]
        return self.cal.add_working_days(d, n)


def build_schedule(snapshot: PlanSnapshot, now: datetime, policy: Policy,
                   calendar: WorkCalendar | None = None, *, every_task: bool = True) -> Schedule:
    """Forecast every task and milestone of `snapshot` at `now`.

    `every_task=False`: only the tasks whose forecast another item reads, i.e. those with a
    predecessor link (either end) or a 里程碑; a task with neither gets no entry in `tasks` (what
    slips need; a 100,000-task plan without links held ~13 MB of forecasts nobody read)."""
    require_aware(now)
    cal = calendar or WorkCalendar(policy)
    today = local_date(now, policy)
    sched = Schedule(today=today)
    tasks = {t.record_id: t for t in snapshot.tasks if t.record_id}
    ids = list(tasks)
    preds: dict[str, list[str]] = {}  # only tasks with predecessors (most have none: no entry)
    linked: list[str] = []  # tasks with a predecessor link (either end)
    none: list[str] = []  # what a task without predecessors has (never appended to)
    for rid, t in tasks.items():
        if not t.predecessors:
            continue
        seen: list[str] = []
        for p in t.predecessors:
            if p in tasks and p not in seen:
                seen.append(p)
        if seen:
            linked.append(rid)
            linked += seen
            preds[rid] = seen
    succ0: dict[str, list[str]] = {rid: [] for rid in dict.fromkeys(linked)}
    for rid in succ0:
        for p in preds.get(rid, none):
            succ0[p].append(rid)
    sched.cycles = find_cycles(succ0) if succ0 else []
    if sched.cycles:
        member = {rid: i for i, comp in enumerate(sched.cycles) for rid in comp}
        for rid in member:
            preds[rid] = [p for p in preds.get(rid, none) if member.get(p) != member[rid]]
    sched.predecessors = preds
    for rid in succ0:
        for p in preds.get(rid, none):
            sched.successors.setdefault(p, []).append(rid)

    days = _Days(cal, today - timedelta(days=_BACK_DAYS), today + timedelta(days=_AHEAD_DAYS))
    # the hot loop (10^5 tasks): locals, inlined date/progress checks, tuples
    out_tasks = sched.tasks
    planned_start = sched.planned_start
    add, between = days.add, days.between
    for rid in (_order(ids, preds) if succ0 else ids):
        t = tasks[rid]
        if not every_task and not t.milestone and rid not in succ0:
            continue  # nothing reads this forecast
        ps_, pe = t.planned_start, t.planned_end
        if ps_ is not None and (type(ps_) is not date or not FIRST_YEAR <= ps_.year <= LAST_YEAR):
            ps_ = _date(ps_, policy)
        if pe is not None and (type(pe) is not date or not FIRST_YEAR <= pe.year <= LAST_YEAR):
            pe = _date(pe, policy)
        if ps_ is not None and rid in succ0:
            planned_start[rid] = ps_
        if t.status == _TASK_DONE:
            out_tasks[rid] = TaskForecast(_date(t.actual_start, policy) or ps_,
                                          _date(t.actual_end, policy) or pe, False, None, True)
            continue
        start = ps_ or pe
        pushed = False
        driver: str | None = None
        latest: date | None = None
        for p in preds.get(rid, none):
            f = out_tasks[p].finish
            if f is not None and (latest is None or f > latest):
                latest, driver = f, p
        if latest is not None:
            ready = add(latest, 1)
            if start is None or ready > start:
                pushed = start is not None
                start = ready
        if start is None:
            out_tasks[rid] = TaskForecast(None, None, False, driver, False)
            continue
        if ps_ is not None and pe is not None and pe > ps_:
            prog = t.progress
            if not isinstance(prog, (int, float)) or prog != prog or prog <= 0:  # None, NaN, bad, 0
                frac = 1.0
            else:
                frac = 0.0 if prog >= 1 else 1.0 - prog
            remaining = math.ceil(between(ps_, pe) * frac - 1e-9)
        else:
            remaining = 0
        begin = today if today > start else start
        finish = add(begin, remaining) if remaining > 0 else begin
        if pe is not None and not pushed and pe > finish:
            finish = pe
        if finish < today:
            finish = today
        out_tasks[rid] = TaskForecast(start, finish, pushed, driver, False)

    for d in snapshot.dependencies:
        need = _date(d.needed_by, policy)
        if d.status == _PENDING and need is not None:
            sched.dependencies[d.record_id] = max(need, today)

    # the latest feeding item per milestone (a task wins a tie with a dependency)
    latest_feed: dict[str, tuple[date, str, str]] = {}
    for rid, t in tasks.items():
        if not t.milestone:
            continue
        f = out_tasks[rid].finish
        if f is None:
            continue
        for mid in t.milestone:
            cur = latest_feed.get(mid)
            if cur is None or f > cur[0]:
                latest_feed[mid] = (f, "task", rid)
    for d in snapshot.dependencies:
        f = sched.dependencies.get(d.record_id)
        if f is not None:
            for mid in d.milestones:
                cur = latest_feed.get(mid)
                if cur is None or f > cur[0]:
                    latest_feed[mid] = (f, "dependency", d.record_id)
    for m in snapshot.milestones:
        done = m.status == _MS_DONE
        target = _date(m.target_date, policy)
        if done:
            sched.milestones[m.record_id] = MilestoneForecast(
                target, _date(m.actual_date, policy) or target, 0, None, True)
            continue
        best = latest_feed.get(m.record_id)
        finish = best[0] if best else target
        if target is not None and finish is not None and finish < target:
            finish = target
        late = 0
        if target is not None and finish is not None and finish > target:
            late = days.between(target, finish)
        sched.milestones[m.record_id] = MilestoneForecast(
            target, finish, late, (best[1], best[2]) if best else None, False)
    return sched
