"""Schedule logic: the plan as a graph, forecast finishes, slips and the critical path. Pure.

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

A slip: an open item's forecast finish reaches an open successor's 计划开始, or an open
milestone's forecast passes its 目标日期. Each slip is traced to its root (the first item on the
chain that is not itself pushed by a predecessor) and told once per root and forecast date
(`slip:<table>:<record>:<date>`) to the owners of the milestones and tasks it threatens and to
the root's 知会人. Predecessor cycles are data problems (the cycle's links are left out of the
forecast), never an error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

from gtm.bot.rules import RuleResult, local_date, make_notice, owner_route, ref, require_aware
from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.rules.graph import find_cycles
from gtm.bot.rules.overdue import as_date
from gtm.schemas.decisions import RecordRef, Slip
from gtm.schemas.plan import (
    Dependency,
    DependencyStatus,
    FIRST_YEAR,
    LAST_YEAR,
    Milestone,
    MilestoneStatus,
    PlanSnapshot,
    Task,
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
    predecessors: dict[str, list[str]] = field(default_factory=dict)  # in-graph, cycles left out
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
    indeg = {i: len(preds[i]) for i in ids}
    succ: dict[str, list[str]] = {}
    for i in ids:
        for p in preds[i]:
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
                   calendar: WorkCalendar | None = None) -> Schedule:
    """Forecast every task and milestone of `snapshot` at `now`."""
    require_aware(now)
    cal = calendar or WorkCalendar(policy)
    today = local_date(now, policy)
    sched = Schedule(today=today)
    tasks = {t.record_id: t for t in snapshot.tasks if t.record_id}
    ids = list(tasks)
    preds: dict[str, list[str]] = {}
    linked: list[str] = []  # tasks with a predecessor link (either end)
    none: list[str] = []  # shared by every task without predecessors (never appended to)
    for rid, t in tasks.items():
        if not t.predecessors:
            preds[rid] = none
            continue
        seen: list[str] = []
        for p in t.predecessors:
            if p in tasks and p not in seen:
                seen.append(p)
        if seen:
            linked.append(rid)
            linked += seen
        preds[rid] = seen or none
    succ0: dict[str, list[str]] = {rid: [] for rid in dict.fromkeys(linked)}
    for rid in succ0:
        for p in preds[rid]:
            succ0[p].append(rid)
    sched.cycles = find_cycles(succ0) if succ0 else []
    if sched.cycles:
        member = {rid: i for i, comp in enumerate(sched.cycles) for rid in comp}
        for rid in member:
            preds[rid] = [p for p in preds[rid] if member.get(p) != member[rid]]
    sched.predecessors = preds
    for rid in succ0:
        for p in preds[rid]:
            sched.successors.setdefault(p, []).append(rid)

    days = _Days(cal, today - timedelta(days=_BACK_DAYS), today + timedelta(days=_AHEAD_DAYS))
    # the hot loop (10^5 tasks): locals, inlined date/progress checks, tuples
    out_tasks = sched.tasks
    planned_start = sched.planned_start
    add, between = days.add, days.between
    for rid in (_order(ids, preds) if succ0 else ids):
        t = tasks[rid]
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
        for p in preds[rid]:
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


# --- slips --------------------------------------------------------------------------------
def _root(sched: Schedule, table: str, rid: str, memo: dict[str, str]) -> tuple[str, str]:
    """Walk back while the item was pushed by a predecessor: the slip starts at the root."""
    if table != "task":
        return table, rid
    path: list[str] = []
    cur = rid
    while True:
        hit = memo.get(cur)
        if hit is not None:
            cur = hit
            break
        f = sched.tasks.get(cur)
        if f is None or not f.pushed or f.driver is None or f.driver in path or f.driver == cur:
            break
        path.append(cur)
        cur = f.driver
    for x in path:
        memo[x] = cur
    memo[cur] = cur
    return "task", cur


def _short(t: Task) -> str:
    return t.task_id or t.name or t.record_id


def _who(p_name: str) -> str:
    return f"（{p_name}）" if p_name else ""


@dataclass
class _Impact:
    milestones: dict[str, int] = field(default_factory=dict)  # milestone rid -> late working days
    tasks: list[str] = field(default_factory=list)


def find_slips(snapshot: PlanSnapshot, sched: Schedule) -> dict[tuple[str, str], _Impact]:
    """Root item → what it threatens (open milestones late, open successors pushed)."""
    impacts: dict[tuple[str, str], _Impact] = {}
    memo: dict[str, str] = {}
    for m in snapshot.milestones:
        mf = sched.milestones.get(m.record_id)
        if mf is None or mf.done or mf.late_days <= 0 or mf.driver is None:
            continue
        root = _root(sched, mf.driver[0], mf.driver[1], memo)
        impacts.setdefault(root, _Impact()).milestones[m.record_id] = mf.late_days
    for p, succs in sched.successors.items():
        pf = sched.tasks.get(p)
        if pf is None or pf.finish is None:
            continue
        for s in succs:
            sf = sched.tasks[s]
            planned = sched.planned_start.get(s)
            if sf.done or planned is None or pf.finish < planned:
                continue
            imp = impacts.setdefault(_root(sched, "task", p, memo), _Impact())
            if s not in imp.tasks:
                imp.tasks.append(s)
    return impacts


def check_schedule(snapshot: PlanSnapshot, now: datetime, policy: Policy,
                   calendar: WorkCalendar | None = None) -> tuple[RuleResult, list[Slip], Schedule]:
    """Cycle problems, slip notices and the slips themselves (for the report and status)."""
    out = RuleResult()
    sched = build_schedule(snapshot, now, policy, calendar)
    tasks = {t.record_id: t for t in snapshot.tasks}
    ms = snapshot.milestone_by_id()
    deps = {d.record_id: d for d in snapshot.dependencies}
    # cycles are reported once, by the data checks (data_checks.predecessor_cycles); the schedule
    # only leaves their links out
    slips: list[Slip] = []
    for (table, rid), imp in find_slips(snapshot, sched).items():
        slip = _slip(snapshot, sched, table, rid, imp, tasks, ms, deps)
        if slip is None:
            continue
        slips.append(slip)
        recipients: list[str] = []
        for mid in imp.milestones:
            got, _ = owner_route(snapshot, "milestone", ms[mid], out)
            recipients += got
            recipients += [p.open_id for p in ms[mid].informed if p.open_id]
        for tid in imp.tasks:
            owner = tasks[tid].owner
            if owner is not None and owner.open_id:
                recipients.append(owner.open_id)
        source = tasks[rid] if table == "task" else None
        if source is not None:
            recipients += [p.open_id for p in source.informed if p.open_id]
        recipients = list(dict.fromkeys(recipients))
        if not recipients:
            continue
        out.notices.append(make_notice(
            kind="slip", key=f"slip:{table}:{rid}:{slip.finish}", recipients=recipients,
            record=slip.source, title=f"进度影响：{slip.source.label}", text=slip.text,
            text_en=slip.text_en,
            data={"finish": slip.finish, "milestones": [r.record_id for r in slip.milestones],
                  "tasks": [r.record_id for r in slip.affected], "late_days": slip.late_days}))
    slips.sort(key=lambda s: (-s.late_days, s.source.label))
    return out, slips, sched


def _slip(snapshot: PlanSnapshot, sched: Schedule, table: str, rid: str, imp: _Impact,
          tasks: dict[str, Task], ms: dict[str, Milestone], deps: dict[str, Dependency]) -> Slip | None:
    if table == "task":
        t = tasks[rid]
        f = sched.tasks[rid].finish
        if f is None:
            return None
        name = _short(t)
        if t.planned_end == f and isinstance(f, date):
            head, head_en = f"{name} 延期到 {f:%m-%d}", f"{name} moved to {f:%m-%d}"
        else:
            head, head_en = f"{name} 预计 {f:%m-%d} 完成", f"{name} now expected to finish {f:%m-%d}"
        source = ref("task", t)
    else:
        d = deps[rid]
        f = sched.dependencies[rid]
        need = f"{d.needed_by:%m-%d}" if isinstance(d.needed_by, date) else ""
        head = f"依赖「{d.item}」仍待确认（需要日期 {need}）"
        head_en = f"Dependency \"{d.item}\" still pending (needed by {need})"
        source = ref("dependency", d)
    parts, parts_en = [], []
    m_refs: list[RecordRef] = []
    for mid, late in sorted(imp.milestones.items(), key=lambda x: -x[1]):
        m = ms[mid]
        target = sched.milestones[mid].target
        tgt = f"{target:%m-%d}" if target else ""
        parts.append(f"{m.label}（目标 {tgt}）预计晚 {late} 个工作日")
        parts_en.append(f"{m.label} (target {tgt}) expected {late} working days late")
        m_refs.append(ref("milestone", m))
    affected = [tasks[x] for x in imp.tasks]
    a_zh = "、".join(f"{_short(x)}{_who(x.owner.label() if x.owner else '')}" for x in affected)
    a_en = ", ".join(f"{_short(x)}" + (f" ({x.owner.label()})" if x.owner else "") for x in affected)
    text = head + (" → " + "，".join(parts) if parts else " → 晚于后续任务的计划开始")
    text_en = head_en + (" → " + "; ".join(parts_en) if parts_en else " → later than successors' planned start")
    if affected:
        text += f"；受影响：{a_zh}"
        text_en += f"; affected: {a_en}"
    return Slip(source=source, finish=f.isoformat(), milestones=m_refs,
                affected=[ref("task", x) for x in affected],
                late_days=max(imp.milestones.values(), default=0), text=text, text_en=text_en)


# --- critical path ------------------------------------------------------------------------
@dataclass(frozen=True)
class PathStep:
    task: Task
    forecast: TaskForecast


@dataclass(frozen=True)
class MilestonePath:
    milestone: Milestone
    forecast: MilestoneForecast
    steps: list[PathStep]
    dependency: Dependency | None = None  # when a pending dependency drives the milestone


def critical_paths(snapshot: PlanSnapshot, sched: Schedule) -> list[MilestonePath]:
    """Per open milestone (by target date): the chain of tasks that decides its forecast."""
    tasks = {t.record_id: t for t in snapshot.tasks}
    deps = {d.record_id: d for d in snapshot.dependencies}
    out: list[MilestonePath] = []
    order = sorted(snapshot.milestones, key=lambda m: (
        sched.milestones[m.record_id].target or date.max if m.record_id in sched.milestones else date.max,
        str(m.code)))
    for m in order:
        mf = sched.milestones.get(m.record_id)
        if mf is None or mf.done:
            continue
        steps: list[PathStep] = []
        dep = None
        if mf.driver and mf.driver[0] == "task":
            rid: str | None = mf.driver[1]
            seen: set[str] = set()
            while rid is not None and rid not in seen:
                seen.add(rid)
                steps.append(PathStep(tasks[rid], sched.tasks[rid]))
                rid = sched.tasks[rid].driver
            steps.reverse()
        elif mf.driver:
            dep = deps.get(mf.driver[1])
        out.append(MilestonePath(m, mf, steps, dep))
    return out
