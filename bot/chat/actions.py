"""Card button clicks (`card.action.trigger`): write the person's decision back to the Base.

Buttons on overdue/digest cards: 完成 (status done + actual end/完成日期), 进度 (progress), 延期到…
(new planned end, reason appended to 备注). On escalation cards: 确认 (on-call ack:
the level stops repeating until the next level is due), 稍后提醒 (snooze), 已解决 (status 已解决 + 解决日期; the ladder ends).

Every click:
- is parsed by `gtm.bot.cards.button_values.parse_action` (project slug, table, record in the value);
- re-reads that one record first (`Mirror.refresh_records`), so the decision compares against what
  the Base holds now, not a stale mirror;
- is allowed only to the item's owner, the project's PM or management (`gtm.bot.chat.permissions`;
  else a toast, no write);
- is idempotent: a value already in place is not written again (a double click, a redelivered
  callback, two people clicking), and the dispatcher's event-id claim drops exact redeliveries;
  clicks on one record are serialised in-process so two fast clicks cannot both write;
- is decided and written by the action's handler (`gtm.bot.chat.action_effects`, through
  `gtm.sync.writeback.write_user_action`), then answers a toast and the card with
  that item's controls replaced by its new state (`gtm.bot.cards.factory.after_action` on the card
  from the notification ledger, where the sender stored it, or — for replies — from the message).
"""
from __future__ import annotations

import copy
import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gtm.bot.cards.button_values import Action, ActionError, parse_action
from gtm.bot.cards.factory import after_action
from gtm.bot.chat.action_effects import HANDLERS, ActionResult, refuse
from gtm.bot.chat.answers import answer
from gtm.bot.chat.ask import build_context
from gtm.bot.chat.keyed_locks import KeyedLocks
from gtm.bot.chat.permissions import find_row, may_act, may_sign
from gtm.bot.chat.snapshots import refresh_if_stale
from gtm.bot.chat.transports import Incoming
from gtm.bot.failures import ProjectNotFound
from gtm.bot.runtime import ProjectRuntime, Runtime
from gtm.sync.store.ledger import NotificationRow

log = logging.getLogger(__name__)

# per record / per message, forgotten once released: bounded by the clicks in flight
_record_locks = KeyedLocks()
_message_locks = KeyedLocks()


# -- entry point ----------------------------------------------------------------------------------
def handle_action(runtime: Runtime, inc: Incoming, now: datetime) -> ActionResult:
    """Handle one card callback (`Incoming` of kind card_action)."""
    if isinstance(inc.action_value, dict) and inc.action_value.get("a") == "ask":
        return ask_action(runtime, inc, now)
    try:
        act = parse_action(inc.action_value, inc.form_value, inc.action_option or None)
    except ActionError as exc:
        return refuse(f"无法处理这个按钮：{exc}", f"Cannot handle this button: {exc}")
    try:
        project = runtime.project(act.p)
    except ProjectNotFound as exc:
        return refuse(str(exc), str(exc))
    with _record_locks.hold((act.p, act.t, act.r)):
        result = _apply(runtime, project, act, inc, now)
    if result.kind != "error" and inc.message_id:
        try:
            result.card = updated_card(runtime, inc.message_id, act, result, inc.open_id, now, project)
        except Exception:  # noqa: BLE001 - the write happened; a card we cannot redraw is cosmetic
            log.exception("could not redraw card %s", inc.message_id)
    return result


def ask_action(runtime: Runtime, inc: Incoming, now: datetime) -> ActionResult:
    """A suggestion button ("没听懂" → 状态 / 周报 …, 我的任务 → 查看全部): the clicker's question
    `q` answered in the chat's project (or across the clicker's projects in p2p); the new card
    replaces the one clicked."""
    question = str(inc.action_value.get("q") or "")[:200]
    if not question:
        return refuse("按钮缺少问题 q", "The button has no question 'q'")
    project = runtime.project_for_chat(inc.chat_id) if inc.chat_id and not inc.is_p2p else None
    cmd, ctx = build_context(runtime, question, asker=inc.open_id, project=project, now=now,
                             chat_id=inc.chat_id, chat_type=inc.chat_type or "group")
    return ActionResult("info", question, question, card=answer(cmd, ctx))


def _apply(runtime: Runtime, project: ProjectRuntime, act: Action, inc: Incoming, now: datetime) -> ActionResult:
    mirror = runtime.mirror(project)
    refresh_if_stale(runtime, project, now)  # a mirror never read (or stale) is refreshed first
    try:
        mirror.refresh_records(act.t, [act.r], now)
    except Exception as exc:  # noqa: BLE001 - decide on the mirrored value; the write will tell
        log.warning("could not re-read %s/%s before a click: %s", act.t, act.r, exc)
    snap = mirror.snapshot(now)
    row = find_row(snap, act.t, act.r)
    if row is None:
        return refuse("这条记录已不存在（可能已被删除）", "This record no longer exists")
    if act.a == "signoff":
        if not may_sign(snap, row, inc.open_id):
            return refuse("只有这个里程碑的审批人可以验收（没有审批人时由项目经理验收）",
                           "Only the milestone's accountable person (A) may sign it off (the PM when none)")
    elif not may_act(snap, row, inc.open_id):
        return refuse("只有负责人、项目经理或管理层可以操作这条记录",
                       "Only the owner, the project manager or management may do this")
    handler = HANDLERS.get(act.a)
    if handler is None:  # pragma: no cover - parse_action only returns known actions
        return refuse(f"未知操作 {act.a}", f"Unknown action {act.a}")
    result = handler(runtime, project, mirror, act, row, inc.open_id, now)
    person = snap.people().get(inc.open_id)
    result.who = person.name if person and person.name else ""
    return result


# -- the card after the click -------------------------------------------------------------------
def updated_card(runtime: Runtime, message_id: str, act: Action, result: ActionResult, actor: str,
                 now: datetime, project: ProjectRuntime) -> dict[str, Any] | None:
    """The message's card with this record's controls replaced by its new state
    (`gtm.bot.cards.factory.after_action`); stored back so the next click builds on it."""
    with _message_locks.hold(message_id):
        row_id, card = _card_of(runtime, message_id)
        if card is None:
            return None
        new = after_action(card, act, result.who or actor, result.until, project.policy.locale)
        if row_id is not None:
            _store_card(runtime, row_id, new)
        return new


def _card_of(runtime: Runtime, message_id: str) -> tuple[int | None, dict[str, Any] | None]:
    """The card as we sent it: from the notification ledger, else from the message."""
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


def _store_card(runtime: Runtime, row_id: int, card: dict[str, Any]) -> None:
    with runtime.store.session() as s:
        row = s.get(NotificationRow, row_id)
        if row is not None:
            row.payload = card
