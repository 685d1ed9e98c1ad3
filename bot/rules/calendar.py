"""Working days: the China holiday calendar (法定节假日 + 调休 make-up days) plus policy overrides.

Data comes from the `chinesecalendar` package (one year at a time, published by the State Council
each autumn). For a year the package has no data for, weekdays Mon–Fri are working days and
`coverage_warning` says so, so an operator can update the package or add overrides.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import chinese_calendar
from chinese_calendar import constants as _cc

from gtm.bot.rules import local_date, require_aware
from gtm.schemas.settings import DayCount, Policy

_HOLIDAYS = frozenset(_cc.holidays)
_WORKDAYS = frozenset(_cc.workdays)  # 调休: weekend days that are working days
_DATA_YEARS = frozenset(d.year for d in _cc.holidays)
_WARN_LOOKAHEAD = timedelta(days=92)  # from early October: next year's calendar should be out


class WorkCalendar:
    """Which local dates are working days, for one policy (overrides win over the package)."""

    def __init__(self, policy: Policy | None = None, *, data_years: frozenset[int] | None = None):
        self.policy = policy or Policy()
        self._extra_holidays = frozenset(self.policy.extra_holidays)
        self._extra_workdays = frozenset(self.policy.extra_workdays)
        self.data_years = _DATA_YEARS if data_years is None else data_years
        self.tz = self.policy.tz
        self._cache: dict[date, bool] = {}

    # --- single days ---------------------------------------------------------------------
    def has_data(self, year: int) -> bool:
        return year in self.data_years

    def is_working_day(self, d: date) -> bool:
        hit = self._cache.get(d)
        if hit is None:
            hit = self._compute(d)
            self._cache[d] = hit
        return hit

    def _compute(self, d: date) -> bool:
        if d in self._extra_workdays:
            return True
        if d in self._extra_holidays:
            return False
        if d.year in self.data_years:
            return d in _WORKDAYS or (d.weekday() < 5 and d not in _HOLIDAYS)
        return d.weekday() < 5  # no official data for this year: plain Mon–Fri

    # --- counting ------------------------------------------------------------------------
    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after `d` (before it when n < 0); n == 0 returns `d` itself."""
        step = 1 if n >= 0 else -1
        left = abs(n)
        cur = d
        while left:
            cur += timedelta(days=step)
            if self.is_working_day(cur):
                left -= 1
        return cur

    def next_working_day(self, d: date, *, include_self: bool = True) -> date:
        cur = d if include_self else d + timedelta(days=1)
        while not self.is_working_day(cur):
            cur += timedelta(days=1)
        return cur

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when end is before start. Same day → 0."""
        if end == start:
            return 0
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        cur = start
        while cur < end:
            cur += timedelta(days=1)
            count += self.is_working_day(cur)
        return count

    def days_between(self, start: date, end: date, count: DayCount) -> int:
        """Day difference end − start in calendar or working days (Policy.escalation_day_count)."""
        if count == "working":
            return self.working_days_between(start, end)
        return (end - start).days

    def deadline(self, start: datetime, days: int, count: DayCount) -> datetime:
        """The instant `days` days after `start`, in local wall-clock time of the policy zone.

        calendar: same local time `days` dates later (so a DST change does not shift it).
        working: only time on working days counts. A start on a non-working day counts from
        00:00 of the next working day; the result is the same local time `days` working days on.
        Something is 'more than N days old' when now > deadline (strictly).
        """
        tz = self.tz
        local = require_aware(start).astimezone(tz)
        if count == "calendar":
            return local + timedelta(days=days)  # aware arithmetic = same wall clock, new offset
        else:
            d, clock = local.date(), local.time()
            if not self.is_working_day(d):
                d, clock = self.next_working_day(d), time(0, 0)
            target = self.add_working_days(d, days)
        return datetime.combine(target, clock.replace(tzinfo=None), tzinfo=tz)

    # --- data coverage -------------------------------------------------------------------
    def coverage_warning(self, now: datetime) -> str | None:
        """A warning (Chinese, then English) when the holiday data runs out soon or already has."""
        today = local_date(now, self.policy)
        missing = sorted({y for y in (today.year, (today + _WARN_LOOKAHEAD).year)
                          if y not in self.data_years})
        if not missing:
            return None
        years = "、".join(str(y) for y in missing)
        years_en = ", ".join(str(y) for y in missing)
        return (f"节假日日历缺少 {years} 年数据（chinesecalendar {chinese_calendar.__version__}），"
                f"这些年份暂按周一至周五计算工作日；请升级 chinesecalendar 或在策略中配置 "
                f"extra_holidays / extra_workdays。 / Holiday calendar has no data for {years_en} "
                f"(chinesecalendar {chinese_calendar.__version__}); working days fall back to "
                f"Mon–Fri. Upgrade chinesecalendar or set extra_holidays / extra_workdays.")
