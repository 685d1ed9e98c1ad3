"""负载 / workload: open items per person for the next two weeks, over-allocation flagged. Pure.

An item counts for its owner when it is open and due (or overdue) by the end of the window
(today + `WINDOW_DAYS`). A task's load is the work left in it (duration × (1 − 进度), in working
days) that falls inside the window; a person is over-allocated when that load exceeds the working
days of the window (more than 100%), or when they hold more than `MAX_ITEMS` items due in it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from gtm.bot.rules import local_date
from gtm.bot.rules.calendar import WorkCalendar
from gtm.schemas.plan import MilestoneStatus, PlanSnapshot, TaskStatus
from gtm.schemas.settings import Policy

WINDOW_DAYS = 14
MAX_ITEMS = 12
_DONE = {TaskStatus.DONE.value, MilestoneStatus.DONE.value}


@dataclass
class PersonLoad:
    open_id: str
    name: str
    items: list[str] = field(default_factory=list)  # "T-301 渠道培训（12-20）"
    overdue: int = 0
    load_days: int = 0  # working days of task work left inside the window
    capacity: int = 0  # working days in the window

    @property
    def over(self) -> bool:
        return self.load_days > self.capacity or len(self.items) > MAX_ITEMS

    @property
    def pct(self) -> int:
        return round(100 * self.load_days / self.capacity) if self.capacity else 0


def workload(snapshot: PlanSnapshot, now: datetime, policy: Policy,
             calendar: WorkCalendar | None = None) -> tuple[list[PersonLoad], date, date]:
    """(people by load, window start, window end), most loaded first."""
    cal = calendar or WorkCalendar(policy)
    today = local_date(now, policy)
    end = today + timedelta(days=WINDOW_DAYS)
    capacity = cal.working_days_between(today - timedelta(days=1), end)
    people: dict[str, PersonLoad] = {}

    def person(p) -> PersonLoad:
        got = people.get(p.open_id)
        if got is None:
            got = people[p.open_id] = PersonLoad(p.open_id, p.label(), capacity=capacity)
        elif p.name and got.name == got.open_id:
            got.name = p.name
        return got

    for t in snapshot.tasks:
        if t.status in _DONE or t.owner is None or not isinstance(t.planned_end, date):
            continue
        start = t.planned_start if isinstance(t.planned_start, date) else t.planned_end
        if start > end:
            continue
        pl = person(t.owner)
        if t.planned_end <= end:
            pl.items.append(f"{t.label}（{t.planned_end:%m-%d}）")
            pl.overdue += t.planned_end < today
        dur = cal.working_days_between(start, t.planned_end) + (1 if cal.is_working_day(start) else 0)
        left = math.ceil(max(0, dur) * (1.0 - min(1.0, max(0.0, t.progress or 0.0))) - 1e-9)
        # the work left is spread from max(start, today) to the planned end; count what is in the window
        begin = max(start, today)
        span = cal.working_days_between(begin - timedelta(days=1), max(begin, t.planned_end)) or 1
        inside = cal.working_days_between(begin - timedelta(days=1), min(end, max(begin, t.planned_end))) or 1
        pl.load_days += min(left, math.ceil(left * inside / span)) if t.planned_end > end else left
    for rows, due_attr, code in ((snapshot.deliverables, "due_date", ""), (snapshot.milestones, "target_date", "code")):
        for r in rows:
            due = getattr(r, due_attr)
            if r.status in _DONE or r.owner is None or not isinstance(due, date) or due > end:
                continue
            pl = person(r.owner)
            label = r.label if code else r.name
            pl.items.append(f"{label}（{due:%m-%d}）")
            pl.overdue += due < today
    ranked = sorted(people.values(), key=lambda p: (-p.load_days, -len(p.items), p.name))
    return ranked, today, end
