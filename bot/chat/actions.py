"""Card button clicks (`card.action.trigger`): write the person's decision back to the Base.

Buttons on overdue/digest cards: 完成 (status done + actual end/完成日期), 进度 (progress), 延期到…
(new planned end, reason appended to 备注). On escalation cards: 确认 (on-call ack:
the level stops repeating until the next level is due), 稍后提醒 (snooze), 已解决 (status 已解决 + 解决日期; the ladder ends).

Every click:
- is parsed by `gtm.bot.cards.button_values.parse_action` (project slug, table, record in the value);
- re-reads that one record first (`Mirror.refresh_records`), so the decision compares against what
  the Base holds now, not a stale mirror;
- is allowed only to the item's owner, the project's PM or management (else a toast, no write);
- is idempotent: a value already in place is not written again (a double click, a redelivered
  callback, two people clicking), and the dispatcher's event-id claim drops exact redeliveries;
  clicks on one record are serialised in-process so two fast clicks cannot both write;
- writes through `gtm.sync.writeback.write_user_action`, then answers a toast and the card with
  that item's controls replaced by its new state (`gtm.bot.cards.factory.after_action` on the card
  from the notification ledger, where the sender stored it, or — for replies — from the message).
"""
from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from gtm.bot.chat.keyed_locks import KeyedLocks
from gtm.schemas.plan import IssueStatus, MilestoneStatus, PlanSnapshot, Record, TaskStatus

log = logging.getLogger(__name__)

DONE = {"task": TaskStatus.DONE.value, "milestone": MilestoneStatus.DONE.value,
        "deliverable": MilestoneStatus.DONE.value}
DONE_DATE = {"task": "actual_end", "milestone": "actual_date", "deliverable": "done_date"}
END_DATE = {"task": "planned_end", "milestone": "target_date", "deliverable": "due_date",
            "dependency": "needed_by"}
NOTE = {"task": "note", "milestone": "note"}
RESOLVED = {"issue": IssueStatus.RESOLVED.value}

# per record / per message, forgotten once released: bounded by the clicks in flight
_record_locks = KeyedLocks()
_message_locks = KeyedLocks()


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
        answer: dict[str, Any] = {"toast": {"type": self.kind, "content": self.text,
                                            "i18n": {"zh_cn": self.text, "en_us": self.text_en or self.text}}}
        if self.card:
            answer["card"] = self.card
        return answer


def _refuse(text: str, text_en: str) -> ActionResult:
    return ActionResult("error", text, text_en)


# -- entry point ----------------------------------------------------------------------------------
def handle_action(runtime: Any, inc: Any, now: datetime) -> ActionResult:
    """Handle one card callback (`Incoming` of kind card_action)."""
    from gtm.bot.cards.button_values import ActionError, parse_action
    from gtm.bot.runtime import ProjectNotFound

    if isinstance(inc.action_value, dict) and inc.action_value.get("a") == "ask":
        return ask_action(runtime, inc, now)
    try:
        act = parse_action(inc.action_value, inc.form_value, inc.action_option or None)
    except ActionError as exc:
        return _refuse(f"无法处理这个按钮：{exc}", f"Cannot handle this button: {exc}")
    try:
        project = runtime.project(act.p)
    except ProjectNotFound as exc:
        return _refuse(str(exc), str(exc))
    with _record_locks.hold((act.p, act.t, act.r)):
        result = _apply(runtime, project, act, inc, now)
    if result.kind != "error" and inc.message_id:
        try:
            result.card = updated_card(runtime, inc.message_id, act, result, inc.open_id, now, project)
        except Exception:  # noqa: BLE001 - the write happened; a card we cannot redraw is cosmetic
            log.exception("could not redraw card %s", inc.message_id)
    return result


def ask_action(runtime: Any, inc: Any, now: datetime) -> ActionResult:
    """A suggestion button ("没听懂" → 状态 / 周报 …, 我的任务 → 查看全部): the clicker's question
    `q` answered in the chat's project (or across the clicker's projects in p2p); the new card
    replaces the one clicked."""
    from gtm.bot.chat.ask import build_context
    from gtm.bot.chat.answers import answer

    question = str(inc.action_value.get("q") or "")[:200]
    if not question:
        return _refuse("按钮缺少问题 q", "The button has no question 'q'")
    project = runtime.project_for_chat(inc.chat_id) if inc.chat_id and not inc.is_p2p else None
    cmd, ctx = build_context(runtime, question, asker=inc.open_id, project=project, now=now,
                             chat_id=inc.chat_id, chat_type=inc.chat_type or "group")
    return ActionResult("info", question, question, card=answer(cmd, ctx))


def _apply(runtime: Any, project: Any, act: Any, inc: Any, now: datetime) -> ActionResult:
    from gtm.bot.chat.ask import snapshot_for

    mirror = runtime.mirror(project)
    snapshot_for(runtime, project, now)  # a mirror never read (or stale) is refreshed first
    try:
        mirror.refresh_records(act.t, [act.r], now)
    except Exception as exc:  # noqa: BLE001 - decide on the mirrored value; the write will tell
        log.warning("could not re-read %s/%s before a click: %s", act.t, act.r, exc)
    snap = mirror.snapshot(now)
    row = find_row(snap, act.t, act.r)
    if row is None:
        return _refuse("这条记录已不存在（可能已被删除）", "This record no longer exists")
    if act.a == "signoff":
        if not may_sign(snap, row, inc.open_id):
            return _refuse("只有这个里程碑的审批人可以验收（没有审批人时由项目经理验收）",
                           "Only the milestone's accountable person (A) may sign it off (the PM when none)")
    elif not may_act(snap, row, inc.open_id):
        return _refuse("只有负责人、项目经理或管理层可以操作这条记录",
                       "Only the owner, the project manager or management may do this")
    handler = _HANDLERS.get(act.a)
    if handler is None:  # pragma: no cover - parse_action only returns known actions
        return _refuse(f"未知操作 {act.a}", f"Unknown action {act.a}")
    result = handler(runtime, project, mirror, act, row, inc.open_id, now)
    person = snap.people().get(inc.open_id)
    result.who = person.name if person and person.name else ""
    return result


def find_row(snap: PlanSnapshot, table: str, record_id: str) -> Record | None:
    return next((r for r in snap.rows(table) if r.record_id == record_id), None)


def owners_of(row: Record) -> set[str]:
    people = set()
    owner = getattr(row, "owner", None)
    if owner is not None:
        people.add(owner.open_id)
    return people


def may_act(snap: PlanSnapshot, row: Record, open_id: str) -> bool:
    """The item's owner, the project's PM or a member of management."""
    if not open_id:
        return False
    allowed = owners_of(row)
    if snap.project.pm:
        allowed.add(snap.project.pm.open_id)
    allowed.update(p.open_id for p in snap.project.management)
    return open_id in allowed


def may_sign(snap: PlanSnapshot, row: Record, open_id: str) -> bool:
    """A milestone's 审批人 (A); the PM when it has none."""
    approvers = {p.open_id for p in getattr(row, "approver", []) if p.open_id}
    if not approvers and snap.project.pm:
        approvers = {snap.project.pm.open_id}
    return bool(open_id) and open_id in approvers


def _write(mirror: Any, act: Any, values: dict[str, Any], actor: str, *, runtime: Any = None,
           project: Any = None, row: Record | None = None, now: datetime | None = None) -> None:
    """Write the person's values plus that record's derived cells, recomputed at once."""
    from gtm.sync.writeback import write_user_action

    derived: dict[str, Any] = {}
    if runtime is not None and row is not None and now is not None:
        derived = derived_cells(runtime, project, act.t, row, values, now)
    write_user_action(mirror, act.t, act.r, {**derived, **values}, actor)
    if "status" in derived:
        from gtm.bot.checks.check import remember_status_writes
        from gtm.schemas.decisions import CellWrite

        remember_status_writes(runtime, project.slug, [CellWrite(table=act.t, record_id=act.r, attr="status",
                                                                 value=derived["status"])], now)


def derived_cells(runtime: Any, project: Any, table: str, row: Record, values: dict[str, Any],
                  now: datetime) -> dict[str, Any]:
    """The service's cells (偏差, a 延期 it set or lifts) of this record after the person's values."""
    from gtm.bot.rules.overdue import TRACKED, as_date, own_cells
    from gtm.sync.store.cells import service_cells

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
                           _local_today(project, now), mine and row.status == overdue_value)
    return {k: v for k, v in changes.items() if k not in values}


def _local_today(project: Any, now: datetime) -> date:
    return now.astimezone(project.policy.tz).date()


# -- the actions ----------------------------------------------------------------------------------
def _done(runtime, project, mirror, act, row, actor, now) -> ActionResult:
    if act.t not in DONE:
        return _refuse("这类记录不能标记完成", "This kind of record cannot be marked done")
    if row.status == DONE[act.t]:
        return ActionResult("info", "已经是完成状态，无需重复操作", "Already done")
    values: dict[str, Any] = {"status": DONE[act.t], DONE_DATE[act.t]: _local_today(project, now)}
    if act.t == "task":
        values["progress"] = 1.0
    _write(mirror, act, values, actor, runtime=runtime, project=project, row=row, now=now)
    return ActionResult("success", "已标记完成，已写回多维表格", "Marked done in the Base", wrote=True)


def _progress(runtime, project, mirror, act, row, actor, now) -> ActionResult:
    if act.t != "task":
        return _refuse("只有任务有进度字段", "Only tasks have a progress field")
    frac = round((act.pct or 0) / 100.0, 4)
    current = row.progress
    if current is not None and abs(current - frac) < 1e-6:
        return ActionResult("info", f"进度已是 {act.pct}%", f"Progress is already {act.pct}%")
    values: dict[str, Any] = {"progress": frac}
    if frac > 0 and row.status == TaskStatus.NOT_STARTED.value:
        values["status"] = TaskStatus.IN_PROGRESS.value
        if row.actual_start is None:
            values["actual_start"] = _local_today(project, now)
    _write(mirror, act, values, actor, runtime=runtime, project=project, row=row, now=now)
    return ActionResult("success", f"进度已更新为 {act.pct}%", f"Progress set to {act.pct}%", wrote=True)


def _postpone(runtime, project, mirror, act, row, actor, now) -> ActionResult:
    attr = END_DATE.get(act.t)
    if attr is None:
        return _refuse("这类记录不能延期", "This kind of record cannot be postponed")
    new = act.new_date
    if getattr(row, attr) == new:
        return ActionResult("info", f"计划日期已是 {new.isoformat()}", f"Already due {new.isoformat()}")
    if new < _local_today(project, now):
        return _refuse(f"新日期 {new.isoformat()} 早于今天", f"The new date {new.isoformat()} is in the past")
    values: dict[str, Any] = {attr: new}
    note_attr = NOTE.get(act.t)
    if note_attr:
        old = getattr(row, attr)
        stamp = now.astimezone(project.policy.tz).strftime("%Y-%m-%d")
        line = (f"[{stamp}] 延期：{old.isoformat() if old else '—'} → {new.isoformat()}"
                + (f"，原因：{act.reason}" if act.reason else ""))
        prev = (getattr(row, note_attr) or "").rstrip()
        values[note_attr] = f"{prev}\n{line}" if prev else line
    _write(mirror, act, values, actor, runtime=runtime, project=project, row=row, now=now)
    return ActionResult("success", f"已延期到 {new.isoformat()}", f"Postponed to {new.isoformat()}", wrote=True)


def _ladder_state(runtime: Any, project: Any, act: Any):
    from gtm.sync.store.ledger import get_states

    with runtime.store.session() as s:
        return get_states(s, project.slug).get((act.t, act.r))


def _ack(runtime, project, mirror, act, row, actor, now) -> ActionResult:
    """On-call ack: the current level stops repeating until the next level falls due."""
    from gtm.bot.rules.calendar import WorkCalendar
    from gtm.bot.rules.escalation import level_deadline
    from gtm.sync.store.ledger import ack

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


def _snooze_until(project: Any, act: Any, now: datetime) -> datetime:
    if act.until is not None:
        start = project.policy.working_hours_start
        return datetime.combine(act.until, start if isinstance(start, time) else time(9), project.policy.tz)
    return now + timedelta(hours=act.h or 4)


def _snooze(runtime, project, mirror, act, row, actor, now) -> ActionResult:
    from gtm.sync.store.ledger import snooze

    until = _snooze_until(project, act, now)
    state = _ladder_state(runtime, project, act)
    if state is not None and state.snoozed_until is not None and state.snoozed_until >= until - timedelta(minutes=5):
        return ActionResult("info", "已设置稍后提醒", "Already snoozed")
    with runtime.store.session() as s:
        snooze(s, project.slug, act.t, act.r, until)
    shown = until.astimezone(project.policy.tz).strftime("%m-%d %H:%M")
    return ActionResult("success", f"好的，{shown} 再提醒", f"OK, reminding again at {shown}", wrote=True,
                        until=until.astimezone(project.policy.tz))


def _resolve(runtime, project, mirror, act, row, actor, now) -> ActionResult:
    from gtm.sync.store.ledger import resolve

    if act.t == "issue":
        if row.status == RESOLVED["issue"]:
            with runtime.store.session() as s:
                resolve(s, project.slug, act.t, act.r)
            return ActionResult("info", "问题已是已解决状态", "Already resolved")
        _write(mirror, act, {"status": RESOLVED["issue"], "resolved_at": now}, actor)
    elif act.t == "task":
        if row.status != TaskStatus.BLOCKED.value:
            with runtime.store.session() as s:
                resolve(s, project.slug, act.t, act.r)
            return ActionResult("info", "任务已不再阻塞", "The task is no longer blocked")
        _write(mirror, act, {"status": TaskStatus.IN_PROGRESS.value}, actor)
    else:
        return _refuse("这类记录不能标记已解决", "This kind of record cannot be resolved")
    with runtime.store.session() as s:
        resolve(s, project.slug, act.t, act.r)
    return ActionResult("success", "已标记解决，升级提醒结束", "Resolved; escalation ended", wrote=True)


def _signoff(runtime, project, mirror, act, row, actor, now) -> ActionResult:
    from gtm.bot.rules.raci import APPROVED, SENT_BACK

    if act.t != "milestone":
        return _refuse("只有里程碑需要验收", "Only milestones are signed off")
    if row.signoff == APPROVED:
        return ActionResult("info", "已经通过验收", "Already signed off")
    if act.ok:
        snap = mirror.snapshot(now)
        unmet = [c.criterion for c in snap.exit_criteria if row.record_id in c.milestone and not c.met]
        if unmet:
            return _refuse("还有未满足的退出标准：" + "；".join(unmet[:5]),
                           "Exit criteria not met yet: " + "; ".join(unmet[:5]))
        values: dict[str, Any] = {"signoff": APPROVED, "signoff_note": act.note,
                                  "status": MilestoneStatus.DONE.value, "actual_date": _local_today(project, now)}
        _write(mirror, act, values, actor)
        return ActionResult("success", "已通过验收，里程碑记为达成", "Signed off: the milestone is reached", wrote=True)
    if not act.note:
        return _refuse("退回请写明原因", "Please give a note when sending it back")
    _write(mirror, act, {"signoff": SENT_BACK, "signoff_note": act.note}, actor)
    return ActionResult("success", "已退回，已通知负责人", "Sent back with your note", wrote=True)


def _cancel(runtime, project, mirror, act, row, actor, now) -> ActionResult:
    return ActionResult("info", "已取消，没有修改任何内容", "Cancelled; nothing was changed")


_HANDLERS = {"task_done": _done, "progress": _progress, "postpone": _postpone, "ack": _ack,
             "snooze": _snooze, "resolve": _resolve, "cancel": _cancel,
             "signoff": _signoff}


# -- the card after the click -------------------------------------------------------------------
def updated_card(runtime: Any, message_id: str, act: Any, result: ActionResult, actor: str,
                 now: datetime, project: Any) -> dict[str, Any] | None:
    """The message's card with this record's controls replaced by its new state
    (`gtm.bot.cards.factory.after_action`); stored back so the next click builds on it."""
    from gtm.bot.cards.factory import after_action

    with _message_locks.hold(message_id):
        row_id, card = _card_of(runtime, message_id)
        if card is None:
            return None
        new = after_action(card, act, result.who or actor, result.until, project.policy.locale)
        if row_id is not None:
            _store_card(runtime, row_id, new)
        return new


def _card_of(runtime: Any, message_id: str) -> tuple[int | None, dict[str, Any] | None]:
    """The card as we sent it: from the notification ledger, else from the message."""
    from sqlalchemy import select

    from gtm.sync.store.ledger import NotificationRow

    with runtime.store.session() as s:
        row = s.scalars(select(NotificationRow).where(NotificationRow.message_id == message_id)).first()
        if row is not None and isinstance(row.payload, dict) and row.payload.get("body"):
            return row.id, copy.deepcopy(row.payload)
    content = runtime.gateway.im.message_content(message_id)
    if content is None:
        return None, None
    try:
        card = json.loads(content)
    except ValueError:
        return None, None
    return None, card if isinstance(card, dict) and "body" in card else None


def _store_card(runtime: Any, row_id: int, card: dict[str, Any]) -> None:
    from gtm.sync.store.ledger import NotificationRow

    with runtime.store.session() as s:
        row = s.get(NotificationRow, row_id)
        if row is not None:
            row.payload = card
