"""Arguments checked at the edge (CLI options, card values): one clear line naming the argument,
the bad value and a good example. Settings are checked in `gtm.schemas.settings`.
"""
from __future__ import annotations

import re
from datetime import datetime, tzinfo

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


def parse_as_of(value: str, tz: tzinfo) -> datetime:
    """`--as-of` ISO-8601 (date or datetime; naive means the project timezone), 2000–2100 only."""
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadArgument(f"--as-of {value[:80]!r} is not ISO-8601, e.g. 2026-11-23T09:00 or 2026-11-23") from None
    if not plausible_date(dt.date()):
        raise BadArgument(f"--as-of {value[:80]!r} is outside {FIRST_YEAR}–{LAST_YEAR}; e.g. 2026-11-23")
    return dt.replace(tzinfo=tz) if dt.tzinfo is None else dt
