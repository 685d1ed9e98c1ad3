from datetime import date, timedelta

import pytest

from gtm.bot.rules.engine import run_checks
from gtm.schemas.plan import (
    Dependency,
    Deliverable,
    ExitCriterion,
    Issue,
    Milestone,
    Risk,
    Task,
)
from gtm.schemas.settings import Policy
from tests.support.rule_plans import ALICE, at, plan, project

NOW = at(2025, 9, 15, 10)  # Monday
LATE = date(2025, 9, 10)


def m(rid="m1", **kw):
    return Milestone(**{"record_id": rid, "code": rid.upper(), "name": "里程碑", "owner": ALICE,
                        "target_date": date(2025, 12, 1), "status": "进行中", **kw})


def t(rid="t1", **kw):
    return Task(**{"record_id": rid, "task_id": rid.upper(), "name": "任务", "owner": ALICE,
                   "planned_end": date(2025, 12, 1), "status": "进行中", **kw})


def risk(rid, l, i, status="开放"):
    return Risk(record_id=rid, risk=f"风险{rid}", likelihood=l, impact=i, status=status)


def issue(rid, days):
    return Issue(record_id=rid, issue=f"问题{rid}", raised_at=NOW - timedelta(days=days),
                 status="待处理")


CASES = {
    "green": ({}, "green", []),
    "milestone_overdue": ({"milestones": [m(target_date=LATE)]}, "red", ["milestone_overdue"]),
    "risk_high": ({"risks": [risk("r1", "高", "中"), risk("r2", "高", "高", "已关闭")]}, "red",
                  ["risk_high"]),
    "issue_management": ({"issues": [issue("i1", 8)]}, "red", ["issue_management"]),
    "budget_overrun": ({"project": project(budget=100, spent=111)}, "red", ["budget_overrun"]),
    "task_overdue": ({"tasks": [t(planned_end=LATE)]}, "yellow", ["task_overdue"]),
    "deliverable_overdue": ({"deliverables": [Deliverable(record_id="d1", name="交付", owner=ALICE,
                                                          due_date=LATE, status="进行中")]},
                            "yellow", ["deliverable_overdue"]),
    "risk_medium": ({"risks": [risk("r1", "中", "中")]}, "yellow", ["risk_medium"]),
    "issue_pm": ({"issues": [issue("i1", 4)]}, "yellow", ["issue_pm"]),
    "dependency_pending": ({"dependencies": [
        Dependency(record_id="dep1", item="法务合规审批", status="待确认", needed_by=date(2025, 9, 22)),
        Dependency(record_id="dep2", item="预算审批", status="待确认", needed_by=date(2025, 9, 23)),
        Dependency(record_id="dep3", item="合作伙伴协议", status="已确认", needed_by=date(2025, 9, 16)),
    ]}, "yellow", ["dependency_pending"]),
    "gate_violation": ({"milestones": [m(status="完成")],
                        "exit_criteria": [ExitCriterion(record_id="c1", criterion="共识",
                                                        milestone=["m1"], met=False)]},
                       "yellow", ["gate_violation"]),
    "tasks_blocked": ({"tasks": [t(status="阻塞", modified_at=NOW)]}, "yellow", ["tasks_blocked"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_rag_reason_alone(name):
    kw, color, codes = CASES[name]
    result = run_checks(plan(**kw), NOW, Policy(), {})
    assert result.rag.color == color
    assert [r.code for r in result.rag.reasons] == codes
    for reason in result.rag.reasons:
        assert reason.records and all(r.label and r.record_id for r in reason.records)
        assert reason.text and reason.text_en


def test_dependency_window_is_inclusive_and_lists_only_matching_records():
    result = run_checks(plan(**CASES["dependency_pending"][0]), NOW, Policy(), {})
    [reason] = result.rag.reasons
    assert [r.record_id for r in reason.records] == ["dep1"]  # 7 days ahead; dep2 is 8


def test_explanation_lists_every_reason_and_points_at_records():
    kw = {"milestones": [m(target_date=LATE)], "tasks": [t("t1", planned_end=LATE),
                                                      t("t2", status="阻塞", modified_at=NOW)],
          "risks": [risk("r1", "高", "高"), risk("r2", "中", "中")],
          "issues": [issue("i1", 8), issue("i2", 4)],
          "project": project(budget=100, spent=150)}
    result = run_checks(plan(**kw), NOW, Policy(), {})
    codes = [r.code for r in result.rag.reasons]
    assert result.rag.color == "red"
    assert codes == ["milestone_overdue", "risk_high", "issue_management", "budget_overrun",
                     "task_overdue", "risk_medium", "issue_pm", "tasks_blocked"]
    refs = {r.code: {x.record_id for x in r.records} for r in result.rag.reasons}
    assert refs["task_overdue"] == {"t1"} and refs["issue_pm"] == {"i2"}
    assert refs["budget_overrun"] == {"rec_proj"} and refs["tasks_blocked"] == {"t2"}
    writes = {w.attr: w.value for w in result.writes if w.table == "project"}
    assert writes["rag"] == "红色"
    explanation = writes["rag_reason"]
    for reason in result.rag.reasons:
        assert reason.text in explanation
    assert "M1 里程碑（逾期 5 天）" in explanation and "风险r1（9）" in explanation


def test_long_reason_lists_are_shortened_in_text_but_complete_in_records():
    tasks = [t(f"t{i}", planned_end=LATE) for i in range(12)]
    result = run_checks(plan(tasks=tasks), NOW, Policy(), {})
    [reason] = result.rag.reasons
    assert len(reason.records) == 12 and "等共 12 项" in reason.text


def test_rag_cells_written_only_when_changed():
    snap = plan(project=project(rag="绿色", rag_reason="一切按计划进行"))
    assert not [w for w in run_checks(snap, NOW, Policy(), {}).writes if w.table == "project"]


@pytest.mark.parametrize("n, zh_more, en_more", [(5, "", ""), (6, "等共 6 项", "and 1 more")])
def test_one_record_past_the_shown_five_is_counted_too(n, zh_more, en_more):
    tasks = [t(f"t{i}", planned_end=LATE) for i in range(n)]
    [reason] = run_checks(plan(tasks=tasks), NOW, Policy(), {}).rag.reasons
    assert len(reason.records) == n
    assert (zh_more in reason.text and en_more in reason.text_en) if zh_more else (
        "等共" not in reason.text and "more" not in reason.text_en)


def test_blocked_tasks_reason_names_every_blocked_task_in_plan_order():
    """The RAG's blocked tasks come from the escalation ladder (every blocked task, labelled once
    and shared), not a second pass over the tasks: the same records, order and labels as the plan."""
    from gtm.bot.rules import ref

    tasks = [t(f"t{i}", task_id=f"T{i}", name=f"任务{i}", status="阻塞" if i % 3 else "进行中",
               modified_at=NOW) for i in range(12)]
    snap = plan(tasks=tasks)
    result = run_checks(snap, NOW, Policy(), {})
    [reason] = [r for r in result.rag.reasons if r.code == "tasks_blocked"]
    assert reason.records == [ref("task", x) for x in snap.tasks if x.status == "阻塞"]
    assert reason.records[0].label == "T1 任务1" and "等共 8 项" in reason.text

