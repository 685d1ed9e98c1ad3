"""Arguments checked at the edge (CLI options, card values): one clear line naming the argument,
the bad value and a good example. Settings are checked in `gtm.schemas.settings`.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo

from gtm.schemas.plan import FIRST_YEAR, LAST_YEAR, plausible_date

# Slugs that would collide with command words (`--project all` means every project).
RESERVED_SLUGS = frozenset({
    "all", "none", "help", "list", "new", "init", "sync", "check", "report", "portfolio", "ask",
    "projects", "archive", "link", "sandbox", "demo", "serve", "doctor",
})
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
CHAT_RE = re.compile(r"^oc_[A-Za-z0-9_]{6,64}$")


class BadArgument(ValueError):
    """The message names the argument, the bad value and an example of a good one."""


def check_slug(slug: str, option: str = "--project") -> str:
    if not SLUG_RE.match(slug or ""):
        raise BadArgument(f"{option} {slug[:80]!r}: use lowercase letters, digits, '-' or '_' (e.g. launch-2027)")
    if slug in RESERVED_SLUGS:
        raise BadArgument(f"{option} {slug!r} is a reserved word (`--project all` means every project); "
                          f"pick another slug, e.g. {slug}-2027")
    return slug


def check_chat_id(chat_id: str, option: str = "--chat") -> str:
    if not CHAT_RE.match(chat_id or ""):
        raise BadArgument(f"{option} {chat_id[:80]!r} is not a group chat id; it starts with oc_ "
                          f"(e.g. oc_5ad11d72b830411d72b836c20, shown by `gtm doctor` or the group's settings)")
    return chat_id


_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_AS_OF_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ].*)?$")
_YEARS = f"须在 {FIRST_YEAR}–{LAST_YEAR} 年之间 / must be between {FIRST_YEAR} and {LAST_YEAR}"


def _no_such_day(option: str, value: str, example: str) -> BadArgument:
    return BadArgument(f"{option} {value[:80]!r}: 没有这一天（月份 1–12，日期不超过当月天数） / no such day "
                       f"(month 1–12, day within the month); e.g. {option} {example}")


def parse_start(value: str, option: str = "--start") -> date:
    """`--start YYYY-MM-DD`: a real calendar day, 2000–2100 (the plan's end is `check_plan_end`)."""
    text = value.strip()
    if not _DATE_RE.match(text):
        raise BadArgument(f"{option} {value[:80]!r}: 不是 YYYY-MM-DD 格式的日期 / not a date in YYYY-MM-DD form; "
                          f"e.g. {option} 2026-11-23")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise _no_such_day(option, value, "2026-11-23") from None
    if not plausible_date(day):
        raise BadArgument(f"{option} {value[:80]!r}: {_YEARS}; e.g. {option} 2026-11-23")
    return day


def check_plan_end(start: date, span_days: int, option: str = "--start") -> None:
    """A plan laid out from `start` over `span_days` must end by LAST_YEAR (its dates would be typos)."""
    end = date.max if (date.max - start).days < span_days else start + timedelta(days=span_days)
    if end.year > LAST_YEAR:
        latest = date(LAST_YEAR, 12, 31) - timedelta(days=span_days)
        raise BadArgument(f"{option} {start.isoformat()!r}: 计划将在 {LAST_YEAR} 年之后结束（共 {span_days} 天），"
                          f"最晚开始日为 {latest.isoformat()} / the plan ({span_days} days) would end after "
                          f"{LAST_YEAR}; start on {latest.isoformat()} or earlier, e.g. {option} 2026-11-23")


def parse_as_of(value: str, tz: tzinfo) -> datetime:
    """`--as-of` ISO-8601 (date or datetime; naive means the project timezone), 2000–2100 only."""
    text = value.strip()
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        if _AS_OF_RE.match(text) and not _valid_day(text[:10]):
            raise _no_such_day("--as-of", value, "2026-11-23T09:00") from None
        raise BadArgument(f"--as-of {value[:80]!r}: 不是 ISO-8601 日期或时间 / not an ISO-8601 date or time; "
                          f"e.g. --as-of 2026-11-23T09:00 or --as-of 2026-11-23") from None
    if not plausible_date(dt.date()):
        raise BadArgument(f"--as-of {value[:80]!r}: {_YEARS}; e.g. --as-of 2026-11-23")
    return dt.replace(tzinfo=tz) if dt.tzinfo is None else dt


def _valid_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
