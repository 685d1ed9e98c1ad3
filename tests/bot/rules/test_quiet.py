from datetime import time

import pytest

from gtm.bot.rules.quiet import is_quiet, next_send_window
from gtm.schemas.settings import Policy
from tests.support.rule_plans import NY, at

P = Policy()


@pytest.mark.parametrize("now, quiet", [
    (at(2025, 9, 22, 8, 29), True),
    (at(2025, 9, 22, 8, 30), False),
    (at(2025, 9, 22, 20, 59), False),
    (at(2025, 9, 22, 21, 0), True),
    (at(2025, 9, 27, 12, 0), True),    # Saturday
    (at(2025, 9, 28, 12, 0), False),   # 调休 Sunday is a working day
    (at(2025, 10, 3, 12, 0), True),    # National Day
])
def test_is_quiet(now, quiet):
    assert is_quiet(now, P) is quiet


@pytest.mark.parametrize("now, expected", [
    (at(2025, 9, 19, 23, 0), at(2025, 9, 22, 8, 30)),   # Friday 23:00 → Monday 08:30
    (at(2025, 9, 26, 23, 0), at(2025, 9, 28, 8, 30)),   # Friday → 调休 Sunday
    (at(2025, 9, 30, 23, 0), at(2025, 10, 9, 8, 30)),   # before National Day → after it
    (at(2025, 9, 23, 2, 0), at(2025, 9, 23, 8, 30)),    # early morning same day
    (at(2025, 9, 23, 10, 0), at(2025, 9, 23, 10, 0)),   # not quiet: now
])
def test_next_send_window(now, expected):
    assert next_send_window(now, P) == expected


def test_quiet_hours_in_a_user_timezone_and_configurable_window():
    p = Policy(timezone="America/New_York", quiet_start=time(22, 0), quiet_end=time(7, 0))
    # Friday 2025-03-07 23:00 EST → Monday 03-10 07:00 EDT (after the DST change)
    assert next_send_window(at(2025, 3, 7, 23, 0, tz=NY), p) == at(2025, 3, 10, 7, 0, tz=NY)
    assert not is_quiet(at(2025, 3, 10, 7, 0, tz=NY), p)
    assert not is_quiet(at(2025, 9, 27, 12, 0), Policy(quiet_on_non_working_days=False))


def test_a_daytime_quiet_window_starts_at_its_start_and_ends_at_its_end():
    lunch = Policy(quiet_start=time(12, 0), quiet_end=time(14, 0))  # a window that does not wrap midnight
    assert not is_quiet(at(2025, 9, 22, 11, 59), lunch)
    assert is_quiet(at(2025, 9, 22, 12, 0), lunch)
    assert is_quiet(at(2025, 9, 22, 13, 59), lunch)
    assert not is_quiet(at(2025, 9, 22, 14, 0), lunch)
    assert next_send_window(at(2025, 9, 22, 12, 0), lunch) == at(2025, 9, 22, 14, 0)
