"""负载: open items per person for the next two weeks; over-allocation flagged."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from gtm.bot.chat.parse import parse
from gtm.bot.chat.answers import AskContext, view_for
from gtm.bot.rules.workload import workload
from gtm.schemas.plan import Milestone, Person, PlanSnapshot, Task
from gtm.schemas.settings import Policy

NOW = datetime(2026, 12, 7, 10, tzinfo=ZoneInfo("Asia/Shanghai"))  # Monday
A = Person(open_id="ou_a", name="忙人")
B = Person(open_id="ou_b", name="闲人")


def t(rid: str, owner: Person, start: date, end: date, progress: float = 0.0, status: str = "进行中") -> Task:
    return Task(record_id=rid, task_id=f"T-{rid}", name=rid, owner=owner, planned_start=start, planned_end=end,
                progress=progress, status=status)


def snap() -> PlanSnapshot:
    return PlanSnapshot(tasks=[
        t("1", A, date(2026, 12, 7), date(2026, 12, 18)),  # 10 working days of work
        t("2", A, date(2026, 12, 7), date(2026, 12, 11)),  # 5 more: 15 > 10 available
        t("3", A, date(2026, 12, 1), date(2026, 12, 4)),  # overdue
        t("4", B, date(2026, 12, 14), date(2026, 12, 15), progress=0.5),
        t("5", B, date(2027, 2, 1), date(2027, 2, 5)),  # beyond the window
        t("6", A, date(2026, 12, 7), date(2026, 12, 8), status="已完成"),
    ], milestones=[Milestone(record_id="m", code="M3", name="发布", owner=B, target_date=date(2026, 12, 20))])


def test_load_per_person_and_over_allocation():
    people, start, end = workload(snap(), NOW, Policy())
    assert (start, end) == (date(2026, 12, 7), date(2026, 12, 21))
    a, b = people
    assert a.name == "忙人" and a.over and a.overdue == 1 and len(a.items) == 3
    assert a.load_days > a.capacity == 11
    assert b.name == "闲人" and not b.over and len(b.items) == 2  # T-4 and M3; T-5 is later


def test_workload_answer_in_both_languages():
    ctx = AskContext(project_name="星火", project_slug="x", snapshot=snap(), now=NOW, policy=Policy())
    for text in ("负载", "workload", "谁太忙"):
        name, view = view_for(parse(text), ctx)
        assert name == "workload" and view.over == 1 and view.rows.items[0].name == "忙人"


def test_workload_card_lists_every_item_it_counts():
    import json

    from gtm.bot.chat.answers import answer

    s = snap()
    s.milestones.append(Milestone(record_id="m2", code="M2", name="渠道就绪", owner=A, target_date=date(2026, 12, 9)))
    ctx = AskContext(project_name="星火", project_slug="x", snapshot=s, now=NOW, policy=Policy())
    body = json.dumps(answer(parse("负载"), ctx), ensure_ascii=False)
    assert "忙人** · 事项 4" in body  # three tasks and the milestone M2
    for item in ("T-1", "T-2", "T-3", "M2 渠道就绪"):
        assert item in body
    many = snap()
    many.tasks += [t(f"x{i}", A, date(2026, 12, 7), date(2026, 12, 9)) for i in range(9)]
    body = json.dumps(answer(parse("负载"), AskContext(project_name="星火", project_slug="x", snapshot=many,
                                                     now=NOW, policy=Policy())), ensure_ascii=False)
    assert "忙人** · 事项 12" in body and "…还有 4 项" in body and "… and 4 more" in body
