"""`--as-of` is read in the project's time zone and shown there, whatever zone it was given in."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gtm.bot.cli.options import now_at

SHANGHAI, TOKYO = ZoneInfo("Asia/Shanghai"), ZoneInfo("Asia/Tokyo")


def test_an_instant_in_utc_is_shown_in_each_projects_zone():
    now = now_at("2026-12-07T09:00Z")
    assert now(SHANGHAI).isoformat() == "2026-12-07T17:00:00+08:00"
    assert now(TOKYO).isoformat() == "2026-12-07T18:00:00+09:00"
    assert now(SHANGHAI) == now(TOKYO) == datetime(2026, 12, 7, 9, tzinfo=ZoneInfo("UTC"))


def test_a_naive_time_is_the_projects_own():
    assert now_at("2026-12-07T09:00")(TOKYO).isoformat() == "2026-12-07T09:00:00+09:00"
    assert now_at(None)(SHANGHAI).tzinfo is SHANGHAI
