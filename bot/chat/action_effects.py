"""What each card button does: the handlers behind 完成 / 进度 / 延期到… / 确认 / 稍后提醒 /
已解决 / 验收 / 取消, and the write of a person's values with the cells the service derives.

`gtm.bot.chat.actions` parses the click, re-reads the record and checks who may act; the handler
named by the action (`HANDLERS`) then decides against the record as the Base holds it and writes
through `gtm.sync.writeback.write_user_action` (or the escalation ladder in the store). A value
already in place is not written again.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from gtm.bot.cards.button_values import (
    Ack,
    Action,
    Cancel,
    Postpone,
    Progress,
    Resolve,
    Signoff,
    Snooze,
    TaskDone,
)
from gtm.bot.checks.check import remember_status_writes
from gtm.bot.rules import local_date
from gtm.bot.rules.calendar import WorkCalendar
from gtm.bot.rules.escalation import level_deadline
from gtm.bot.rules.overdue import TRACKED, as_date, own_cells
from gtm.bot.rules.raci import APPROVED, SENT_BACK
from gtm.bot.runtime import ProjectRuntime, Runtime
from gtm.schemas.decisions import CellWrite, EscalationState
from gtm.schemas.plan import IssueStatus, MilestoneStatus, Record, TaskStatus
from gtm.sync.mirror import Mirror
from gtm.sync.store.cells import service_cells
from gtm.sync.store.ledger import ack, get_states, resolve, snooze
from gtm.sync.writeback import write_user_action

DONE = {"task": TaskStatus.DONE.value, "milestone": MilestoneStatus.DONE.value,
        "deliverable": MilestoneStatus.DONE.value}
DONE_DATE = {"task": "actual_end", "milestone": "actual_date", "deliverable": "done_date"}
END_DATE = {"task": "planned_end", "milestone": "target_date", "deliverable": "due_date",
            "dependency": "needed_by"}
NOTE = {"task": "note", "milestone": "note"}
RESOLVED = {"issue": IssueStatus.RESOLVED.value}


@dataclass
class ActionResult:
    """What a click produced: a toast, maybe the new card, and whether the Base was written."""

    kind: str  # toast type: success | info | warning | error
    text: str
    text_en: str = ""
    card: dict[str, Any] | None = None
    wrote: bool = False
    who: str = ""  # the clicker's display name (for the card's state line)
    until: datetime | None = None  # ack / snooze: when the ladder wakes up again

    def callback_answer(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"toast": toast(self.kind, self.text, self.text_en or self.text)}
        if self.card:
            answer["card"] = self.card
        return answer


def toast(kind: str, zh: str, en: str = "") -> dict[str, Any]:
    """The toast of a card-callback answer (`kind`: success | info | warning | error)."""
    t: dict[str, Any] = {"type": kind, "content": zh}
    if en:
        t["i18n"] = {"zh_cn": zh, "en_us": en}
    return t


def refuse(text: str, text_en: str) -> ActionResult:
    return ActionResult("error", text, text_en)


def write(mirror: Mirror, act: Action, values: dict[str, Any], actor: str, *, runtime: Runtime | None = None,
          project: ProjectRuntime | None = None, row: Record | None = None, now: datetime | None = None) -> None:
    """Write the person's values plus that record's derived cells, recomputed at once."""
    derived: dict[str, Any] = {}
    if runtime is not None and project is not None and row is not None and now is not None:
        derived = derived_cells(runtime, project, act.t, row, values, now)
    write_user_action(mirror, act.t, act.r, {**derived, **values}, actor)
    if "status" in derived and runtime is not None and project is not None and now is not None:
        remember_status_writes(runtime, project.slug, [CellWrite(table=act.t, record_id=act.r, attr="status",
                                                                 value=derived["status"])], now)


def derived_cells(runtime: Runtime, project: ProjectRuntime, table: str, row: Record, values: dict[str, Any],
                  now: datetime) -> dict[str, Any]:
    """The service's cells (偏差, a 延期 it set or lifts) of this record after the person's values."""
    if table not in TRACKED:
        return {}
    p_attr, a_attr, done_value, overdue_value, _ = TRACKED[table]
    after = row.model_copy(update=values)
    planned, actual = as_date(getattr(after, p_attr), project.policy), as_date(getattr(after, a_attr), project.policy)
    planned = planned if isinstance(planned, date) else None
    actual = actual if isinstance(actual, date) else None
    with runtime.store.session() as s:
        mine = service_cells(s, project.slug).get((table, row.record_id, "status")) == overdue_value
    changes, _ = own_cells(table, after, planned, actual, after.status == done_value,
                           local_date(now, project.policy), mine and row.status == overdue_value)
    return {k: v for k, v in changes.items() if k not in values}


# -- the actions ----------------------------------------------------------------------------------
def _done(runtime: Runtime, project: ProjectRuntime, mirror: Mirror, act: TaskDone, row: Record, actor: str,
          now: datetime) -> ActionResult:
    if act.t not in DONE:
        return refuse("这类记录不能标记完成", "This kind of record cannot be marked done")
    if row.status == DONE[act.t]:
        return ActionResult("info", "已经是完成状态，无需重复操作", "Already done")
    values: dict[str, Any] = {"status": DONE[act.t], DONE_DATE[act.t]: local_date(now, project.policy)}
    if act.t == "task":
        values["progress"] = 1.0
    write(mirror, act, values, actor, runtime=runtime, project=project, row=row, now=now)
    return ActionResult("success", "已标记完成，已写回多维表格", "Marked done in the Base", wrote=True)


def _progress(runtime: Runtime, project: ProjectRuntime, mirror: Mirror, act: Progress, row: Record, actor: str,
              now: datetime) -> ActionResult:
    if act.t != "task":
        return refuse("只有任务有进度字段", "Only tasks have a progress field")
    frac = round((act.pct or 0) / 100.0, 4)
    current = row.progress
    if current is not None and abs(current - frac) < 1e-6:
        return ActionResult("info", f"进度已是 {act.pct}%", f"Progress is already {act.pct}%")
    values: dict[str, Any] = {"progress": frac}
    if frac > 0 and row.status == TaskStatus.NOT_STARTED.value:
        values["status"] = TaskStatus.IN_PROGRESS.value
        if row.actual_start is None:
            values["actual_start"] = local_date(now, project.policy)
    write(mirror, act, values, actor, runtime=runtime, project=project, row=row, now=now)
    return ActionResult("success", f"进度已更新为 {act.pct}%", f"Progress set to {act.pct}%", wrote=True)


def _postpone(runtime: Runtime, project: ProjectRuntime, mirror: Mirror, act: Postpone, row: Record, actor: str,
              now: datetime) -> ActionResult:
    attr = END_DATE.get(act.t)
    if attr is None:
        return refuse("这类记录不能延期", "This kind of record cannot be postponed")
    new = act.new_date
    if getattr(row, attr) == new:
        return ActionResult("info", f"计划日期已是 {new.isoformat()}", f"Already due {new.isoformat()}")
    if new < local_date(now, project.policy):
        return refuse(f"新日期 {new.isoformat()} 早于今天", f"The new date {new.isoformat()} is in the past")
    values: dict[str, Any] = {attr: new}
    note_attr = NOTE.get(act.t)
    if note_attr:
        old = getattr(row, attr)
        stamp = now.astimezone(project.policy.tz).strftime("%Y-%m-%d")
        line = (f"[{stamp}] 延期：{old.isoformat() if old else '—'} → {new.isoformat()}"
                + (f"，原因：{act.reason}" if act.reason else ""))
        prev = (getattr(row, note_attr) or "").rstrip()
        values[note_attr] = f"{prev}\n{line}" if prev else line
    write(mirror, act, values, actor, runtime=runtime, project=project, row=row, now=now)
    return ActionResult("success", f"已延期到 {new.isoformat()}", f"Postponed to {new.isoformat()}", wrote=True)


def _ladder_state(runtime: Runtime, project: ProjectRuntime, act: Action) -> EscalationState | None:
    with runtime.store.session() as s:
        return get_states(s, project.slug).get((act.t, act.r))


def _ack(runtime: Runtime, project: ProjectRuntime, mirror: Mirror, act: Ack, row: Record, actor: str,
         now: datetime) -> ActionResult:
    """On-call ack: the current level stops repeating until the next level falls due."""
    state = _ladder_state(runtime, project, act)
    level = max(state.level if state is not None and not state.resolved else 0, act.l or 0)  # the card's level
    tz = project.policy.tz
    if state is not None and level and state.acked_level >= level:
        return ActionResult("info", "已确认过，本级不再重复提醒", "Already acknowledged",
                            until=state.acked_until.astimezone(tz) if state.acked_until else None)
    until = None
    if state is not None and state.since is not None:
        until = level_deadline(state.since, level + 1, project.policy, WorkCalendar(project.policy))
    with runtime.store.session() as s:
        ack(s, project.slug, act.t, act.r, until, level)
    if until is None:
        return ActionResult("success", "已确认：不再重复提醒，直到解决", "Acknowledged: no more reminders until resolved",
                            wrote=True)
    shown = until.astimezone(tz).strftime("%m-%d %H:%M")
    return ActionResult("success", f"已确认：本级不再重复提醒；{shown} 前仍未解决将升级至下一级",
                        f"Acknowledged: no more repeats at this level; escalates further at {shown} if unresolved",
                        wrote=True, until=until.astimezone(tz))


def _snooze_until(project: ProjectRuntime, act: Snooze, now: datetime) -> datetime:
    if act.until is not None:
        start = project.policy.working_hours_start
        return datetime.combine(act.until, start if isinstance(start, time) else time(9), project.policy.tz)
    return now + timedelta(hours=act.h or 4)


def _snooze(runtime: Runtime, project: ProjectRuntime, mirror: Mirror, act: Snooze, row: Record, actor: str,
            now: datetime) -> ActionResult:
    until = _snooze_until(project, act, now)
    state = _ladder_state(runtime, project, act)
    if state is not None and state.snoozed_until is not None and state.snoozed_until >= until - timedelta(minutes=5):
        return ActionResult("info", "已设置稍后提醒", "Already snoozed")
    with runtime.store.session() as s:
        snooze(s, project.slug, act.t, act.r, until)
    shown = until.astimezone(project.policy.tz).strftime("%m-%d %H:%M")
    return ActionResult("success", f"好的，{shown} 再提醒", f"OK, reminding again at {shown}", wrote=True,
                        until=until.astimezone(project.policy.tz))


def _resolve(runtime: Runtime, project: ProjectRuntime, mirror: Mirror, act: Resolve, row: Record, actor: str,
             now: datetime) -> ActionResult:
    if act.t == "issue":
        if row.status == RESOLVED["issue"]:
            with runtime.store.session() as s:
                resolve(s, project.slug, act.t, act.r)
            return ActionResult("info", "问题已是已解决状态", "Already resolved")
        write(mirror, act, {"status": RESOLVED["issue"], "resolved_at": now}, actor)
    elif act.t == "task":
        if row.status != TaskStatus.BLOCKED.value:
            with runtime.store.session() as s:
                resolve(s, project.slug, act.t, act.r)
            return ActionResult("info", "任务已不再阻塞", "The task is no longer blocked")
        write(mirror, act, {"status": TaskStatus.IN_PROGRESS.value}, actor)
    else:
        return refuse("这类记录不能标记已解决", "This kind of record cannot be resolved")
    with runtime.store.session() as s:
        resolve(s, project.slug, act.t, act.r)
    return ActionResult("success", "已标记解决，升级提醒结束", "Resolved; escalation ended", wrote=True)


def _signoff(runtime: Runtime, project: ProjectRuntime, mirror: Mirror, act: Signoff, row: Record, actor: str,
             now: datetime) -> ActionResult:
    if act.t != "milestone":
        return refuse("只有里程碑需要验收", "Only milestones are signed off")
    if row.signoff == APPROVED:
        return ActionResult("info", "已经通过验收", "Already signed off")
    if act.ok:
        snap = mirror.snapshot(now)
        unmet = [c.criterion for c in snap.exit_criteria if row.record_id in c.milestone and not c.met]
        if unmet:
            return refuse("还有未满足的退出标准：" + "；".join(unmet[:5]),
                           "Exit criteria not met yet: " + "; ".join(unmet[:5]))
        values: dict[str, Any] = {"signoff": APPROVED, "signoff_note": act.note,
                                  "status": MilestoneStatus.DONE.value, "actual_date": local_date(now, project.policy)}
        write(mirror, act, values, actor)
        return ActionResult("success", "已通过验收，里程碑记为达成", "Signed off: the milestone is reached", wrote=True)
    if not act.note:
        return refuse("退回请写明原因", "Please give a note when sending it back")
    write(mirror, act, {"signoff": SENT_BACK, "signoff_note": act.note}, actor)
    return ActionResult("success", "已退回，已通知负责人", "Sent back with your note", wrote=True)


def _cancel(runtime: Runtime, project: ProjectRuntime, mirror: Mirror, act: Cancel, row: Record, actor: str,
            now: datetime) -> ActionResult:
    return ActionResult("info", "已取消，没有修改任何内容", "Cancelled; nothing was changed")


HANDLERS: dict[str, Callable[..., ActionResult]] = {"task_done": _done, "progress": _progress, "postpone": _postpone, "ack": _ack,
             "snooze": _snooze, "resolve": _resolve, "cancel": _cancel,
             "signoff": _signoff}
