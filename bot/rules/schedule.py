"""Schedule slips and the critical path, over the forecast of `gtm.bot.rules.forecast`. Pure.

A slip: an open item's forecast finish reaches an open successor's 计划开始, or an open
milestone's forecast passes its 目标日期. Each slip is traced to its root (the first item on the
chain that is not itself pushed by a predecessor) and told once per root and forecast date
(`slip:<table>:<record>:<date>`) to the owners of the milestones and tasks it threatens and to
the root's 知会人. Predecessor cycles are data problems, never an error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from gtm.bot.rules import RuleResult, make_notice, owner_route, ref
from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.rules.forecast import MilestoneForecast, Schedule, TaskForecast, build_schedule
from gtm.schemas.decisions import RecordRef, Slip
from gtm.schemas.plan import (
    Dependency,
    Milestone,
    PlanSnapshot,
    Task,
    TaskStatus,
)
from gtm.schemas.settings import Policy

_BLOCKED, _OVERDUE = TaskStatus.BLOCKED.value, TaskStatus.OVERDUE.value


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
    """Slip notices and the slips themselves (for the report and status), and the schedule they
    were read from: it forecasts only the tasks that are linked or feed a milestone
    (`build_schedule(every_task=False)`); `build_schedule` gives every task's."""
    out = RuleResult()
    sched = build_schedule(snapshot, now, policy, calendar, every_task=False)
    impacts = find_slips(snapshot, sched)
    # the lookups only when something slips (a 100,000-task plan's dict is ~5 MB beside the schedule)
    tasks = {t.record_id: t for t in snapshot.tasks} if impacts else {}
    ms = snapshot.milestone_by_id()
    deps = {d.record_id: d for d in snapshot.dependencies}
    # cycles are reported once, by the data checks (data_checks.predecessor_cycles); the schedule
    # only leaves their links out
    slips: list[Slip] = []
    for (table, rid), imp in impacts.items():
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
    # open tasks feeding it that are past their 计划结束 or 阻塞: the forecast counts their remaining
    # work from today, so the milestone can be on time while they are not
    overdue: list[PathStep] = field(default_factory=list)
    blocked: list[PathStep] = field(default_factory=list)


def _troubled(snapshot: PlanSnapshot, sched: Schedule) -> dict[str, tuple[list[PathStep], list[PathStep]]]:
    """Milestone record id → (its overdue open tasks, its blocked tasks), in task order."""
    out: dict[str, tuple[list[PathStep], list[PathStep]]] = {}
    for t in snapshot.tasks:
        f = sched.tasks.get(t.record_id)
        if f is None or f.done or not t.milestone:
            continue
        overdue = t.status == _OVERDUE or isinstance(t.planned_end, date) and t.planned_end < sched.today
        blocked = t.status == _BLOCKED
        if not (overdue or blocked):
            continue
        for mid in t.milestone:
            late, stuck = out.setdefault(mid, ([], []))
            (stuck if blocked else late).append(PathStep(t, f))
    return out


def critical_paths(snapshot: PlanSnapshot, sched: Schedule) -> list[MilestonePath]:
    """Per open milestone (by target date): the chain of tasks that decides its forecast, and the
    overdue and blocked tasks feeding it."""
    tasks = {t.record_id: t for t in snapshot.tasks}
    deps = {d.record_id: d for d in snapshot.dependencies}
    troubled = _troubled(snapshot, sched)
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
        late, stuck = troubled.get(m.record_id, ([], []))
        out.append(MilestonePath(m, mf, steps, dep, late, stuck))
    return out
