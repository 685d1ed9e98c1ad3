"""RACI: one R, at most one A (data problems), milestone sign-off requests, 知会人 told."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from gtm.bot.checks.weekly_report import build_weekly_report
from gtm.bot.rules.engine import run_checks
from gtm.bot.rules.raci import check_raci, reached
from gtm.schemas.plan import ExitCriterion, Milestone, Task
from gtm.schemas.settings import Policy
from gtm.schemas.templates import get_template
from gtm.schemas.templates.model import layout
from tests.support.rule_plans import ALICE, BOSS1, PM, Person, at, plan

NOW = at(2026, 12, 7, 10)
P = Policy()
BOB = Person(open_id="ou_bob", name="Bob")
INF = Person(open_id="ou_inf", name="知会甲")


def m3(**kw) -> Milestone:
    base = dict(record_id="m3", code="M3", name="发布准备就绪", owner=ALICE, target_date=date(2026, 12, 21),
                status="进行中", approver=[BOSS1])
    return Milestone(**{**base, **kw})


def crit(rid: str, met: bool, mod: datetime | None = None) -> ExitCriterion:
    return ExitCriterion(record_id=rid, criterion=f"标准{rid}", milestone=["m3"], met=met, modified_at=mod)


def test_one_r_and_at_most_one_a_are_data_problems():
    snap = plan(tasks=[
        Task(record_id="t1", task_id="T-1", name="无人负责", planned_start=date(2026, 12, 8),
             planned_end=date(2026, 12, 10), status="未开始"),
        Task(record_id="t2", task_id="T-2", name="远期", planned_start=date(2027, 3, 1), planned_end=date(2027, 3, 5)),
        Task(record_id="t3", task_id="T-3", name="两个审批人", owner=ALICE, approver=[BOSS1, BOB],
             planned_end=date(2026, 12, 10)),
    ], milestones=[m3(approver=[BOSS1, BOB])])
    got = {(p.record_id, p.field) for p in check_raci(snap, NOW, P).problems}
    assert got == {("t1", "owner"), ("t3", "approver"), ("m3", "approver")}
    result = run_checks(snap, NOW, P)
    assert sum(1 for p in result.problems if (p.record_id, p.field) == ("t1", "owner")) == 1


def test_signoff_asked_when_all_criteria_are_ticked_and_again_only_after_a_change():
    t0 = datetime(2026, 12, 7, 1, tzinfo=timezone.utc)
    snap = plan(milestones=[m3()], exit_criteria=[crit("c1", True, t0), crit("c2", False, t0)])
    assert [n for n in check_raci(snap, NOW, P).notices if n.kind == "signoff"] == []
    snap.exit_criteria[1].met = True
    [n] = [n for n in check_raci(snap, NOW, P).notices if n.kind == "signoff"]
    assert n.recipients == [BOSS1.open_id] and n.key.startswith("signoff:milestone:m3:")
    # sent back after the tick: not asked again until a criterion changes
    snap.milestones[0].signoff, snap.milestones[0].modified_at = "已退回", t0 + timedelta(hours=1)
    assert [n for n in check_raci(snap, NOW, P).notices if n.kind == "signoff"] == []
    snap.exit_criteria[0].modified_at = t0 + timedelta(hours=2)
    [again] = [n for n in check_raci(snap, NOW, P).notices if n.kind == "signoff"]
    assert again.key != n.key
    # no approver: the PM is asked and it is a data problem
    snap = plan(milestones=[m3(approver=[])], exit_criteria=[crit("c1", True, t0)])
    out = check_raci(snap, NOW, P)
    assert [x.recipients for x in out.notices if x.kind == "signoff"] == [[PM.open_id]]
    assert ("m3", "approver") in {(p.record_id, p.field) for p in out.problems}


def test_reached_only_after_signoff_and_report_agrees():
    done = m3(status="完成", actual_date=date(2026, 12, 5))
    assert not reached(done)
    snap = plan(milestones=[done])
    view = build_weekly_report(snap, None, NOW, "Asia/Shanghai", policy=P)
    assert not any("达成" in x.text for x in view.done.items)
    assert view.milestones.items[0].status.zh == "待验收"
    done.signoff = "已通过"
    assert reached(done)
    view = build_weekly_report(plan(milestones=[done]), None, NOW, "Asia/Shanghai", policy=P)
    assert any("M3 发布准备就绪 达成" in x.text for x in view.done.items)


def test_informed_are_told_once_when_done_and_on_slips():
    t = Task(record_id="t1", task_id="T-1", name="物料", owner=ALICE, informed=[INF], status="已完成",
             planned_end=date(2026, 12, 4), actual_end=date(2026, 12, 4))
    [n] = [n for n in check_raci(plan(tasks=[t]), NOW, P).notices if n.kind == "informed"]
    assert n.recipients == [INF.open_id] and n.key == "informed:task:t1:done:2026-12-04"
    old = t.model_copy(update={"actual_end": date(2026, 10, 1)})
    assert [n for n in check_raci(plan(tasks=[old]), NOW, P).notices if n.kind == "informed"] == []
    ms = m3(status="完成", actual_date=date(2026, 12, 6), signoff="已通过", informed=[INF])
    [m] = [n for n in check_raci(plan(milestones=[ms]), NOW, P).notices if n.kind == "informed"]
    assert m.key == "informed:milestone:m3:done:2026-12-06"
    # a milestone's 知会人 hear of a slip that threatens it
    late = Task(record_id="t2", task_id="T-2", name="晚", owner=ALICE, milestone=["m3"],
                planned_start=date(2026, 12, 14), planned_end=date(2026, 12, 28), status="未开始")
    slip = next(n for n in run_checks(plan(milestones=[m3(informed=[INF])], tasks=[late]), NOW, P).notices
                if n.kind == "slip")
    assert INF.open_id in slip.recipients


def test_campaign_template_carries_seed_003_raci_example():
    rows = layout(get_template("campaign"), date(2026, 5, 1))["task"]
    m001 = next(r for r in rows if r["task_id"] == "M001")
    assert (m001["approver_role"], m001["consulted_role"], m001["informed_role"]) == ("总监", "设计部", "销售部")
