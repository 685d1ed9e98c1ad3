"""月度汇报: milestones hit/missed vs baseline, top risks, decisions needed; monthly schedule."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from gtm.bot.checks.monthly import build_monthly, monthly_card
from gtm.bot.service.scheduler import JobSet, build_schedule
from gtm.schemas.plan import Issue, Milestone, Person, PlanSnapshot, ProjectInfo, Risk
from gtm.schemas.settings import Policy

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=TZ)


def snap() -> PlanSnapshot:
    return PlanSnapshot(project_slug="a", project=ProjectInfo(record_id="p", name="星河", budget=100.0, spent=120.0),
                        milestones=[
        Milestone(record_id="m1", code="M1", name="准备", target_date=date(2026, 11, 20), baseline_end=date(2026, 11, 10),
                  status="完成", actual_date=date(2026, 11, 9)),  # hit against the baseline
        Milestone(record_id="m2", code="M2", name="预热", target_date=date(2026, 11, 25), baseline_end=date(2026, 11, 15),
                  status="完成", actual_date=date(2026, 11, 24)),  # reached, but 9 days after the baseline
        Milestone(record_id="m3", code="M3", name="上线", target_date=date(2026, 11, 28), status="进行中"),  # missed
        Milestone(record_id="m4", code="M4", name="复盘", target_date=date(2026, 12, 20), status="未开始"),  # not this month
        Milestone(record_id="m5", code="M5", name="验收中", target_date=date(2026, 11, 3), status="完成",
                  actual_date=date(2026, 11, 3), approver=[Person(open_id="ou_a")]),  # not signed off
    ], risks=[Risk(record_id="r1", risk="渠道签约延迟", likelihood="高", impact="高", status="开放"),
              Risk(record_id="r2", risk="小风险", likelihood="低", impact="低", status="开放")],
        issues=[Issue(record_id="i1", issue="域名备案未通过", status="待处理",
                      raised_at=datetime(2026, 11, 10, 10, tzinfo=TZ))])


def test_last_month_against_the_baseline():
    view = build_monthly([("星河", snap(), None)], NOW, Policy())
    assert view.month == "2026-11"
    assert [m.label for m in view.hit.items] == ["M1 准备"]
    assert {m.label: m.days for m in view.missed.items} == {"M2 预热": 9, "M3 上线": 3, "M5 验收中": 28}
    assert [r.text.split("（")[0] for r in view.risks.items] == ["星河：渠道签约延迟"]
    texts = " ".join(d.text for d in view.decisions.items)
    assert "域名备案未通过" in texts and "预算超支" in texts and "M5 验收中 待审批人验收" in texts
    card = str(monthly_card(view, "en"))
    assert "Monthly summary · 2026-11" in card


def test_a_month_without_due_milestones_names_that_month():
    quiet = snap()
    quiet.milestones = [m for m in quiet.milestones if m.code == "M4"]  # due in December only
    card = str(monthly_card(build_monthly([("星河", quiet, None)], NOW, Policy()), "zh"))
    assert "2026-11 没有到期的里程碑" in card and "No milestone was due in 2026-11" in card
    assert "本月" not in card  # sent on 12-01 about November: "this month" would be December


def test_monthly_job_fires_on_the_first_of_the_month():
    specs = build_schedule([], lambda s: Policy(), JobSet(monthly=lambda slug, now: None))
    [spec] = specs
    nxt = spec.next_fire(datetime(2026, 12, 5, 12, tzinfo=TZ))
    assert nxt == datetime(2027, 1, 1, 9, 30, tzinfo=TZ)
