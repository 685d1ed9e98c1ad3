from datetime import date

import pytest

from gtm.bot.rules.due_soon import check_due_soon
from gtm.schemas.plan import Task
from gtm.schemas.settings import Policy
from tests.support.rule_plans import ALICE, at, plan


def task(end: date, **kw) -> Task:
    return Task(record_id="rec_t", task_id="T9", name="销售培训", owner=ALICE, planned_end=end,
                status=kw.pop("status", "进行中"), **kw)


@pytest.mark.parametrize("now, end, soon", [
    (at(2025, 9, 25, 9), date(2025, 9, 25), True),   # due today
    (at(2025, 9, 25, 9), date(2025, 9, 26), True),   # 1 working day
    (at(2025, 9, 25, 9), date(2025, 9, 28), True),   # 调休 Sunday = 2nd working day
    (at(2025, 9, 25, 9), date(2025, 9, 29), False),  # 3rd working day
    (at(2025, 9, 30, 9), date(2025, 10, 10), True),  # holiday skipped: Oct 9, Oct 10
    (at(2025, 9, 30, 9), date(2025, 10, 11), False),
    (at(2025, 9, 30, 9), date(2025, 9, 29), False),  # already overdue: not "due soon"
])
def test_due_within_two_working_days(now, end, soon):
    out = check_due_soon(plan(tasks=[task(end)]), now, Policy())
    assert bool(out.notices) is soon
    if soon:
        [n] = out.notices
        assert n.digest and n.recipients == ["ou_alice"] and n.kind == "due_soon"
        assert n.key == f"due_soon:task:rec_t:{end.isoformat()}:{now.date().isoformat()}"


def test_done_items_are_not_due_soon_and_policy_sets_the_window():
    assert not check_due_soon(plan(tasks=[task(date(2025, 9, 26), status="已完成")]),
                              at(2025, 9, 25, 9), Policy()).notices
    assert check_due_soon(plan(tasks=[task(date(2025, 9, 29))]), at(2025, 9, 25, 9),
                          Policy(due_soon_working_days=3)).notices


@pytest.mark.parametrize("end, today", [(date(2025, 9, 25), True), (date(2025, 9, 26), False)])
def test_the_notice_says_today_only_on_the_day_in_both_languages(end, today):
    [n] = check_due_soon(plan(tasks=[task(end)]), at(2025, 9, 25, 9), Policy()).notices
    assert ("（今天" in n.text) is today and ("(today" in n.text_en) is today, (n.text, n.text_en)
