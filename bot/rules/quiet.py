"""Quiet hours: nobody is messaged at night or on non-working days (default 21:00–08:30).

A notice decided in quiet time is held until `next_send_window`: e.g. 23:00 on a Friday waits
for 08:30 on the next working day (a 调休 Sunday counts as a working day).
"""
from __future__ import annotations

from datetime import datetime, time, timedelta

from gtm.bot.rules import require_aware
from gtm.bot.rules.calendar import WorkCalendar
from gtm.schemas.settings import Policy

_MAX_DAYS = 400  # a year of holidays can't be longer than this; guards a misconfigured calendar


def _in_window(t: time, start: time, end: time) -> bool:
    if start == end:
        return False  # no quiet hours configured
    if start < end:
        return start <= t < end
    return t >= start or t < end  # wraps midnight (21:00–08:30)


def is_quiet(now: datetime, policy: Policy, calendar: WorkCalendar | None = None) -> bool:
    """True when a message must not be sent at `now` (local time in the policy zone)."""
    cal = calendar or WorkCalendar(policy)
    local = require_aware(now).astimezone(policy.tz)
    if policy.quiet_on_non_working_days and not cal.is_working_day(local.date()):
        return True
    return _in_window(local.time().replace(tzinfo=None), policy.quiet_start, policy.quiet_end)


def next_send_window(now: datetime, policy: Policy,
                     calendar: WorkCalendar | None = None) -> datetime:
    """`now` if sending is allowed, else the first allowed instant after it (policy zone)."""
    cal = calendar or WorkCalendar(policy)
    if not is_quiet(now, policy, cal):
        return now
    tz = policy.tz
    local = now.astimezone(tz)
    # Quiet time ends at quiet_end (or at midnight of a working day when only the day is quiet).
    for offset in range(_MAX_DAYS):
        day = local.date() + timedelta(days=offset)
        for clock in (time(0, 0), policy.quiet_end):
            candidate = datetime.combine(day, clock, tzinfo=tz)
            if candidate.timestamp() > now.timestamp() and not is_quiet(candidate, policy, cal):
                return candidate
    raise ValueError("no send window within 400 days: check quiet hours and the holiday overrides")
