"""Schedule logic: forecasts over 前置任务 / milestone links / 依赖, slips, cycles, critical path."""
from __future__ import annotations

from datetime import date

from gtm.bot.rules.engine import run_checks
from gtm.bot.rules.forecast import build_schedule
from gtm.bot.rules.schedule import check_schedule, critical_paths
from gtm.schemas.plan import Dependency, Milestone, Task
from gtm.schemas.settings import Policy
from tests.support.rule_plans import ALICE, PM, Person, at, plan

LIU = Person(open_id="ou_liu", name="刘洋")
CHEN = Person(open_id="ou_chen", name="陈静")
ZHAO = Person(open_id="ou_zhao", name="赵敏")
NOW = at(2026, 12, 7, 10)  # Monday
P = Policy()


def m3(**kw) -> Milestone:
    return Milestone(record_id="rec_m3", code="M3", name="发布准备就绪", owner=LIU,
                     target_date=date(2026, 12, 21), status="进行中", **kw)


def t(rid: str, tid: str, start: date, end: date, owner: Person | None = None, **kw) -> Task:
    return Task(record_id=rid, task_id=tid, name=tid, owner=owner, planned_start=start,
                planned_end=end, status=kw.pop("status", "未开始"), **kw)


def slip_plan(end: date = date(2026, 12, 28)):
    return plan(milestones=[m3()], tasks=[
        t("rec_slip", "T-SLIP", date(2026, 12, 8), end, ALICE, milestone=["rec_m3"],
          informed=[ZHAO]),
        t("rec_next", "T-NEXT", date(2026, 12, 22), date(2026, 12, 24), CHEN,
          predecessors=["rec_slip"]),
    ])


def test_slip_tells_milestone_owner_downstream_owner_and_informed_once_per_change():
    out, slips, sched = check_schedule(slip_plan(), NOW, P)
    assert sched.milestones["rec_m3"].finish == date(2026, 12, 28)
    assert sched.milestones["rec_m3"].late_days == 5
    assert sched.tasks["rec_next"].pushed and sched.tasks["rec_next"].start == date(2026, 12, 29)
    [n] = out.notices
    assert n.kind == "slip" and n.key == "slip:task:rec_slip:2026-12-28"
    assert n.recipients == ["ou_liu", "ou_chen", "ou_zhao"]
    assert n.text == ("T-SLIP 延期到 12-28 → M3 发布准备就绪（目标 12-21）预计晚 5 个工作日；"
                      "受影响：T-NEXT（陈静）")
    assert "5 working days late" in n.text_en
    assert slips[0].milestones[0].record_id == "rec_m3"
    # the same forecast again: the same key (the ledger sends once); a new date: a new key
    again, _, _ = check_schedule(slip_plan(), NOW, P)
    assert again.notices[0].key == n.key
    later, _, _ = check_schedule(slip_plan(date(2026, 12, 30)), NOW, P)
    assert later.notices[0].key == "slip:task:rec_slip:2026-12-30"


def test_on_time_plan_has_no_slip():
    out, slips, _ = check_schedule(slip_plan(date(2026, 12, 18)), NOW, P)
    assert out.notices == [] and slips == []


def test_pushed_chain_reports_the_root_and_progress_counts():
    # T-A is late (nothing done, half its time gone) and pushes T-B, which feeds M3.
    snap = plan(milestones=[m3()], tasks=[
        t("a", "T-A", date(2026, 12, 1), date(2026, 12, 14), ALICE, status="进行中", progress=0.0),
        t("b", "T-B", date(2026, 12, 15), date(2026, 12, 21), CHEN, predecessors=["a"],
          milestone=["rec_m3"]),
    ])
    out, slips, sched = check_schedule(snap, NOW, P)
    a = sched.tasks["a"]
    assert a.finish == date(2026, 12, 18)  # all 9 working days of work left from Mon 12-07
    assert sched.tasks["b"].pushed and sched.milestones["rec_m3"].late_days > 0
    [n] = out.notices
    assert n.key.startswith("slip:task:a:") and "T-A 预计 12-18 完成" in n.text
    assert set(n.recipients) == {"ou_liu", "ou_chen"}
    # progress on track: no slip
    snap.tasks[0].progress = 0.5
    out, _, _ = check_schedule(snap, NOW, P)
    assert [x.key for x in out.notices] == []


def test_pending_dependency_threatens_its_milestone():
    dep = Dependency(record_id="rec_dep", item="法务合规审批", party="法务", milestones=["rec_m3"],
                     status="待确认", needed_by=date(2026, 12, 23), owner=ALICE)
    out, slips, _ = check_schedule(plan(milestones=[m3()], dependencies=[dep]), NOW, P)
    [n] = out.notices
    assert n.key == "slip:dependency:rec_dep:2026-12-23" and n.recipients == ["ou_liu"]
    assert "法务合规审批" in n.text and "预计晚 2 个工作日" in n.text
    dep.status = "已确认"
    out, _, _ = check_schedule(plan(milestones=[m3()], dependencies=[dep]), NOW, P)
    assert out.notices == []


def test_cycles_are_data_problems_not_crashes():
    snap = plan(milestones=[m3()], tasks=[
        t("a", "T-A", date(2026, 12, 8), date(2026, 12, 10), predecessors=["c"]),
        t("b", "T-B", date(2026, 12, 11), date(2026, 12, 14), predecessors=["a"]),
        t("c", "T-C", date(2026, 12, 15), date(2026, 12, 16), predecessors=["b"]),
        t("s", "T-S", date(2026, 12, 8), date(2026, 12, 9), predecessors=["s"]),
        t("d", "T-D", date(2026, 12, 17), date(2026, 12, 18), predecessors=["c", "missing"]),
    ])
    out, _, sched = check_schedule(snap, NOW, P)
    assert sorted(sorted(c) for c in sched.cycles) == [["a", "b", "c"], ["s"]]
    assert not out.problems  # the schedule leaves the cycle's links out; the data checks report it
    assert sched.tasks["d"].finish == date(2026, 12, 18)
    result = run_checks(snap, NOW, P)  # reported once per task in the cycle, naming the chain
    cyc = [p for p in result.problems if p.field == "predecessors"]
    assert sorted(p.record_id for p in cyc) == ["a", "b", "c", "s"]
    assert any("→" in p.value and "T-A" in p.value and "T-C" in p.value for p in cyc)


def test_working_days_skip_holidays():
    # 2027-01-01 (New Year, a policy holiday here) is skipped: the push lands on Monday.
    snap = plan(tasks=[
        t("a", "T-A", date(2026, 12, 28), date(2026, 12, 31)),
        t("b", "T-B", date(2026, 12, 31), date(2027, 1, 4), predecessors=["a"]),
    ])
    sched = build_schedule(snap, NOW, Policy(extra_holidays=[date(2027, 1, 1)]))
    assert sched.tasks["b"].start == date(2027, 1, 4)
    assert build_schedule(snap, NOW, P).tasks["b"].start in (date(2027, 1, 1), date(2027, 1, 4))


def test_critical_path_follows_the_latest_predecessors():
    snap = plan(milestones=[m3()], tasks=[
        t("a", "T-A", date(2026, 12, 8), date(2026, 12, 10)),
        t("x", "T-X", date(2026, 12, 8), date(2026, 12, 9)),
        t("b", "T-B", date(2026, 12, 11), date(2026, 12, 18), predecessors=["a", "x"],
          milestone=["rec_m3"]),
        t("c", "T-C", date(2026, 12, 8), date(2026, 12, 9), milestone=["rec_m3"]),
    ])
    sched = build_schedule(snap, NOW, P)
    [path] = critical_paths(snap, sched)
    assert [s.task.task_id for s in path.steps] == ["T-A", "T-B"]
    assert path.forecast.finish == date(2026, 12, 21)  # never earlier than the target


def test_engine_puts_slips_on_the_check_result():
    result = run_checks(slip_plan(), NOW, P)
    assert [s.source.record_id for s in result.slips] == ["rec_slip"]
    assert any(n.kind == "slip" for n in result.notices)
    assert PM.open_id not in next(n for n in result.notices if n.kind == "slip").recipients


def test_slips_forecast_only_the_tasks_another_item_reads():
    """`check_schedule` leaves out the tasks with no predecessor link and no milestone (nothing
    reads their forecast; a 100,000-task plan without links held ~13 MB of them); the forecasts it
    keeps, the milestones' and the slips are `build_schedule`'s own."""
    snap = plan(milestones=[m3()], tasks=[
        *slip_plan().tasks,
        t("alone", "T-ALONE", date(2026, 12, 1), date(2026, 12, 4), ALICE),  # overdue, unlinked
        t("done", "T-DONE", date(2026, 12, 1), date(2026, 12, 2), status="已完成"),
    ])
    full = build_schedule(snap, NOW, P)
    out, slips, sched = check_schedule(snap, NOW, P)
    assert set(full.tasks) == {"rec_slip", "rec_next", "alone", "done"}
    assert list(sched.tasks) == ["rec_slip", "rec_next"]  # the same order, the same forecasts
    assert sched.tasks == {rid: full.tasks[rid] for rid in sched.tasks}
    assert sched.milestones == full.milestones and sched.successors == full.successors
    assert [s.source.record_id for s in slips] == ["rec_slip"] and len(out.notices) == 1
    assert [s.model_dump() for s in slips] == \
        [s.model_dump() for s in check_schedule(slip_plan(), NOW, P)[1]]


def overdue_plan():
    """M3 (target 12-21) fed by two tasks past their planned end, one blocked task and one on time."""
    return plan(milestones=[m3()], tasks=[
        t("late1", "T-301", date(2026, 11, 23), date(2026, 12, 4), ALICE, status="进行中", progress=0.6,
          milestone=["rec_m3"]),
        t("late2", "T-302", date(2026, 11, 30), date(2026, 12, 2), LIU, status="进行中", progress=0.0,
          milestone=["rec_m3"]),
        t("stuck", "T-303", date(2026, 12, 2), date(2026, 12, 10), CHEN, status="阻塞", progress=0.3,
          milestone=["rec_m3"]),
        t("fine", "T-306", date(2026, 12, 10), date(2026, 12, 17), ZHAO, milestone=["rec_m3"]),
        t("gone", "T-201", date(2026, 11, 20), date(2026, 11, 27), status="已完成", milestone=["rec_m3"]),
    ])


def test_overdue_and_blocked_tasks_are_forecast_from_today_and_named_on_the_path():
    snap = overdue_plan()
    sched = build_schedule(snap, NOW, P)
    # remaining work counted from today (Mon 12-07), not from the passed planned end:
    # 9 working days × 0.4 → 4 → Fri 12-11; 2 working days × 1 → Wed 12-09
    assert sched.tasks["late1"].finish == date(2026, 12, 11)
    assert sched.tasks["late2"].finish == date(2026, 12, 9)
    assert sched.tasks["stuck"].finish >= NOW.date()
    [path] = critical_paths(snap, sched)
    assert [s.task.task_id for s in path.overdue] == ["T-301", "T-302"]
    assert [s.task.task_id for s in path.blocked] == ["T-303"]
    # their remaining work moves the milestone once it no longer fits before the target
    tight = overdue_plan()
    tight.tasks[1] = tight.tasks[1].model_copy(update={"planned_start": date(2026, 11, 2)})
    sched = build_schedule(tight, NOW, P)
    assert sched.tasks["late2"].finish > date(2026, 12, 21)
    assert sched.milestones["rec_m3"].late_days > 0 and sched.milestones["rec_m3"].driver == ("task", "late2")
