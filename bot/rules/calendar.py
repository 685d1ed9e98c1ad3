"""Working days: a holiday calendar chain plus policy overrides, per project country.

Sources, per year, first that has data wins (`WorkCalendar.source(year)`, shown in `gtm doctor`):
1. `chinesecalendar` (China only): statutory holidays *and* the 调休 make-up working days, one year
   at a time, published by the State Council each autumn — it lags (1.11.0 has no 2027);
2. the `holidays` package (`Policy.holiday_country`, China by default; "US", "DE" …): statutory
   holidays of any year (for China without most 调休 make-up days: add them as `extra_workdays`);
3. Mon–Fri, with a `coverage_warning` (the delivery watchdog alerts on it).
`holiday_country = "none"` means Mon–Fri by choice (no warning). `extra_holidays` /
`extra_workdays` win over every source.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Callable

import chinese_calendar
from chinese_calendar import constants as _cc

from gtm.bot.rules import local_date, require_aware
from gtm.schemas.settings import DayCount, Policy

try:  # the second link of the chain; without it the chain goes straight to Mon–Fri
    import holidays as _holidays_lib
except ImportError:  # pragma: no cover - it is a declared dependency
    _holidays_lib = None

_HOLIDAYS = frozenset(_cc.holidays)
_WORKDAYS = frozenset(_cc.workdays)  # 调休: weekend days that are working days
_DATA_YEARS = frozenset(d.year for d in _cc.holidays)
_WARN_LOOKAHEAD = timedelta(days=92)  # from early October: next year's calendar should be out

YearDays = tuple[frozenset[date], frozenset[date]]  # (holidays, weekend working days)
LibraryFn = Callable[[str, int], "YearDays | None"]


@lru_cache(maxsize=128)
def library_days(country: str, year: int) -> YearDays | None:
    """Holidays (and weekend working days, where the package knows them) of `country` in `year`
    from the `holidays` package; None when it has nothing for that country or year."""
    if _holidays_lib is None:
        return None
    try:
        h = _holidays_lib.country_holidays(country, years=[year])
    except NotImplementedError:
        return None
    days = frozenset(d for d in h if d.year == year)
    if not days:
        return None
    work = frozenset(d for d in getattr(h, "weekend_workdays", ()) if d.year == year)
    return days, work


def sources_text(cal: "WorkCalendar", years: list[int]) -> str:
    """"2026: chinesecalendar, 2027: holidays" for `gtm doctor`."""
    return ", ".join(f"{y}: {cal.source(y)}" for y in years)


MEMO_SIZE = 4_096  # remembered deadlines / day counts per calendar (forgotten all at once when full: ≤ ~1 MB)


class WorkCalendar:
    """Which local dates are working days, for one policy (overrides win over the package)."""

    def __init__(self, policy: Policy | None = None, *, data_years: frozenset[int] | None = None,
                 library: LibraryFn | None = library_days):
        self.policy = policy or Policy()
        self._extra_holidays = frozenset(self.policy.extra_holidays)
        self._extra_workdays = frozenset(self.policy.extra_workdays)
        self.country = (self.policy.holiday_country or "none").upper()
        # chinesecalendar's years (China only); `library=None` leaves the `holidays` link out
        self.data_years = (_DATA_YEARS if data_years is None else data_years) if self.country == "CN" \
            else frozenset()
        self.library = library
        self.tz = self.policy.tz
        self._cache: dict[date, bool] = {}
        # deadlines and working-day counts by their arguments: a run asks the same few (issues
        # raised on the same days, the same `now`) tens of thousands of times
        self._deadlines: dict[tuple[datetime, int, str], datetime] = {}
        self._between: dict[tuple[date, date], int] = {}

    # --- sources -------------------------------------------------------------------------
    def source(self, year: int) -> str:
        """Where `year`'s working days come from: chinesecalendar | holidays | weekdays (Mon–Fri)."""
        if self.country == "NONE":
            return "weekdays"
        if year in self.data_years:
            return "chinesecalendar"
        if self.library is not None and self.library(self.country, year) is not None:
            return "holidays"
        return "weekdays"

    def has_data(self, year: int) -> bool:
        """True when some holiday source covers `year` (or Mon–Fri was chosen on purpose)."""
        return self.country == "NONE" or self.source(year) != "weekdays"

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
        lib = self.library(self.country, d.year) if self.library is not None and self.country != "NONE" else None
        if lib is not None:
            days, weekend_work = lib
            return d in weekend_work or (d.weekday() < 5 and d not in days)
        return d.weekday() < 5  # no holiday data for this year (or none wanted): plain Mon–Fri

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
        known = self._between.get((start, end))
        if known is not None:
            return known
        count = 0
        cur = start
        while cur < end:
            cur += timedelta(days=1)
            count += self.is_working_day(cur)
        if len(self._between) >= MEMO_SIZE:
            self._between.clear()
        self._between[(start, end)] = count
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
        key = (require_aware(start), days, count)
        known = self._deadlines.get(key)
        if known is not None:
            return known
        tz = self.tz
        local = start.astimezone(tz)
        if count == "calendar":
            found = local + timedelta(days=days)  # aware arithmetic = same wall clock, new offset
        else:
            d, clock = local.date(), local.time()
            if not self.is_working_day(d):
                d, clock = self.next_working_day(d), time(0, 0)
            found = datetime.combine(self.add_working_days(d, days), clock.replace(tzinfo=None), tzinfo=tz)
        if len(self._deadlines) >= MEMO_SIZE:
            self._deadlines.clear()
        self._deadlines[key] = found
        return found

    # --- data coverage -------------------------------------------------------------------
    def coverage_warning(self, now: datetime) -> str | None:
        """A warning (Chinese, then English) when the holiday data runs out soon or already has."""
        today = local_date(now, self.policy)
        missing = sorted({y for y in (today.year, (today + _WARN_LOOKAHEAD).year) if not self.has_data(y)})
        if not missing:
            return None
        years = "、".join(str(y) for y in missing)
        years_en = ", ".join(str(y) for y in missing)
        lib = getattr(_holidays_lib, "__version__", "missing")
        return (f"节假日日历缺少 {years} 年数据（chinesecalendar {chinese_calendar.__version__}，holidays {lib}），"
                f"这些年份暂按周一至周五计算工作日；请升级 chinesecalendar / holidays 或在策略中配置 "
                f"extra_holidays / extra_workdays。 / Holiday calendar has no data for {years_en} "
                f"(chinesecalendar {chinese_calendar.__version__}, holidays {lib}); working days fall back to "
                f"Mon–Fri. Upgrade chinesecalendar / holidays or set extra_holidays / extra_workdays.")
