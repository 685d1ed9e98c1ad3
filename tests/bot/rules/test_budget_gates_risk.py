from datetime import date

import pytest

from gtm.bot.rules.budget import check_budget
from gtm.bot.rules.gates import check_gates
from gtm.bot.rules.risk import check_risks
from gtm.schemas.plan import Deliverable, ExitCriterion, Milestone, ProjectInfo, Risk
from gtm.schemas.settings import Policy
from tests.support.rule_plans import ALICE, at, plan, project

NOW = at(2025, 9, 15, 10)


@pytest.mark.parametrize("spent, band", [
    (100_000, None), (110_000, None),      # exactly +10 %: allowed
    (110_001, 1), (119_999, 1),
    (120_000, 2), (135_000, 3),            # grows past the next 10 % → a new key
])
def test_budget_overrun_bands(spent, band):
    out, over = check_budget(plan(project=project(budget=100_000, spent=spent)), NOW, Policy())
    if band is None:
        assert over is None and not out.notices
        return
    [n] = out.notices
    assert over.band == band and n.key == f"budget:project:rec_proj:band{band}"
    assert n.kind == "budget" and n.recipients == ["ou_pm", "ou_boss1", "ou_boss2"]
    assert "《变更申请》" in n.text and "change request" in n.text_en


def test_budget_threshold_is_policy():
    out, over = check_budget(plan(project=project(budget=100, spent=106)), NOW,
                             Policy(budget_overrun_ratio=0.05))
    assert over and out.notices


@pytest.mark.parametrize("budget, spent, fields", [
    (None, 500.0, ["budget"]),
    (0.0, 500.0, ["budget"]),
    (None, None, []),
    (1000.0, None, []),
])
def test_budget_missing_values(budget, spent, fields):
    out, over = check_budget(plan(project=project(budget=budget, spent=spent)), NOW, Policy())
    assert over is None and [p.field for p in out.problems] == fields


def test_budget_with_garbage_cell_is_a_problem_not_a_crash():
    p = ProjectInfo.model_construct(**{**project().__dict__, "budget": "很多", "spent": 10.0})
    out, over = check_budget(plan(project=p), NOW, Policy())
    assert over is None and "budget" in [x.field for x in out.problems]


def _gate_plan(met: bool, deliverable_status: str, milestone_status="完成", owner=ALICE):
    m = Milestone(record_id="m1", code="M1", name="市场调研完成", owner=owner,
                  status=milestone_status, target_date=date(2025, 9, 30))
    return plan(milestones=[m],
                exit_criteria=[ExitCriterion(record_id="c1", criterion="ICP 定义获得团队共识",
                                             milestone=["m1"], met=met),
                               ExitCriterion(record_id="c2", criterion="其他里程碑的标准",
                                             milestone=["m9"], met=False)],
                deliverables=[Deliverable(record_id="d1", name="ICP 定义文档", milestone=["m1"],
                                          status=deliverable_status)])


@pytest.mark.parametrize("met, dstatus, mstatus, crit, dels", [
    (True, "完成", "完成", [], []),
    (False, "完成", "完成", ["c1"], []),
    (True, "进行中", "完成", [], ["d1"]),
    (False, "未开始", "完成", ["c1"], ["d1"]),
    (False, "未开始", "进行中", None, None),  # not marked done: no gate check
])
def test_milestone_gate(met, dstatus, mstatus, crit, dels):
    out, found = check_gates(_gate_plan(met, dstatus, mstatus), NOW, Policy())
    if not crit and not dels:
        assert not found and not out.notices
        return
    [v] = found
    assert [r.record_id for r in v.unmet_criteria] == crit
    assert [r.record_id for r in v.open_deliverables] == dels
    [n] = out.notices
    assert n.kind == "gate" and n.recipients == ["ou_alice"] and n.key.startswith("gate:milestone:m1:")
    assert "完成但未满足退出标准" in n.title


def test_gate_key_changes_with_the_gap_and_owner_missing_goes_to_pm():
    a, _ = check_gates(_gate_plan(False, "完成"), NOW, Policy())
    b, _ = check_gates(_gate_plan(False, "进行中", owner=None), NOW, Policy())
    assert a.notices[0].key != b.notices[0].key
    assert b.notices[0].recipients == ["ou_pm"] and [p.field for p in b.problems] == ["owner"]


@pytest.mark.parametrize("likelihood, impact, stored, score, write", [
    ("高", "高", None, 9, True),
    ("高", "中", 6, 6, False),   # unchanged: no write
    ("中", "低", 4, 2, True),
    ("低", None, 3, None, False),
])
def test_risk_score(likelihood, impact, stored, score, write):
    r = Risk(record_id="r1", risk="产品延期", likelihood=likelihood, impact=impact, score=stored)
    out, scores = check_risks(plan(risks=[r]), NOW, Policy())
    assert scores.get("r1") == score
    assert [(w.attr, w.value) for w in out.writes] == ([("score", score)] if write else [])


def test_unknown_risk_level_is_a_problem():
    r = Risk(record_id="r1", risk="竞品动作", likelihood="极高", impact="高")
    out, scores = check_risks(plan(risks=[r]), NOW, Policy())
    assert not scores and [p.field for p in out.problems] == ["likelihood"]


def test_a_typed_risk_level_scores_like_the_matrix_and_feasibility_is_1_to_5():
    """The register of docs/seeds/002 §2.2 gives 风险等级 (高/中/低) without 可能性/影响: it still ranks (高 → 9,
    red); a 可行性评分 outside 1–5 is one data problem naming the field."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from gtm.bot.rules.engine import run_checks
    from gtm.schemas.plan import PlanSnapshot, ProjectInfo, Risk
    from gtm.schemas.settings import Policy

    snap = PlanSnapshot(project=ProjectInfo(record_id="recP", name="某客户系统部署", feasibility=7),
                        risks=[Risk(record_id="recR", risk="技术瓶颈", level="高", status="开放")])
    res = run_checks(snap, datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai")), Policy(template="sales"))
    assert any(r.code == "risk_high" for r in res.rag.reasons)
    assert [w.value for w in res.writes if w.table == "risk" and w.attr == "score"] == [9]
    (bad,) = [p for p in res.problems if p.field == "feasibility"]
    assert "1–5" in bad.reason and "e.g. 4" in bad.reason_en


def test_wbs_parent_links_three_levels_no_loops():
    """The WBS of docs/seeds/002 §2.2: 阶段 → 模块 → 任务 through 上级任务; a fourth level or a loop is named."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from gtm.bot.rules.engine import run_checks
    from gtm.schemas.plan import PlanSnapshot, Task
    from gtm.schemas.settings import Policy

    tasks = [Task(record_id="recM", task_id="S3-01", name="需求分析", phase="执行"),  # a module
             Task(record_id="recT", task_id="S3-01-1", name="访谈", phase="执行", parent=["recM"]),
             Task(record_id="recX", task_id="S3-01-1-1", name="太深", phase="执行", parent=["recT"]),
             Task(record_id="recA", task_id="A", name="甲", parent=["recB"]),
             Task(record_id="recB", task_id="B", name="乙", parent=["recA"])]
    res = run_checks(PlanSnapshot(tasks=tasks), datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai")),
                     Policy(template="sales"))
    bad = {(p.record_id, "循环" in p.reason) for p in res.problems if p.field == "parent"}
    assert bad == {("recX", False), ("recA", True), ("recB", True)}


def test_gate_notice_names_what_is_missing_in_both_languages():
    out, _ = check_gates(_gate_plan(False, "未开始"), NOW, Policy())
    [n] = out.notices
    for text in (n.text, n.text_en):
        assert "ICP 定义获得团队共识" in text and "ICP 定义文档" in text, text
    assert "其他里程碑的标准" not in n.text + n.text_en  # another milestone's criterion
