from datetime import date

import pytest

from gtm.bot.rules.engine import run_checks
from gtm.bot.rules.overdue import check_overdue
from gtm.schemas.plan import DataProblem, Deliverable, Milestone, Task
from gtm.schemas.settings import Policy
from tests.support.rule_plans import ALICE, NY, at, plan

POLICY = Policy()


def task(**kw) -> Task:
    base = dict(record_id="rec_t1", task_id="T1", name="官网改版", owner=ALICE,
                planned_end=date(2025, 9, 30), status="进行中")
    base.update(kw)
    return Task(**base)


def writes_of(out) -> dict:
    return {(w.table, w.record_id, w.attr): w.value for w in out.writes}


@pytest.mark.parametrize("now, overdue", [
    (at(2025, 9, 30, 23, 59), False),  # still the planned end date
    (at(2025, 10, 1, 0, 0), True),     # start of D+1 in Asia/Shanghai
    (at(2025, 9, 30, 16, 0, tz=NY), True),  # = 10-01 04:00 in Shanghai
])
def test_overdue_from_start_of_next_local_day(now, overdue):
    out, found = check_overdue(plan(tasks=[task()]), now, POLICY)
    assert bool(found) is overdue
    assert (("task", "rec_t1", "status") in writes_of(out)) is overdue


@pytest.mark.parametrize("now_utc_h, overdue_ny, overdue_sh", [
    # task due 2025-03-09 (DST starts in New York that night); instants in UTC on 03-10
    ((3, 59), False, True),   # NY 03-09 23:59 EDT, Shanghai 03-10 11:59
    ((4, 0), True, True),     # NY 03-10 00:00 EDT (UTC-4 after the change, not -5)
])
def test_user_timezone_with_dst(now_utc_h, overdue_ny, overdue_sh):
    from datetime import datetime, timezone
    now = datetime(2025, 3, 10, *now_utc_h, tzinfo=timezone.utc)
    snap = plan(tasks=[task(planned_end=date(2025, 3, 9))])
    _, ny = check_overdue(snap, now, Policy(timezone="America/New_York"))
    _, sh = check_overdue(snap, now, Policy(timezone="Asia/Shanghai"))
    assert bool(ny) is overdue_ny and bool(sh) is overdue_sh


def test_overdue_task_gets_status_variance_and_owner_notice():
    out, found = check_overdue(plan(tasks=[task()]), at(2025, 10, 1, 9), POLICY)
    assert writes_of(out) == {("task", "rec_t1", "status"): "延期",
                              ("task", "rec_t1", "variance_days"): 1}
    [n] = out.notices
    assert n.kind == "overdue" and n.recipients == ["ou_alice"] and not n.digest
    assert n.key == "overdue:task:rec_t1:2025-09-30"
    assert n.record.label == "T1 官网改版" and "逾期 1 天" in n.text
    assert found[0].days_late == 1


def test_blocked_task_stays_blocked_but_is_overdue():
    out, found = check_overdue(plan(tasks=[task(status="阻塞")]), at(2025, 10, 3, 9), POLICY)
    assert found and ("task", "rec_t1", "status") not in writes_of(out)
    assert writes_of(out)[("task", "rec_t1", "variance_days")] == 3


@pytest.mark.parametrize("status, actual, variance", [
    ("已完成", date(2025, 9, 27), -3),  # finished early: negative variance
    ("已完成", date(2025, 10, 2), 2),
    ("已完成", None, None),            # done without actual end: nothing to write
])
def test_done_tasks_get_actual_minus_planned_and_no_notice(status, actual, variance):
    out, found = check_overdue(plan(tasks=[task(status=status, actual_end=actual)]),
                               at(2025, 10, 9, 9), POLICY)
    assert not found and not out.notices
    assert writes_of(out).get(("task", "rec_t1", "variance_days")) == variance


def test_deliverables_and_milestones_use_their_own_dates_and_done_value():
    snap = plan(
        milestones=[Milestone(record_id="m1", code="M1", name="市场调研完成", owner=ALICE,
                              target_date=date(2025, 9, 30), status="进行中"),
                    Milestone(record_id="m2", code="M2", name="战略确定", owner=ALICE,
                              target_date=date(2025, 9, 20), actual_date=date(2025, 9, 22),
                              status="完成")],
        deliverables=[Deliverable(record_id="d1", name="ICP 定义文档", owner=ALICE,
                                  due_date=date(2025, 9, 29), status="未开始")])
    out, found = check_overdue(snap, at(2025, 10, 1, 9), POLICY)
    assert {(o.table, o.record_id, o.days_late) for o in found} == {("milestone", "m1", 1),
                                                                     ("deliverable", "d1", 2)}
    w = writes_of(out)
    assert w[("milestone", "m1", "status")] == "延期" and w[("deliverable", "d1", "status")] == "延期"
    assert w[("milestone", "m2", "variance_days")] == 2
    assert ("deliverable", "d1", "variance_days") not in w  # deliverables have no variance field


def test_no_owner_goes_to_pm_as_a_data_problem():
    out, _ = check_overdue(plan(tasks=[task(owner=None)]), at(2025, 10, 1, 9), POLICY)
    [n] = out.notices
    assert n.recipients == ["ou_pm"] and n.data["no_owner"] and "缺少负责人" in n.text
    assert [(p.table, p.record_id, p.field) for p in out.problems] == [("task", "rec_t1", "owner")]


@pytest.mark.parametrize("bad", ["2025-13-45", "下周五", 12345])
def test_bad_date_is_a_data_problem_not_a_crash(bad):
    snap = plan(tasks=[task(), Task.model_construct(**{**task(record_id="rec_bad").__dict__,
                                                         "planned_end": bad})])
    result = run_checks(snap, at(2025, 10, 1, 9), POLICY, {})
    assert any(p.record_id == "rec_bad" and p.field == "planned_end" for p in result.problems)
    assert {n.record.record_id for n in result.notices if n.kind == "overdue"} == {"rec_t1"}


def test_missing_date_on_open_item_is_a_problem_once_even_if_the_codec_reported_it():
    codec = DataProblem(table="task", record_id="rec_t1", field="planned_end", value="??",
                        reason="不是日期")
    result = run_checks(plan(tasks=[task(planned_end=None)], problems=[codec]),
                        at(2025, 10, 1, 9), POLICY, {})
    # once, and named by the row's own ID and name
    assert [p for p in result.problems if p.record_id == "rec_t1"] == [codec.model_copy(update={"label": "T1 官网改版"})]
    result = run_checks(plan(tasks=[task(planned_end=None)]), at(2025, 10, 1, 9), POLICY, {})
    assert [(p.field, p.reason_en) for p in result.problems] == [
        ("planned_end", "Planned end is empty; cannot check for overdue")]


def test_date_moved_later_ends_the_episode_then_a_new_one_starts():
    now = at(2025, 10, 10, 9)
    out, _ = check_overdue(plan(tasks=[task()]), now, POLICY)
    first_keys = {n.key for n in out.notices}
    moved = task(planned_end=date(2025, 10, 20), status="延期", variance_days=10, progress=0.5)
    # the service set that 延期 (it remembers): it lifts it
    out, found = check_overdue(plan(tasks=[moved]), now, POLICY, service_set=frozenset({("task", "rec_t1")}))
    assert not found and not out.notices and not out.problems
    assert writes_of(out) == {("task", "rec_t1", "status"): "进行中",
                              ("task", "rec_t1", "variance_days"): None}
    out, found = check_overdue(plan(tasks=[moved]), at(2025, 10, 21, 9), POLICY)
    assert found and out.notices[0].key == "overdue:task:rec_t1:2025-10-20"
    assert out.notices[0].key not in first_keys


@pytest.mark.parametrize("cadence, now, key, digest", [
    ("daily_digest", at(2025, 10, 1, 9), "overdue:task:rec_t1:2025-09-30", False),
    ("daily_digest", at(2025, 10, 2, 9), "overdue:task:rec_t1:2025-09-30:2025-10-02", True),
    ("daily_digest", at(2025, 10, 2, 20), "overdue:task:rec_t1:2025-09-30:2025-10-02", True),
    ("never", at(2025, 10, 5, 9), "overdue:task:rec_t1:2025-09-30", False),
    ("every_check", at(2025, 10, 2, 9, 30), "overdue:task:rec_t1:2025-09-30:20251002T013000Z", True),
])
def test_reminder_cadence_keys(cadence, now, key, digest):
    out, _ = check_overdue(plan(tasks=[task()]), now, Policy(overdue_reminder=cadence))
    [n] = out.notices
    assert (n.key, n.digest) == (key, digest)


def test_unknown_status_is_reported_and_not_overwritten():
    out, found = check_overdue(plan(tasks=[task(status="暂停")]), at(2025, 10, 1, 9), POLICY)
    assert found and out.notices
    assert ("task", "rec_t1", "status") not in writes_of(out)
    assert [(p.field, p.value) for p in out.problems] == [("status", "暂停")]


def test_a_persons_delay_on_a_future_item_is_kept_and_reported_once():
    """Case 2: the PM set 延期 on a task whose 计划结束 is still ahead; the check keeps it."""
    pm_marked = task(planned_end=date(2026, 1, 15), status="延期", owner=ALICE)
    out, found = check_overdue(plan(tasks=[pm_marked]), at(2026, 1, 5, 9), POLICY)
    assert not found
    assert ("task", "rec_t1", "status") not in writes_of(out)
    [p] = out.problems
    assert (p.table, p.field, p.value) == ("task", "status", "延期")
    assert "Alice 标了延期，但计划结束在 01-15" in p.reason
    # through the engine too: reported exactly once, no status write
    result = run_checks(plan(tasks=[pm_marked]), at(2026, 1, 5, 9), POLICY)
    assert [w for w in result.writes if w.attr == "status"] == []
    assert sum(1 for q in result.problems if q.field == "status") == 1


@pytest.mark.parametrize("status", ["进行中", "未开始", "阻塞", "已完成"])
def test_a_persons_status_on_a_future_item_is_never_touched(status):
    out, _ = check_overdue(plan(tasks=[task(planned_end=date(2026, 1, 15), status=status)]),
                           at(2026, 1, 5, 9), POLICY, service_set=frozenset({("task", "rec_t1")}))
    assert ("task", "rec_t1", "status") not in writes_of(out)
