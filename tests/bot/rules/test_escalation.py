from datetime import datetime, timedelta, timezone

import pytest

from gtm.bot.rules.escalation import check_escalations
from gtm.schemas.decisions import EscalationState
from gtm.schemas.plan import Issue, Task
from gtm.schemas.settings import Policy
from tests.support.rule_plans import ALICE, NY, at, plan, project

RAISED = at(2025, 9, 1, 10, 0)  # Monday, no holidays in the next two weeks
POLICY = Policy()


def issue(**kw) -> Issue:
    base = dict(record_id="rec_i1", issue="渠道合同卡在法务", raised_at=RAISED, owner=ALICE,
                status="处理中")
    base.update(kw)
    return Issue(**base)


def run(now, states=None, policy=POLICY, **plan_kw):
    plan_kw.setdefault("issues", [issue()])
    return check_escalations(plan(**plan_kw), now, policy, states or {})


def state_of(out, table="issue", rid="rec_i1") -> EscalationState:
    [s] = [s for s in out.escalations if (s.table, s.record_id) == (table, rid)]
    return s


@pytest.mark.parametrize("elapsed, level", [
    (timedelta(days=3), 0),                        # exactly 3 days: still the team
    (timedelta(days=3, minutes=1), 1),             # more than 3 days → PM
    (timedelta(days=7), 1),
    (timedelta(days=7, minutes=1), 2),
    (timedelta(days=8), 2),                        # more than a week → management
])
def test_ladder_thresholds_are_strict(elapsed, level):
    out, [item] = run(RAISED + elapsed)
    assert item.level == level and state_of(out).level == level
    assert sorted(n.level for n in out.notices) == list(range(1, level + 1))
    cell = {0: "团队", 1: "项目经理", 2: "管理层"}[level]
    assert {(w.attr, w.value) for w in out.writes} == {("level", cell)}


def test_level_recipients_and_stable_keys():
    out, _ = run(RAISED + timedelta(days=8))
    by_level = {n.level: n for n in out.notices}
    assert by_level[1].recipients == ["ou_pm"]
    assert by_level[2].recipients == ["ou_boss1", "ou_boss2"]
    assert by_level[1].key == "escalation:issue:rec_i1:20250901T020000Z:L1"
    assert all(not n.digest and n.kind == "escalation" for n in out.notices)
    again, _ = run(RAISED + timedelta(days=8, hours=1))
    assert [n.key for n in again.notices] == [n.key for n in out.notices]  # same → ledger dedups


def test_each_level_notifies_once_given_the_stored_state():
    out, _ = run(RAISED + timedelta(days=4))
    s1 = state_of(out)
    out2, _ = run(RAISED + timedelta(days=5), {("issue", "rec_i1"): s1})
    assert not out2.notices and not out2.escalations
    out3, _ = run(RAISED + timedelta(days=8), {("issue", "rec_i1"): s1})
    assert [n.level for n in out3.notices] == [2]


@pytest.mark.parametrize("now, calendar_level, working_level", [
    (at(2025, 10, 3, 10, 0), 0, 0),    # raised Tue 09-30 10:00: exactly 3 calendar days
    (at(2025, 10, 3, 10, 1), 1, 0),    # 3 days + 1 min; only ~14 working hours so far
    (at(2025, 10, 11, 10, 0), 2, 0),   # exactly 3 working days (09-30, 10-09, 10-10, 调休 10-11)
    (at(2025, 10, 11, 10, 1), 2, 1),
])
def test_calendar_vs_working_days_across_national_day(now, calendar_level, working_level):
    snap_kw = dict(issues=[issue(raised_at=at(2025, 9, 30, 10, 0))])
    _, [cal] = run(now, **snap_kw)
    _, [work] = run(now, policy=Policy(escalation_day_count="working"), **snap_kw)
    assert (cal.level, work.level) == (calendar_level, working_level)


@pytest.mark.parametrize("utc_now, level_ny, level_sh", [
    # raised 2025-03-07 10:00 New York (EST) = 15:00Z; DST starts 03-09 in New York
    (datetime(2025, 3, 10, 14, 0, tzinfo=timezone.utc), 0, 0),  # NY 03-10 10:00 EDT: exactly 3 days
    (datetime(2025, 3, 10, 14, 1, tzinfo=timezone.utc), 1, 0),  # NY 3 d + 1 min (71 h real)
    (datetime(2025, 3, 10, 15, 1, tzinfo=timezone.utc), 1, 1),  # Shanghai has no DST: 72 h + 1 min
])
def test_user_timezone_with_dst(utc_now, level_ny, level_sh):
    snap_kw = dict(issues=[issue(raised_at=at(2025, 3, 7, 10, 0, tz=NY))])
    _, [ny] = run(utc_now, policy=Policy(timezone="America/New_York"), **snap_kw)
    _, [sh] = run(utc_now, **snap_kw)
    assert (ny.level, sh.level) == (level_ny, level_sh)


# issue #16.8: on-call semantics ------------------------------------------------------------------
def test_unacknowledged_level_repeats_every_working_day_until_escalated():
    out, _ = run(at(2025, 9, 4, 11, 0))  # Thu: > 3 days → PM
    [first] = out.notices
    assert first.level == 1 and "每 1 个工作日重复提醒" in first.text
    s1 = state_of(out)
    assert s1.notified_at == at(2025, 9, 4, 11, 0) and s1.repeats == 0
    quiet, _ = run(at(2025, 9, 5, 10, 59), {("issue", "rec_i1"): s1})
    assert not quiet.notices
    out, _ = run(at(2025, 9, 5, 11, 0), {("issue", "rec_i1"): s1})  # one working day later (Fri)
    [rep] = out.notices
    assert rep.level == 1 and rep.key.endswith(":L1:repeat1") and rep.recipients == ["ou_pm"]
    assert "第 2 次提醒" in rep.text
    s2 = state_of(out)
    again, _ = run(at(2025, 9, 5, 15, 0), {("issue", "rec_i1"): s2})
    assert not again.notices  # once per interval
    weekend, _ = run(at(2025, 9, 6, 12, 0), {("issue", "rec_i1"): s2})
    assert not weekend.notices  # Saturday is not a working day
    out, _ = run(at(2025, 9, 8, 10, 30), {("issue", "rec_i1"): s2})  # Mon: > 7 days → management
    assert [n.level for n in out.notices] == [2] and ":repeat" not in out.notices[0].key
    assert state_of(out).repeats == 0


def test_ack_silences_the_level_until_the_next_level_is_due():
    acked = EscalationState(table="issue", record_id="rec_i1", level=1, since=RAISED, acked_level=1,
                            notified_at=at(2025, 9, 4, 11, 0), acked_until=RAISED + timedelta(days=7))
    states = {("issue", "rec_i1"): acked}
    for day in (5, 6, 7):  # acknowledged: no repeats, however long it takes
        out, _ = run(at(2025, 9, day, 12, 0), states)
        assert not out.notices
    out, _ = run(at(2025, 9, 8, 10, 30), states)
    assert [n.level for n in out.notices] == [2]  # the next level still escalates
    s2 = state_of(out)
    assert s2.level == 2 and s2.acked_level == 1
    out, _ = run(at(2025, 9, 9, 10, 30), {("issue", "rec_i1"): s2})
    assert [n.key.rsplit(":", 1)[-1] for n in out.notices] == ["repeat1"]  # level 2 is not acknowledged


def test_repeats_can_be_turned_off():
    out, _ = run(at(2025, 9, 4, 11, 0))
    out, _ = run(at(2025, 9, 6, 11, 0), {("issue", "rec_i1"): state_of(out)},
                 policy=Policy(escalation_repeat_after_days=0))
    assert not out.notices


def test_snooze_silences_until_its_date_then_renotifies_once():
    snoozed = EscalationState(table="issue", record_id="rec_i1", level=1, since=RAISED, acked_level=1,
                              snoozed_until=at(2025, 9, 6, 9, 0))
    quiet, _ = run(at(2025, 9, 6, 8, 59), {("issue", "rec_i1"): snoozed})
    assert not quiet.notices
    out, _ = run(at(2025, 9, 6, 9, 0), {("issue", "rec_i1"): snoozed})
    assert [n.key.rsplit(":", 2)[-2] for n in out.notices] == ["snooze"]
    assert state_of(out).snoozed_until is None


def test_resolved_ends_the_ladder_without_notice():
    live = EscalationState(table="issue", record_id="rec_i1", level=2, since=RAISED)
    out, items = run(RAISED + timedelta(days=20), {("issue", "rec_i1"): live},
                     issues=[issue(status="已解决")])
    assert not out.notices and not items and not out.writes
    assert state_of(out).resolved
    out, _ = run(RAISED + timedelta(days=21), {("issue", "rec_i1"): state_of(out)},
                 issues=[issue(status="已解决")])
    assert not out.escalations  # nothing new to store


def test_blocked_task_counts_from_when_it_was_first_seen_blocked():
    t = Task(record_id="rec_t1", task_id="T1", name="支付接口", owner=ALICE, status="阻塞",
             modified_at=at(2025, 9, 1, 10, 0))
    out, [item] = run(at(2025, 9, 1, 10, 30), issues=[], tasks=[t])
    s = state_of(out, "task", "rec_t1")
    assert s.since == at(2025, 9, 1, 10, 0) and item.level == 0 and not out.writes
    edited = t.model_copy(update={"modified_at": at(2025, 9, 4, 9, 0)})  # a later edit
    out, [item] = run(at(2025, 9, 4, 10, 1), {("task", "rec_t1"): s}, issues=[], tasks=[edited])
    assert item.level == 1 and [n.recipients for n in out.notices] == [["ou_pm"]]
    unblocked = edited.model_copy(update={"status": "进行中"})
    out, items = run(at(2025, 9, 5), {("task", "rec_t1"): state_of(out, "task", "rec_t1")},
                     issues=[], tasks=[unblocked])
    assert not items and state_of(out, "task", "rec_t1").resolved


@pytest.mark.parametrize("days, elapsed, cell, recipients", [
    ([3, 7, 14], 8, "项目经理", ["ou_pm"]),          # middle levels go to the PM
    ([3, 7, 14], 15, "管理层", ["ou_boss1", "ou_boss2"]),  # the last maps to management
    ([5], 6, "管理层", ["ou_boss1", "ou_boss2"]),
])
def test_extra_levels_come_from_policy(days, elapsed, cell, recipients):
    out, [item] = run(RAISED + timedelta(days=elapsed), policy=Policy(escalation_days=days))
    assert item.cell == cell
    assert out.notices[-1].recipients == recipients and out.notices[-1].level == item.level


def test_no_management_falls_back_to_pm_as_a_data_problem():
    out, _ = run(RAISED + timedelta(days=8), project=project(management=[]))
    assert out.notices[-1].recipients == ["ou_pm"]
    assert [p.field for p in out.problems] == ["management"]


def test_missing_raised_at_is_a_problem_and_uses_modified_time():
    out, [item] = run(at(2025, 9, 10), issues=[issue(raised_at=None,
                                                   modified_at=at(2025, 9, 5, 10))])
    assert item.level == 1 and [p.field for p in out.problems] == ["raised_at"]
    out, items = run(at(2025, 9, 10), issues=[issue(raised_at=None)])
    assert not items and [p.field for p in out.problems] == ["raised_at"]


@pytest.mark.parametrize("hour, minute", [(0, 30), (1, 59), (9, 0), (12, 0), (23, 59)])
def test_the_demo_issues_are_4_and_8_days_open_at_any_hour(hour, minute):
    """The demo says its issues have been open 4 and 8 days and shows both ladder levels: true at
    any hour it runs (raised 8 days 2 hours back, the second read 9 days between 00:00 and 02:00)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from gtm.bot.cli.demo_data import raised_days_ago
    from gtm.bot.rules.calendar import WorkCalendar
    from gtm.bot.rules.escalation import due_level, open_days

    tz = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 12, 5, hour, minute, tzinfo=tz)
    policy, cal = Policy(), WorkCalendar(Policy())
    four, eight = raised_days_ago(now.date(), 4, tz), raised_days_ago(now.date(), 8, tz)
    assert (open_days(four, now, policy, cal), open_days(eight, now, policy, cal)) == (4, 8)
    assert (due_level(four, now, policy, cal), due_level(eight, now, policy, cal)) == (1, 2)


def test_ladder_states_are_the_validated_model_in_less_memory():
    """The ladder builds its states from its own values without validation (`rules.make_state`):
    the same model as a validated one (every field set, equal, round-trips), stored states compare
    equal to it, and a 100,000-task plan's ~14,000 blocked tasks keep ~0.3 KB each (state, ladder
    item, label), not ~1.2 KB."""
    import tracemalloc

    now = RAISED + timedelta(days=1)  # level 0 everywhere: no notice, only states and ladder items
    blocked = [Task(record_id=f"rec_t{i}", task_id=f"T{i}", name="等法务", status="阻塞", owner=ALICE,
                    modified_at=RAISED) for i in range(2000)]
    snap = plan(issues=[issue()], tasks=blocked)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out, items = check_escalations(snap, now, POLICY, {})
        per_task = (tracemalloc.get_traced_memory()[0] - before) / len(blocked)
    finally:
        tracemalloc.stop()
    assert len(out.escalations) == len(items) == 2001 and not out.notices
    assert per_task < 600, f"{per_task:.0f} bytes per blocked task"
    s = state_of(out)
    validated = EscalationState(**{k: getattr(s, k) for k in EscalationState.model_fields})
    assert s == validated and s.model_dump() == validated.model_dump()
    assert s.model_fields_set == set(EscalationState.model_fields)
    assert EscalationState.model_validate_json(s.model_dump_json()) == s
    again, _ = check_escalations(snap, now + timedelta(minutes=5), POLICY, {("issue", "rec_i1"): validated})
    assert state_of(out, "task", "rec_t0") in again.escalations  # no stored state: reported again
    assert not [st for st in again.escalations if st.table == "issue"]  # equal to the stored one
