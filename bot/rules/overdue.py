"""Overdue items: tasks (计划结束), deliverables (截止日期), milestones (目标日期) not done in time.

Definition: a date-only planned end D is overdue from 00:00 of D+1 in the policy timezone, i.e.
when the local date of `now` is after D. An overdue *episode* is identified by its planned date:
moving the date later ends the episode; passing the new date starts a new episode with fresh
notice keys.

Cell ownership (`own_cells`): 偏差(天) is the service's. The status is the person's, with one rule
from docs/seeds/003 §2.4 — 延期 means "planned end passed and not done" — so the service sets 延期 on an
overdue, unfinished item, and lifts a 延期 only when it set that 延期 itself (`service_set`: the
records whose 延期 the store remembers writing) and the item is no longer overdue. A 延期 a person
chose on an item that is not overdue is kept and reported once as a data problem
("张三 标了延期，但计划结束在 01-15").

Cadence (Policy.overdue_reminder): the first notice on the first overdue day is sent on its own;
afterwards "daily_digest" sends one digest reminder per local day (key has the local date),
"never" sends nothing more, "every_check" reminds on every run.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterator

from gtm.bot.rules import (
    Kept,
    RuleResult,
    in_digest,
    keeps_digest_notices,
    local_date,
    make_notice,
    make_write,
    owner_route,
    problem,
    ref,
    utc_key,
)
from gtm.bot.catalogue import plural
from gtm.bot.rules.calendar import WorkCalendar
from gtm.schemas import tables as T
from gtm.schemas.decisions import RecordRef
from gtm.schemas.plan import FIRST_YEAR, LAST_YEAR, MilestoneStatus, PlanSnapshot, TaskStatus, row_label
from gtm.schemas.settings import Policy

# table key → (planned date attr, actual date attr, done value, overdue value, has variance)
TRACKED: dict[str, tuple[str, str, str, str, bool]] = {
    "task": ("planned_end", "actual_end", TaskStatus.DONE.value, TaskStatus.OVERDUE.value, True),
    "deliverable": ("due_date", "done_date", MilestoneStatus.DONE.value,
                    MilestoneStatus.OVERDUE.value, False),
    "milestone": ("target_date", "actual_date", MilestoneStatus.DONE.value,
                  MilestoneStatus.OVERDUE.value, True),
}
_BLOCKED = TaskStatus.BLOCKED.value
_KNOWN = {"task": {s.value for s in TaskStatus},
          "deliverable": {s.value for s in MilestoneStatus},
          "milestone": {s.value for s in MilestoneStatus}}
_EN = {"task": "Task", "deliverable": "Deliverable", "milestone": "Milestone"}  # singular
_ZH = {k: T.table(k).name for k in TRACKED}


@dataclass(frozen=True, slots=True)
class OverdueItem:
    """One overdue row (used by the RAG rule and cards)."""

    table: str
    record_id: str
    label: str
    planned: date
    days_late: int
    owner: str | None
    ref: RecordRef | None = None


@dataclass(frozen=True, slots=True)
class TrackedRow:
    table: str
    row: Any
    planned: date | None
    actual: date | None
    done: bool


class _Bad:
    """Marker for a date cell that is not a date."""


def as_date(value: Any, policy: Policy) -> date | None | _Bad:
    """A date cell as a date; None when empty; _Bad when unusable (a malformed string, or a year
    outside 2000–2100: 1970-01-01 is a typo, not an item 20,000 days late)."""
    if type(value) is date:  # the usual cell
        return value if FIRST_YEAR <= value.year <= LAST_YEAR else _Bad()
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        d = value.astimezone(policy.tz).date() if value.tzinfo else value.date()
    elif isinstance(value, date):
        d = value
    elif isinstance(value, str):
        try:
            d = date.fromisoformat(value.strip()[:10])
        except ValueError:
            return _Bad()
    else:
        return _Bad()
    return d if FIRST_YEAR <= d.year <= LAST_YEAR else _Bad()


def tracked_rows(snapshot: PlanSnapshot, policy: Policy, out: RuleResult) -> Iterator[TrackedRow]:
    """Every dated row with its planned/actual dates; bad or missing dates become DataProblems."""
    known = {(p.table, p.record_id, p.field) for p in snapshot.problems}
    for table, (p_attr, a_attr, done_value, _, _) in TRACKED.items():
        spec = T.table(table)
        for row in snapshot.rows(table):
            done = row.status == done_value
            raw_planned = getattr(row, p_attr)
            planned = as_date(raw_planned, policy)
            actual = as_date(getattr(row, a_attr), policy)
            if isinstance(planned, _Bad):
                out.problems.append(problem(
                    table, row.record_id, p_attr, raw_planned,
                    f"{spec.field(p_attr).name}不是有效日期（应在 {FIRST_YEAR}–{LAST_YEAR} 年之间）",
                    f"{spec.field(p_attr).en} is not a plausible date ({FIRST_YEAR}–{LAST_YEAR})"))
                planned = None
            elif planned is None and not done and (table, row.record_id, p_attr) not in known:
                out.problems.append(problem(
                    table, row.record_id, p_attr, "",
                    f"缺少{spec.field(p_attr).name}，无法检查是否逾期",
                    f"{spec.field(p_attr).en} is empty; cannot check for overdue"))
            if isinstance(actual, _Bad):
                out.problems.append(problem(
                    table, row.record_id, a_attr, getattr(row, a_attr),
                    f"{spec.field(a_attr).name}不是有效日期（应在 {FIRST_YEAR}–{LAST_YEAR} 年之间）",
                    f"{spec.field(a_attr).en} is not a plausible date ({FIRST_YEAR}–{LAST_YEAR})"))
                actual = None
            if row.status is not None and row.status not in _KNOWN[table]:
                out.problems.append(problem(
                    table, row.record_id, "status", row.status,
                    "未知的状态选项，按未完成处理且不覆盖", "unknown status option; treated as "
                    "not done and left as typed"))
            yield TrackedRow(table, row, planned, actual, done)


def _reopened_status(table: str, row: Any) -> str:
    """The status an item leaves 延期 for when its date moved into the future."""
    if table == "task" and not row.actual_start and not (row.progress or 0) > 0:
        return TaskStatus.NOT_STARTED.value
    return TaskStatus.IN_PROGRESS.value if table == "task" else MilestoneStatus.IN_PROGRESS.value


def own_cells(table: str, row: Any, planned: date | None, actual: date | None, done: bool,
              today: date, service_set: bool) -> tuple[dict[str, Any], bool]:
    """The service's cells of one tracked row as it stands: ({attr: new value}, disagrees).

    Only cells whose value changes are returned. `service_set`: the row's current 延期 was written
    by the service. `disagrees`: a person's 延期 on an item that is not overdue (kept as typed).
    """
    _, _, _, overdue_value, has_variance = TRACKED[table]
    changes: dict[str, Any] = {}
    if done:
        if has_variance and planned is not None and actual is not None:
            variance = (actual - planned).days
            if row.variance_days != variance:
                changes["variance_days"] = variance
        return changes, False
    if planned is None:
        return changes, False
    disagrees = False
    if today <= planned:  # not (or no longer) overdue: end a previous episode
        if row.status == overdue_value:
            if service_set:
                changes["status"] = _reopened_status(table, row)
            else:
                disagrees = True  # the person's 延期: never reverted
        if has_variance and row.variance_days not in (None, 0):
            changes["variance_days"] = None
        return changes, disagrees
    days_late = (today - planned).days
    known = row.status is None or row.status in _KNOWN[table]  # never overwrite a typo
    if known and row.status != overdue_value and not (table == "task" and row.status == _BLOCKED):
        changes["status"] = overdue_value
    if has_variance and row.variance_days != days_late:
        changes["variance_days"] = days_late
    return changes, False


def _disagreement(table: str, row: Any, planned: date,
                  texts: dict[tuple[str, int, date], tuple[str, str, str, str]]) -> Any:
    """A person's 延期 on an item that is not overdue. `texts`: the run's texts by (table, owner,
    date) — a large plan has thousands of these with a few owners and dates, so they share them."""
    owner = getattr(row, "owner", None)
    key = (table, id(owner), planned)
    said = texts.get(key)
    if said is None:
        who = owner.label() if owner is not None else "有人"
        who_en = owner.label() if owner is not None and owner.name else ("The owner" if owner else "Someone")
        p_attr = TRACKED[table][0]
        field_zh, field_en = T.table(table).field(p_attr).name, T.table(table).field(p_attr).en
        day = f"{planned.month:02d}-{planned.day:02d}"
        said = texts[key] = (
            f"{who} 标了延期，但{field_zh}在 {day}（尚未逾期）",
            f"{who_en} set 延期 (overdue), but the {field_en.lower()} is {day} (not overdue yet)",
            f"如确已延期，请把「{field_zh}」改为新的日期；否则请把状态改回进行中",
            f"if it is late, move “{field_en}” to the new date; otherwise set the status back")
    reason, reason_en, fix, fix_en = said
    return problem(table, row.record_id, "status", row.status, reason, reason_en, fix=fix, fix_en=fix_en,
                   label=row_label(table, row))


def check_overdue(snapshot: PlanSnapshot, now: datetime, policy: Policy,
                  calendar: WorkCalendar | None = None, *, rows: list[TrackedRow] | None = None,
                  service_set: frozenset[tuple[str, str]] = frozenset()
                  ) -> tuple[RuleResult, Kept]:
    """Status/variance writes and owner notices for overdue rows; also returns the overdue items
    (`Kept`: per table, how many and the items — under `digest_mode()` the first few of each).

    `rows`: the snapshot's tracked rows when the caller already listed them (their date
    problems are then the caller's to report). `service_set`: (table, record id) of the rows
    whose 延期 the service wrote (see `own_cells`).
    """
    out = RuleResult()
    found = Kept()  # of OverdueItem, per table (a digest run keeps the first few of each)
    texts: dict[tuple[str, int, date], tuple[str, str, str, str]] = {}
    today = local_date(now, policy)
    digest = in_digest()
    digest_notices = keeps_digest_notices()
    for tr in (rows if rows is not None else tracked_rows(snapshot, policy, out)):
        table, row, planned = tr.table, tr.row, tr.planned
        rid = row.record_id
        changes, disagrees = own_cells(table, row, planned, tr.actual, tr.done, today,
                                       (table, rid) in service_set)
        for attr, value in changes.items():
            out.writes.append(make_write(table, rid, attr, value))
        if disagrees and planned is not None:
            out.problems.append(_disagreement(table, row, planned, texts))
        if tr.done or planned is None or today <= planned:
            continue
        days_late = (today - planned).days
        recipients, no_owner = owner_route(snapshot, table, row, out)
        if not found.keeps(table):
            continue  # a digest run past its first few of the table: counted, nothing built
        r = ref(table, row)
        found.append(OverdueItem(table, rid, r.label, planned, days_late,
                                 None if no_owner else recipients[0], r))
        if digest:
            continue  # a digest run keeps no notice
        notice = _overdue_notice(table, r, planned, days_late, today, now, policy, recipients,
                                 no_owner, digest_notices)
        if notice is not None:
            out.notices.append(notice)
    return out, found


def _overdue_notice(table, r, planned: date, days_late: int, today: date, now: datetime,
                    policy: Policy, recipients: list[str], no_owner: bool, digest_notices: bool):
    """The row's notice; None without recipients, or when it is a digest notice and the run keeps
    none (`keeps_digest_notices`)."""
    if not recipients:
        return None
    first_day = today == planned + timedelta(days=1)
    digest = not (first_day or policy.overdue_reminder == "never")
    if digest and not digest_notices:
        return None
    episode = f"overdue:{table}:{r.record_id}:{planned}"
    if not digest:
        key = episode
    elif policy.overdue_reminder == "daily_digest":
        key = f"{episode}:{today.isoformat()}"
    else:  # every_check
        key = f"{episode}:{utc_key(now)}"
    name = _ZH[table]
    day = planned.isoformat()
    flag, flag_en = ("【缺少负责人】", "[No owner] ") if no_owner else ("", "")
    return make_notice(
        kind="overdue", key=key, recipients=recipients, record=r, digest=digest,
        title=f"{flag}逾期：{r.label}",
        text=(f"{flag}{name}「{r.label}」计划于 {day} 完成，已逾期 {days_late} 天，"
              f"请更新状态或调整计划。"),
        text_en=(f"{flag_en}{_EN[table]} \"{r.label}\" was due {day} and is "
                 f"{plural(days_late, 'day')} overdue; please update it or re-plan."),
        data={"planned": day, "days_late": days_late, "reminder": not first_day,
              "no_owner": no_owner},
    )
