"""What arrives from Feishu, in one shape, whatever the transport.

Both transports (long connection: `longconn.py`; webhook: `webhook.py`) only *translate*: they turn
lark-oapi's typed events into one `Incoming` and hand it to `Dispatcher.dispatch`, which answers a
dict (a card-action callback answer) or None. All policy (dedup, routing, permissions) lives in the
dispatcher, so the two transports cannot drift apart.

Mention handling uses `lark_oapi.channel.normalize.mentions` (`extract_mentions` +
`resolve_mentions`): small pure functions that index `mentions[]`, detect the bot's own mention by
open_id and strip its `@_user_N` placeholder while turning the others into `@名字`. We do NOT use
the channel's `SeenCache` for dedup (in-memory, and its has+add is not atomic across processes —
its own docstring says so); dedup is `claim_event` in our store, which survives a restart and is
atomic across replicas. Nor its `PolicyGate`: our policy is "configured project chats + own tenant",
which needs the project registry.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import lark_oapi as lark
from lark_oapi.api.drive.v1 import P2DriveFileBitableRecordChangedV1
from lark_oapi.api.im.v1 import P2ImMessageReceiveV1
from lark_oapi.channel.normalize.mentions import extract_mentions, resolve_mentions
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    CallBackCard,
    CallBackToast,
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)

_LEADING_PLACEHOLDERS = re.compile(r"^(?:\s*@_user_\d+)+\s*")

Kind = Literal["message", "card_action", "record_changed"]


@dataclass
class Incoming:
    """One event or callback, transport-independent. `raw` keeps the decoded envelope."""

    kind: Kind
    event_id: str
    app_id: str = ""
    tenant_key: str = ""  # the tenant the app is installed in (header)
    chat_id: str = ""
    chat_type: str = ""  # "p2p" | "group" ("" for record changes)
    open_id: str = ""  # the sender / clicker
    sender_tenant_key: str = ""  # the sender's own tenant (external users differ)
    text: str = ""  # mentions resolved, the bot's own mention stripped
    mentioned_bot: bool = False
    mentions: list[str] = field(default_factory=list)  # open_ids mentioned (bot excluded)
    message_id: str = ""
    message_type: str = ""
    # card actions
    action_value: dict[str, Any] = field(default_factory=dict)
    form_value: dict[str, Any] = field(default_factory=dict)
    action_tag: str = ""
    action_option: str = ""  # a picker's chosen value (date_picker: "2025-01-31 +0800")
    callback_token: str = ""  # c-… token for the delayed card update
    # record changes
    file_token: str = ""
    table_id: str = ""
    record_ids: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def is_p2p(self) -> bool:
        return self.chat_type == "p2p"


def _raw(obj: Any) -> dict[str, Any]:
    try:
        return json.loads(lark.JSON.marshal(obj))
    except Exception:  # noqa: BLE001 - raw is for logs only
        return {}


def _text_of(message_type: str, content: str) -> str:
    """Plain text of a received text or post message (post: text and at nodes, no wrapper)."""
    try:
        body = json.loads(content or "{}")
    except ValueError:
        return ""
    if message_type == "text":
        return str(body.get("text", ""))
    if message_type == "post":
        post = body.get("content") if "content" in body else next(iter(body.values()), {}).get("content", [])
        parts: list[str] = []
        for line in post or []:
            for node in line:
                if node.get("tag") == "text":
                    parts.append(node.get("text", ""))
                elif node.get("tag") == "at":
                    parts.append("@" + (node.get("user_name") or node.get("user_id") or ""))
            parts.append("\n")
        title = body.get("title") or ""
        return (title + "\n" if title else "") + "".join(parts).strip()
    return ""


def message_incoming(data: P2ImMessageReceiveV1, bot_open_id: str | None = None) -> Incoming:
    """From `P2ImMessageReceiveV1` (typed SDK object)."""
    header, ev = data.header, data.event
    msg, sender = ev.message, ev.sender
    raw_mentions = _raw_list(msg.mentions)
    ext = extract_mentions(raw_mentions, bot_open_id)
    text = _text_of(msg.message_type or "", msg.content or "")
    if not bot_open_id and raw_mentions:
        # The bot's id is unknown (no /bot/v3/info): a group delivery means we were @-mentioned
        # (Feishu's default), and the mention addressed to us leads the text: drop leading ones.
        text = _LEADING_PLACEHOLDERS.sub("", text)
        ext.mentioned_bot = True
    text = resolve_mentions(text, ext, strip_bot_mentions=True, bot_open_id=bot_open_id)
    sender_id = sender.sender_id if sender else None
    return Incoming(
        kind="message", event_id=header.event_id or "", app_id=header.app_id or "",
        tenant_key=header.tenant_key or "", chat_id=msg.chat_id or "", chat_type=msg.chat_type or "",
        open_id=(sender_id.open_id if sender_id else "") or "",
        sender_tenant_key=(sender.tenant_key if sender else "") or "",
        text=text.strip(), mentioned_bot=ext.mentioned_bot,
        mentions=[m.open_id for m in ext.mention_list if m.open_id],
        message_id=msg.message_id or "", message_type=msg.message_type or "", raw=_raw(data),
    )


def _raw_list(items: Any) -> list[dict[str, Any]]:
    return [json.loads(lark.JSON.marshal(m)) for m in (items or [])]


def card_incoming(data: P2CardActionTrigger) -> Incoming:
    """From `P2CardActionTrigger` (the schema-2.0 card callback)."""
    header, ev = data.header, data.event
    op = ev.operator
    action = ev.action
    ctx = ev.context
    return Incoming(
        kind="card_action", event_id=header.event_id or "", app_id=header.app_id or "",
        tenant_key=header.tenant_key or "", chat_id=(ctx.open_chat_id if ctx else "") or "",
        open_id=(op.open_id if op else "") or "", sender_tenant_key=(op.tenant_key if op else "") or "",
        message_id=(ctx.open_message_id if ctx else "") or "",
        action_value=dict(action.value or {}) if action else {},
        form_value=dict(action.form_value or {}) if action else {},
        action_tag=(action.tag if action else "") or "", action_option=(action.option if action else "") or "",
        callback_token=ev.token or "", raw=_raw(data),
    )


def record_changed_incoming(data: P2DriveFileBitableRecordChangedV1) -> Incoming:
    """From `P2DriveFileBitableRecordChangedV1`."""
    header, ev = data.header, data.event
    ids = [a.record_id for a in (ev.action_list or []) if getattr(a, "record_id", None)]
    op = ev.operator_id
    return Incoming(
        kind="record_changed", event_id=header.event_id or "", app_id=header.app_id or "",
        tenant_key=header.tenant_key or "", open_id=(op.open_id if op else "") or "",
        file_token=ev.file_token or "", table_id=ev.table_id or "", record_ids=ids, raw=_raw(data),
    )


def card_response(answer: dict[str, Any] | None) -> P2CardActionTriggerResponse:
    """A dispatcher answer `{"toast": {...}, "card": {...card json...}}` as the SDK response."""
    resp = P2CardActionTriggerResponse()
    if not answer:
        return resp
    toast = answer.get("toast")
    if toast:
        t = CallBackToast()
        t.type = toast.get("type", "info")
        t.content = toast.get("content", "")
        if toast.get("i18n"):
            t.i18n = dict(toast["i18n"])
        resp.toast = t
    card = answer.get("card")
    if card:
        c = CallBackCard()
        c.type = "raw"
        c.data = card
        resp.card = c
    return resp


Dispatch = Callable[[Incoming], "dict[str, Any] | None"]


def build_event_handler(dispatch: Dispatch, *, encrypt_key: str = "", verification_token: str = "",
                        bot_open_id: Callable[[], str | None] = lambda: None) -> lark.EventDispatcherHandler:
    """The lark-oapi handler both transports use: three registrations, each a translation only."""

    def on_message(data: P2ImMessageReceiveV1) -> None:
        dispatch(message_incoming(data, bot_open_id()))

    def on_card(data: P2CardActionTrigger) -> P2CardActionTriggerResponse:
        return card_response(dispatch(card_incoming(data)))

    def on_record(data: P2DriveFileBitableRecordChangedV1) -> None:
        dispatch(record_changed_incoming(data))

    return (lark.EventDispatcherHandler.builder(encrypt_key, verification_token)
            .register_p2_im_message_receive_v1(on_message)
            .register_p2_card_action_trigger(on_card)
            .register_p2_drive_file_bitable_record_changed_v1(on_record)
            .build())
