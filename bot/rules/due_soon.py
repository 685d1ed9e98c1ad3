"""Due soon: open rows whose planned date falls within the next N working days (default 2).

A row due on D is 'due soon' on local date `today` when today <= D <= today + N working days.
One digest notice per row per local day (key has the planned date and today).
"""
from __future__ import annotations

from datetime import datetime

from gtm.bot.rules import RuleResult, keeps_digest_notices, local_date, make_notice, owner_route, ref
from gtm.bot.catalogue import due_phrase
from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.rules.overdue import _EN, TrackedRow, tracked_rows
from gtm.schemas import tables as T
from gtm.schemas.plan import PlanSnapshot
from gtm.schemas.settings import Policy


def check_due_soon(snapshot: PlanSnapshot, now: datetime, policy: Policy,
                   calendar: WorkCalendar | None = None, *,
                   rows: list[TrackedRow] | None = None) -> RuleResult:
    """Digest notices to owners (or the PM when a row has no owner) for rows due soon.

    Date problems it meets are reported too; the engine drops duplicates across rules.
    """
    cal = calendar or WorkCalendar(policy)
    out = RuleResult()
    today = local_date(now, policy)
    limit = cal.add_working_days(today, policy.due_soon_working_days)
    build = keeps_digest_notices()  # every notice here is a digest one
    for tr in (rows if rows is not None else tracked_rows(snapshot, policy, out)):
        if tr.done or tr.planned is None or not (today <= tr.planned <= limit):
            continue
        row, table = tr.row, tr.table
        recipients, no_owner = owner_route(snapshot, table, row, out)
        if not recipients or not build:
            continue  # the owner problems above are reported either way
        r = ref(table, row)
        left = cal.working_days_between(today, tr.planned)
        spec = T.table(table)
        # counted in calendar days with the weekday, as every list card counts (剩 N 天):
        # "0 个工作日后" for a Sunday deadline read as if it were today
        when, when_en = due_phrase(tr.planned, today)
        flag, flag_en = ("【缺少负责人】", "[No owner] ") if no_owner else ("", "")
        out.notices.append(make_notice(
            kind="due_soon", key=f"due_soon:{table}:{row.record_id}:{tr.planned.isoformat()}:"
                                 f"{today.isoformat()}",
            recipients=recipients, record=r, digest=True, title=f"{flag}即将到期：{r.label}",
            text=f"{flag}{spec.name}「{r.label}」将于 {tr.planned.isoformat()} 到期（{when}）。",
            text_en=f"{flag_en}{_EN[table]} \"{r.label}\" is due {tr.planned.isoformat()} ({when_en}).",
            data={"planned": tr.planned.isoformat(), "working_days_left": left,
                  "no_owner": no_owner}))
    return out
