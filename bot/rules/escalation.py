"""Escalation ladder for 问题 (not 已解决) and 阻塞 tasks (docs/seeds/002 §2.4 问题升级机制).

Level 0 团队 (the team handles it, nobody is paged) → level 1 项目经理 once the item is unresolved
for more than Policy.escalation_days[0] days (default 3) → level 2 管理层 after more than
escalation_days[1] (7). "More than": exactly 3 days is still level 0, 3 days + 1 minute is level 1.
Days are calendar or working days (Policy.escalation_day_count, see WorkCalendar.deadline).
More thresholds give more levels; the last level maps to 管理层, the ones in between to 项目经理.

Measured from: an issue's 提出日期; a blocked task's `modified_at` when the ladder first saw it
阻塞 (Feishu keeps no status history; the modified time of the record at that moment is the best
available signal), then kept in EscalationState.since so later edits do not restart the clock.

On-call (PagerDuty-like) semantics over the stored EscalationState:
- each level notifies once when it falls due (level 1 → PM, last level → every 管理层 person);
  levels skipped between runs are all notified, each with its own key;
- unacknowledged, the current level is **repeated** every `Policy.escalation_repeat_after_days`
  (default 1, counted in `escalation_repeat_day_count`, default working days) until it is
  acknowledged, resolved or escalated (keys `…:L1:repeat1`, `…:repeat2` …);
- an ack silences that level (no more repeats) until the next level falls due, which then
  notifies as usual (and repeats until acked in turn); an ack of the last level silences it until
  resolved. `acked_until` holds the next level's deadline for the card;
- a snooze silences everything until `snoozed_until`, then the due level is notified (a new level,
  or the current one once more, key `…:snooze:<time>`) and repeats resume;
- resolved (issue 已解决 / task no longer 阻塞) ends it: state resolved, no notice. A reopened
  record starts a fresh state; notices already sent for the same start are not repeated (keys).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gtm.bot.rules import (
    RuleResult,
    management_ids,
    make_notice,
    make_state,
    make_write,
    pm_ids,
    problem,
    ref,
    require_aware,
    utc_key,
)
from gtm.bot.catalogue import days_phrase, working_days_phrase
from gtm.bot.rules.calendar import WorkCalendar
from gtm.schemas import tables as T
from gtm.schemas.decisions import EscalationState, RecordRef
from gtm.schemas.plan import EscalationLevel, IssueStatus, PlanSnapshot, TaskStatus
from gtm.schemas.settings import Policy

_RESOLVED = IssueStatus.RESOLVED.value
_ISSUE_VALUES = {s.value for s in IssueStatus}
_BLOCKED = TaskStatus.BLOCKED.value


@dataclass(frozen=True, slots=True)
class LadderItem:
    """An open escalation (issue or blocked task) with its current ladder level."""

    table: str
    record_id: str
    label: str
    level: int  # highest level notified (what 升级级别 shows)
    due_level: int  # the level elapsed time alone gives (ignores acks/snoozes)
    cell: str  # EscalationLevel value of `level`
    since: datetime


def level_cell(level: int, n_levels: int) -> str:
    """The 升级级别 option for a ladder level (0 团队, last 管理层, in between 项目经理)."""
    if level <= 0:
        return EscalationLevel.TEAM.value
    if level >= n_levels:
        return EscalationLevel.MANAGEMENT.value
    return EscalationLevel.PM.value


def due_level(since: datetime, now: datetime, policy: Policy, cal: WorkCalendar,
              now_ts: float | None = None) -> int:
    """How many thresholds have been strictly exceeded between `since` and `now`."""
    now_ts = now.timestamp() if now_ts is None else now_ts
    level = 0
    for days in policy.escalation_days:
        if now_ts > cal.deadline(since, days, policy.escalation_day_count).timestamp():
            level += 1
        else:
            break
    return level


def _aware(value: datetime, policy: Policy) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=policy.tz)


def check_escalations(snapshot: PlanSnapshot, now: datetime, policy: Policy,
                      states: dict[tuple[str, str], EscalationState],
                      calendar: WorkCalendar | None = None
                      ) -> tuple[RuleResult, list[LadderItem]]:
    """Walk the ladder for every open issue and blocked task; return notices, states, open items."""
    require_aware(now)
    cal = calendar or WorkCalendar(policy)
    out = RuleResult()
    items: list[LadderItem] = []
    known = {(p.table, p.record_id, p.field) for p in snapshot.problems}

    for issue in snapshot.issues:
        state = states.get(("issue", issue.record_id))
        if issue.status is not None and issue.status not in _ISSUE_VALUES:
            out.problems.append(problem("issue", issue.record_id, "status", issue.status,
                                        "未知的问题状态，按未解决处理",
                                        "unknown issue status; treated as unresolved"))
        if issue.status == _RESOLVED:
            _close(state, out)
            continue
        since = issue.raised_at
        if since is None:
            if ("issue", issue.record_id, "raised_at") not in known:
                out.problems.append(problem("issue", issue.record_id, "raised_at", "",
                                            "缺少提出日期，升级计时改从记录修改时间起算",
                                            "raised-at is empty; the ladder counts from the "
                                            "record's last modification instead"))
            since = (state.since if state and state.since else None) or issue.modified_at
            if since is None:
                continue
        item = _step("issue", issue, _aware(since, policy), state, snapshot, now, policy, cal, out)
        items.append(item)
        if issue.level != item.cell:
            out.writes.append(make_write("issue", issue.record_id, "level", item.cell))

    # by record id, the task states the store has (a few: only tasks that were ever blocked), so
    # the 10^5 tasks that are not blocked cost a status compare and, when some state exists, one lookup
    task_states = {rid: st for (table, rid), st in states.items() if table == "task"}
    for task in snapshot.tasks:
        if task.status != _BLOCKED:
            if task_states:
                _close(task_states.get(task.record_id), out)
            continue
        state = task_states.get(task.record_id)
        if state is not None and not state.resolved and state.since is not None:
            since = state.since
        else:
            since = task.modified_at or now  # first seen blocked: best available signal
        items.append(_step("task", task, _aware(since, policy), state, snapshot, now, policy,
                           cal, out))
    return out, items


def _close(state: EscalationState | None, out: RuleResult) -> None:
    if state is not None and not state.resolved:
        out.escalations.append(state.model_copy(update={"resolved": True, "acked_until": None,
                                                        "snoozed_until": None}))


def level_deadline(since: datetime, level: int, policy: Policy, cal: WorkCalendar) -> datetime | None:
    """When `level` falls due (None past the last level)."""
    if level < 1 or level > len(policy.escalation_days):
        return None
    return cal.deadline(since, policy.escalation_days[level - 1], policy.escalation_day_count)


def _step(table: str, row: Any, since: datetime, state: EscalationState | None,
          snapshot: PlanSnapshot, now: datetime, policy: Policy, cal: WorkCalendar,
          out: RuleResult) -> LadderItem:
    n = len(policy.escalation_days)
    live = state is not None and not state.resolved
    level = state.level if live else 0
    acked_level = state.acked_level if live else 0
    acked_until = state.acked_until if live else None
    notified_at = state.notified_at if live else None
    repeats = state.repeats if live else 0
    snoozed = state.snoozed_until if live else None
    now_ts = now.timestamp()
    target = due_level(since, now, policy, cal, now_ts)
    age = open_days(since, now, policy, cal)
    r = ref(table, row)
    if acked_until is not None and acked_level < level and now_ts < acked_until.timestamp():
        acked_level = level  # an ack stored before on-call semantics: it silenced this level
    paused = snoozed is not None and now_ts < snoozed.timestamp()
    if not paused:
        if target > level:
            for lvl in range(level + 1, target + 1):
                _notify(table, r, lvl, n, since, snapshot, policy, out, suffix=None, age=age)
            level, notified_at, repeats = target, now, 0
            acked_until = None
        elif snoozed is not None and level > 0:
            _notify(table, r, level, n, since, snapshot, policy, out, suffix=f"snooze:{utc_key(snoozed)}",
                    age=age)
            notified_at, repeats = now, 0
        elif level > 0 and acked_level < level and policy.escalation_repeat_after_days > 0:
            base = notified_at or level_deadline(since, level, policy, cal) or since
            due = cal.deadline(base, policy.escalation_repeat_after_days, policy.escalation_repeat_day_count)
            if now_ts >= due.timestamp():
                repeats += 1
                _notify(table, r, level, n, since, snapshot, policy, out, suffix=f"repeat{repeats}",
                        repeat=repeats, age=age)
                notified_at = now
        snoozed = None
    new = make_state(table=table, record_id=row.record_id, level=level, acked_until=acked_until,
                     snoozed_until=snoozed, resolved=False, since=since, acked_level=acked_level,
                     notified_at=notified_at, repeats=repeats)
    if state is None or state != new:
        out.escalations.append(new)
    return LadderItem(table, row.record_id, r.label, level, target, level_cell(level, n), since)


def open_days(since: datetime, now: datetime, policy: Policy, cal: WorkCalendar) -> int:
    """How long something has been open, in the unit the ladder counts (working or calendar
    days, `Policy.escalation_day_count`), whole days between the local dates."""
    return max(0, cal.days_between(since.astimezone(policy.tz).date(), now.astimezone(policy.tz).date(),
                                   policy.escalation_day_count))


def _notify(table: str, r: RecordRef, level: int, n: int, since: datetime,
            snapshot: PlanSnapshot, policy: Policy, out: RuleResult, suffix: str | None,
            repeat: int = 0, age: int = 0) -> None:
    cell = level_cell(level, n)
    if cell == EscalationLevel.MANAGEMENT.value:
        recipients = management_ids(snapshot)
        if not recipients:
            out.problems.append(problem("project", snapshot.project.record_id or "project",
                                        "management", "", "管理层为空，升级改发给项目负责人",
                                        "no management listed; escalation goes to the PM"))
            recipients = pm_ids(snapshot)
    else:
        recipients = pm_ids(snapshot)
        if not recipients:
            out.problems.append(problem("project", snapshot.project.record_id or "project", "pm",
                                        "", "项目负责人为空，无法升级", "no project manager; "
                                        "cannot escalate"))
    if not recipients:
        return
    days = policy.escalation_days[level - 1]
    phrase = working_days_phrase if policy.escalation_day_count == "working" else days_phrase
    what, what_en = (("阻塞任务", "Blocked task") if table == "task" else ("问题", "Issue"))
    role_en = EscalationLevel(cell).en
    since_local = since.astimezone(policy.tz).strftime("%Y-%m-%d %H:%M")
    every = policy.escalation_repeat_after_days
    every_phrase = working_days_phrase if policy.escalation_repeat_day_count == "working" else days_phrase
    if repeat:
        again = f"（第 {repeat + 1} 次提醒：尚未确认）"
        again_en = f" (reminder {repeat + 1}: not acknowledged yet)"
    elif suffix:
        again, again_en = "（稍后提醒时间已到，再次提醒）", " (snooze over, reminding again)"
    else:
        again, again_en = "", ""
    ladder = (f"未确认前每 {every_phrase(every).zh}重复提醒；确认后本级不再重复，到下一级时限仍未解决则继续升级。"
              if every > 0 else "")
    ladder_en = (f" Repeated every {every_phrase(every).en} until acknowledged; an ack silences this level "
                 "until the next one is due." if every > 0 else "")
    key = f"escalation:{table}:{r.record_id}:{utc_key(since)}:L{level}"
    out.notices.append(make_notice(
        kind="escalation", key=f"{key}:{suffix}" if suffix else key, recipients=recipients,
        record=r, level=level, digest=False,
        title=f"升级至{cell}：{r.label}{again}",
        text=(f"{what}「{r.label}」自 {since_local} 起已 {phrase(max(age, days)).zh}未解决"
              f"（超过 {phrase(days).zh}即上报{cell}）{again}。请确认处理。{ladder}"),
        text_en=(f"{what_en} \"{r.label}\" has been unresolved for {phrase(max(age, days)).en} "
                 f"since {since_local} (more than {phrase(days).en}: escalated to {role_en}){again_en}.{ladder_en}"),
        data={"since": since.isoformat(), "level_name": cell, "threshold_days": days, "open_days": age,
              "day_count": policy.escalation_day_count, "table_name": T.table(table).name,
              "renotify": bool(suffix), "repeat": repeat},
    ))
