"""Who a management escalation goes to: each member of 管理层 once, people without an id skipped."""
from __future__ import annotations

from datetime import timedelta

from gtm.bot.rules.engine import run_checks
from gtm.schemas.plan import Issue, Person
from gtm.schemas.settings import Policy
from tests.support.rule_plans import ALICE, BOSS1, BOSS2, at, plan, project

RAISED = at(2025, 9, 1, 10, 0)  # Monday, no holidays in the next two weeks


def test_management_listed_twice_is_notified_once():
    twice = project(management=[BOSS1, Person(open_id="", name="离职的人"), BOSS1, BOSS2])
    snap = plan(project=twice, issues=[Issue(record_id="rec_i1", issue="渠道合同卡在法务", raised_at=RAISED,
                                             owner=ALICE, status="处理中")])
    out = run_checks(snap, RAISED + timedelta(days=8), Policy())
    [mgmt] = [n for n in out.notices if n.kind == "escalation" and n.level == 2]
    assert mgmt.recipients == ["ou_boss1", "ou_boss2"]
