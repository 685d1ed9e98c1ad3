from datetime import date, timedelta

import pytest

from gtm.bot.rules.calendar import WorkCalendar
from gtm.schemas.settings import Policy
from tests.support.rule_plans import NY, at

CAL = WorkCalendar(Policy())


@pytest.mark.parametrize("day, working", [
    (date(2025, 9, 26), True),    # Friday
    (date(2025, 9, 27), False),   # Saturday
    (date(2025, 9, 28), True),    # Sunday, 调休 make-up working day
    (date(2025, 9, 30), True),
    *[(date(2025, 10, d), False) for d in range(1, 9)],  # National Day + Mid-Autumn
    (date(2025, 10, 9), True),
    (date(2025, 10, 11), True),   # Saturday, 调休 make-up working day
    (date(2025, 10, 12), False),
])
def test_china_working_days_2025_national_day(day, working):
    assert CAL.is_working_day(day) is working


def test_policy_overrides_win_over_the_package():
    cal = WorkCalendar(Policy(extra_holidays=[date(2025, 9, 26)], extra_workdays=[date(2025, 10, 12)]))
    assert not cal.is_working_day(date(2025, 9, 26))
    assert cal.is_working_day(date(2025, 10, 12))


@pytest.mark.parametrize("start, n, expected", [
    (date(2025, 9, 30), 1, date(2025, 10, 9)),    # the whole holiday is skipped
    (date(2025, 9, 30), 3, date(2025, 10, 11)),   # 调休 Saturday counts
    (date(2025, 9, 26), 1, date(2025, 9, 28)),    # 调休 Sunday counts
    (date(2025, 10, 9), -1, date(2025, 9, 30)),
    (date(2025, 10, 4), 0, date(2025, 10, 4)),
])
def test_add_working_days(start, n, expected):
    assert CAL.add_working_days(start, n) == expected


@pytest.mark.parametrize("start, end, working, calendar", [
    (date(2025, 9, 30), date(2025, 10, 9), 1, 9),
    (date(2025, 9, 25), date(2025, 10, 12), 7, 17),  # 26, 28(调休), 29, 30, Oct 9, 10, 11(调休)
    (date(2025, 10, 9), date(2025, 9, 30), -1, -9),
    (date(2025, 10, 9), date(2025, 10, 9), 0, 0),
])
def test_working_vs_calendar_day_counting(start, end, working, calendar):
    assert CAL.working_days_between(start, end) == working
    assert CAL.days_between(start, end, "working") == working
    assert CAL.days_between(start, end, "calendar") == calendar


def test_unknown_year_falls_back_to_monday_to_friday_and_warns():
    cal = WorkCalendar(Policy(), data_years=frozenset({2025, 2026}), library=None)  # no second source
    assert cal.is_working_day(date(2027, 1, 1))   # a Friday: no data → plain weekday
    assert not cal.is_working_day(date(2027, 1, 2))
    assert cal.source(2027) == "weekdays" and cal.source(2026) == "chinesecalendar"
    assert cal.coverage_warning(at(2026, 6, 1)) is None
    warning = cal.coverage_warning(at(2026, 11, 20))
    assert warning and "2027" in warning and "节假日" in warning and "Mon–Fri" in warning


def test_real_package_data_ends_with_a_warning_late_in_its_last_year_without_a_second_source():
    last = max(WorkCalendar(Policy()).data_years)
    assert WorkCalendar(Policy(), library=None).coverage_warning(at(last, 3, 1)) is None
    assert str(last + 1) in WorkCalendar(Policy(), library=None).coverage_warning(at(last, 11, 20))


# issue #16.9: chinesecalendar has no 2027 → the holidays package, not Mon–Fri ---------------------
@pytest.mark.parametrize("day", [date(2027, 2, 8), date(2027, 2, 9), date(2027, 2, 10),
                                 *[date(2027, 10, d) for d in range(1, 6)]])
def test_2027_spring_festival_and_national_day_are_holidays(day):
    cal = WorkCalendar(Policy())
    assert cal.source(2027) == "holidays" and not cal.is_working_day(day)


def test_2027_has_no_coverage_warning_and_sources_per_year():
    cal = WorkCalendar(Policy())
    assert cal.coverage_warning(at(2026, 11, 20)) is None
    assert cal.source(2025) == "chinesecalendar" and cal.source(2027) == "holidays"


def test_extra_workdays_add_the_official_make_up_days_a_library_lacks():
    cal = WorkCalendar(Policy(extra_workdays=[date(2027, 2, 20)], extra_holidays=[date(2027, 2, 11)]))
    assert cal.is_working_day(date(2027, 2, 20))  # a Saturday 调休
    assert not cal.is_working_day(date(2027, 2, 11))  # a Thursday made a holiday


def test_per_project_holiday_country():
    us = WorkCalendar(Policy(timezone="America/New_York", holiday_country="US"))
    assert us.is_working_day(date(2027, 2, 8))  # Spring Festival is a US working day
    assert not us.is_working_day(date(2027, 7, 5))  # Independence Day (observed)
    assert not us.is_working_day(date(2025, 11, 27)) and us.source(2025) == "holidays"  # Thanksgiving
    assert us.is_working_day(date(2025, 10, 1))  # China's National Day is not a US holiday
    none = WorkCalendar(Policy(holiday_country="none"))
    assert none.is_working_day(date(2025, 10, 1)) and none.source(2025) == "weekdays"
    assert none.coverage_warning(at(2026, 11, 20)) is None  # Mon–Fri by choice: nothing to warn about


@pytest.mark.parametrize("count, expected", [
    ("calendar", at(2025, 10, 3, 10, 0)),
    ("working", at(2025, 10, 11, 10, 0)),  # Sep 30 (14h) + Oct 9 + Oct 10 + 10h of Oct 11
])
def test_deadline_calendar_vs_working_days_across_national_day(count, expected):
    assert CAL.deadline(at(2025, 9, 30, 10, 0), 3, count) == expected


def test_deadline_starting_on_a_holiday_counts_from_the_next_working_day():
    assert CAL.deadline(at(2025, 10, 3, 15, 0), 1, "working") == at(2025, 10, 10, 0, 0)


def test_calendar_deadline_keeps_local_wall_clock_across_dst():
    cal = WorkCalendar(Policy(timezone="America/New_York"))
    start = at(2025, 3, 7, 10, 0, tz=NY)  # EST; DST starts 2025-03-09
    deadline = cal.deadline(start, 3, "calendar")
    assert deadline == at(2025, 3, 10, 10, 0, tz=NY)
    assert deadline.timestamp() - start.timestamp() == timedelta(hours=71).total_seconds()


def test_remembered_deadlines_and_counts_are_the_ones_worked_out_afresh(monkeypatch):
    """The calendar remembers deadlines and working-day counts by their arguments (a run asks the
    same few thousands of times); every answer equals a fresh calendar's, through a full memo
    being forgotten, and a calendar's memo never leaks into another policy's calendar."""
    import random
    from datetime import datetime as dt
    from zoneinfo import ZoneInfo

    from gtm.bot.rules import calendar as cal_mod

    monkeypatch.setattr(cal_mod, "MEMO_SIZE", 16)  # forgotten many times below
    rnd = random.Random(4)
    shanghai = ZoneInfo("Asia/Shanghai")
    cal = WorkCalendar(Policy())
    other = WorkCalendar(Policy(extra_holidays=[date(2025, 10, 9)]))
    for _ in range(400):
        start = dt(2025, 9, rnd.randint(20, 30), rnd.choice([0, 9, 18]), tzinfo=shanghai)
        days, count = rnd.randint(1, 8), rnd.choice(["working", "calendar"])
        end = date(2025, 10, rnd.randint(1, 20))
        for c, policy in ((cal, Policy()), (other, Policy(extra_holidays=[date(2025, 10, 9)]))):
            fresh = WorkCalendar(policy)
            assert c.deadline(start, days, count) == fresh.deadline(start, days, count)
            assert c.working_days_between(start.date(), end) == fresh.working_days_between(start.date(), end)
    assert cal.deadline(dt(2025, 10, 8, 9, tzinfo=shanghai), 1, "working") != \
        other.deadline(dt(2025, 10, 8, 9, tzinfo=shanghai), 1, "working")  # 10-09 is a holiday only for `other`
    assert len(cal._deadlines) <= 16 and len(cal._between) <= 16
