"""A realistic GTM plan snapshot for the bot tests (no I/O): `build_snapshot()`.

Shape of the `gtm` template (M1–M9 with their deliverables and exit criteria), started
2026-10-05; "now" is Monday 2026-11-23 10:00 Asia/Shanghai (M3's target date). It holds two
overdue tasks, a blocked task, issues open 4 and 8 days, a high risk (高×高), a 待确认
dependency needed soon, and a budget 12% over. The check result comes from the real rules.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from gtm.schemas.plan import (
    Dependency,
    Deliverable,
    ExitCriterion,
    Issue,
    Metric,
    Milestone,
    Person,
    PlanSnapshot,
    ProjectInfo,
    Risk,
    Task,
)
from gtm.schemas.templates import get_template

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
START = date(2026, 10, 5)
PM = Person(open_id="ou_pm000000001", name="王经理")
ALICE = Person(open_id="ou_alice0000001", name="Alice")
BOB = Person(open_id="ou_bob000000001", name="Bob")
MGR = Person(open_id="ou_mgr000000001", name="李总")


def build_snapshot(n_extra_tasks: int = 0, name: str = "星河 GTM 发布") -> PlanSnapshot:
    tpl = get_template("gtm")
    today = NOW.date()
    milestones, deliverables, criteria = [], [], []
    for i, mt in enumerate(tpl.milestones):
        target = START + timedelta(days=mt.offset_days)
        done = target < today - timedelta(days=7)
        mid = f"recM{i + 1}"
        milestones.append(Milestone(
            record_id=mid, code=mt.code, name=mt.name, phase=mt.phase, owner=PM if i % 2 else ALICE,
            target_date=target, actual_date=target if done else None,
            status="完成" if done else ("进行中" if target <= today + timedelta(days=14) else "未开始")))
        for j, d in enumerate(mt.deliverables):
            d_done = done or (mt.code == "M3" and j < 3)
            deliverables.append(Deliverable(
                record_id=f"recD{i + 1}_{j}", name=d.name, milestone=[mid], standard=d.standard,
                owner=[ALICE, BOB, PM][j % 3], due_date=target,
                status="完成" if d_done else ("进行中" if mt.code in ("M3", "M4") else "未开始"),
                done_date=(today - timedelta(days=2)) if (d_done and not done) else (target if done else None)))
        for j, c in enumerate(mt.exit_criteria):
            criteria.append(ExitCriterion(record_id=f"recC{i + 1}_{j}", criterion=c, milestone=[mid], met=done))
    t = lambda **kw: Task(**kw)  # noqa: E731
    tasks = [
        t(record_id="recT01", task_id="T-001", name="客户访谈", milestone=["recM1"], owner=ALICE, status="已完成",
          planned_start=START, planned_end=START + timedelta(days=10), actual_end=START + timedelta(days=10), progress=1.0),
        t(record_id="recT02", task_id="T-002", name="定位声明定稿", milestone=["recM2"], owner=BOB, status="已完成",
          planned_end=START + timedelta(days=27), actual_end=START + timedelta(days=27), progress=1.0),
        t(record_id="recT03", task_id="T-003", name="产品页上线", milestone=["recM3"], owner=ALICE, status="已完成",
          planned_end=today - timedelta(days=3), actual_end=today - timedelta(days=3), progress=1.0),
        t(record_id="recT04", task_id="T-004", name="销售 Deck 与 Demo 脚本", milestone=["recM3"], owner=ALICE,
          status="进行中", planned_end=today - timedelta(days=3), progress=0.6),  # overdue 3 days
        t(record_id="recT05", task_id="T-005", name="CRM 与 Analytics 配置", milestone=["recM3"], owner=BOB,
          status="进行中", planned_end=today - timedelta(days=1), progress=0.4),  # overdue 1 day
        t(record_id="recT06", task_id="T-006", name="销售培训", milestone=["recM3"], owner=BOB, status="阻塞",
          planned_end=today + timedelta(days=2), progress=0.2, risk_note="培训讲师未确定"),
        t(record_id="recT07", task_id="T-007", name="FAQ 与帮助中心", milestone=["recM3"], owner=ALICE,
          status="进行中", planned_end=today + timedelta(days=3), progress=0.5),
        t(record_id="recT08", task_id="T-008", name="Beta 用户招募", milestone=["recM4"], owner=ALICE,
          status="未开始", planned_end=today + timedelta(days=6)),
        t(record_id="recT09", task_id="T-009", name="发布会筹备", milestone=["recM5"], owner=PM,
          status="未开始", planned_end=today + timedelta(days=20)),
        t(record_id="recT10", task_id="T-010", name="博客与视频内容", milestone=["recM3"], owner=BOB,
          status="已完成", planned_end=today - timedelta(days=5), actual_end=today - timedelta(days=4), progress=1.0),
    ]
    for k in range(n_extra_tasks):
        tasks.append(Task(record_id=f"recX{k:05d}", task_id=f"X-{k:05d}", name=f"批量任务 {k} 需要比较长的名字来测试",
                          milestone=[f"recM{k % 9 + 1}"], owner=[ALICE, BOB, PM][k % 3],
                          status=["进行中", "未开始", "已完成", "阻塞"][k % 4],
                          planned_end=today + timedelta(days=(k % 21) - 10),
                          actual_end=today - timedelta(days=k % 7) if k % 4 == 2 else None, progress=(k % 10) / 10))
    return PlanSnapshot(
        project_slug="xinghe",
        project=ProjectInfo(record_id="recP", name=name, gtm_type="新产品发布", pm=PM, management=[MGR],
                            core_team=[ALICE, BOB], start_date=START, launch_date=START + timedelta(days=77),
                            budget=100000, spent=112000, goal="三个月内完成新产品发布", chat=["oc_group0001"]),
        milestones=milestones, deliverables=deliverables, exit_criteria=criteria, tasks=tasks,
        risks=[Risk(record_id="recR1", risk="产品延期", likelihood="高", impact="高", mitigation="砍掉非核心功能",
                    owner=PM, status="开放", identified_on=START),
               Risk(record_id="recR2", risk="竞品动作", likelihood="中", impact="中", mitigation="准备差异化话术",
                    owner=BOB, status="应对中"),
               Risk(record_id="recR3", risk="人员变动", likelihood="低", impact="中", status="开放"),
               Risk(record_id="recR4", risk="预算不足", likelihood="低", impact="低", status="已关闭")],
        dependencies=[Dependency(record_id="recY1", item="法务合规审批", party="法务", milestones=["recM3"],
                                 status="待确认", risk_level="高", owner=PM, needed_by=today + timedelta(days=4)),
                      Dependency(record_id="recY2", item="产品功能完成", party="产品团队", milestones=["recM3", "recM4"],
                                 status="已确认", risk_level="中", owner=BOB, needed_by=today + timedelta(days=10))],
        issues=[Issue(record_id="recI1", issue="支付渠道对接卡住", raised_at=NOW - timedelta(days=4), owner=BOB,
                      severity="中", status="处理中", tasks=["recT05"]),
                Issue(record_id="recI2", issue="官网域名备案未通过", raised_at=NOW - timedelta(days=8), owner=ALICE,
                      severity="高", status="待处理"),
                Issue(record_id="recI3", issue="旧问题", raised_at=NOW - timedelta(days=20), status="已解决",
                      resolved_at=NOW - timedelta(days=15))],
        metrics=[Metric(record_id="recK1", metric="MQL", target="500", current="320", updated_on=today),
                 Metric(record_id="recK2", metric="网站转化率", target="3%", current="2.1%", updated_on=today),
                 Metric(record_id="recK3", metric="NPS", target="40", current="", updated_on=None)],
        read_at=NOW,
    )
