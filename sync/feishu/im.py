"""IM calls: send, reply, patch a card; read a message; the bot's identity; chats and members.

Sending is paced by the gateway's one limiter: `send_card` waits for the recipient's slot (Feishu
takes 5 messages per second per group and per user, 230020), and `reply_delay` books a reply's
slot (its chat's and the app's: 50/s and 1,000/min) so the dispatcher can send it from a timer
instead of holding a worker.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import lark_oapi as lark
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    GetChatMembersRequest,
    GetChatRequest,
    GetMessageRequest,
    PatchMessageRequest,
    PatchMessageRequestBody,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)
from lark_oapi.core.enum import AccessTokenType, HttpMethod

from gtm.sync.feishu.caller import Caller
from gtm.sync.feishu.ratelimit import RECIPIENT, REPLY_APP, wait_for


Card = dict[str, Any]


def receive_id_type(recipient: str) -> str:
    """Feishu's receive_id_type for a recipient: oc_… is a chat, everything else an open id."""
    return "chat_id" if recipient.startswith("oc_") else "open_id"


@dataclass(frozen=True)
class Chat:
    chat_id: str
    name: str = ""


@dataclass(frozen=True)
class ChatMembers:
    """The first page of a chat's members (open ids) and the chat's member count."""

    open_ids: list[str] = field(default_factory=list)
    total: int = 0


class Im:
    """IM calls through one gateway."""

    def __init__(self, gateway: Caller) -> None:
        self.gw = gateway

    # -- pacing ------------------------------------------------------------------------------
    def reply_delay(self, chat: str) -> float:
        """Book a reply's send slot in `chat` (a chat id, or the open id of a p2p asker): seconds
        until it (0: now). One time is booked in the chat's 5/s and in the app-wide reply pace
        (50/s and 1,000/min, with margins): the earliest both allow, so a reply held back by the
        app's minute still counts in its chat's second when it goes."""
        return self.gw.limiter.reserve_all([(RECIPIENT, chat), (REPLY_APP, "app")])

    # -- messages ----------------------------------------------------------------------------
    def send_card(self, recipient: str, card: Card, uuid: str, *, context: str = "",
                  wait: Callable[[float], None] | None = time.sleep) -> str:
        """One interactive message to a chat (oc_…) or a person (open id); returns its message id.

        Waits (with `wait`) for the recipient's slot first; `wait=None` does not pace. Retry-safe:
        the uuid makes a repeated request idempotent on Feishu's side."""
        if wait is not None:
            wait_for(lambda: self.gw.limiter.try_acquire(RECIPIENT, recipient), wait)
        req = (CreateMessageRequest.builder().receive_id_type(receive_id_type(recipient))
               .request_body(CreateMessageRequestBody.builder().receive_id(recipient).msg_type("interactive")
                             .content(json.dumps(card, ensure_ascii=False)).uuid(uuid).build())
               .build())
        data = self.gw.call("im.message.create", lambda: self.gw.client.im.v1.message.create(req),
                            family="im.send", retry_safe=True, context=context)
        return getattr(data, "message_id", "") or ""

    def reply_card(self, message_id: str, card: Card, uuid: str, *, context: str = "",
                   max_wait: float | None = None) -> str:
        """Reply to a message with a card; returns the new message id. Retry-safe (the uuid);
        `max_wait` caps the retries' waiting (`RateLimited` when a reset is later)."""
        body = (ReplyMessageRequestBody.builder().msg_type("interactive")
                .content(json.dumps(card, ensure_ascii=False)).uuid(uuid).build())
        req = ReplyMessageRequest.builder().message_id(message_id).request_body(body).build()
        data = self.gw.call("im.message.reply", lambda: self.gw.client.im.v1.message.reply(req), family="im.send",
                            retry_safe=True, context=context, max_wait=max_wait)
        return getattr(data, "message_id", "") or ""

    def patch_card(self, message_id: str, card: Card) -> None:
        """Put a new card in place of a sent one."""
        body = PatchMessageRequestBody.builder().content(json.dumps(card, ensure_ascii=False)).build()
        req = PatchMessageRequest.builder().message_id(message_id).request_body(body).build()
        self.gw.call("im.message.patch", lambda: self.gw.client.im.v1.message.patch(req), family="im.patch",
                     retry_safe=True, context=message_id)

    def message_content(self, message_id: str, *, context: str = "") -> str | None:
        """The content (JSON text) of a message; None when Feishu returns none."""
        req = GetMessageRequest.builder().message_id(message_id).build()
        data = self.gw.call("im.message.get", lambda: self.gw.client.im.v1.message.get(req), family="im.chat",
                            retry_safe=True, context=context or message_id)
        items = getattr(data, "items", None) or []
        if not items or not items[0].body or not items[0].body.content:
            return None
        return items[0].body.content

    # -- identity and chats ------------------------------------------------------------------
    def bot_open_id(self) -> str | None:
        """The bot's open_id from `GET /open-apis/bot/v3/info` (the SDK's generic request: the
        answer carries `bot` beside `data`, which the typed path would drop)."""
        req = (lark.BaseRequest.builder().http_method(HttpMethod.GET).uri("/open-apis/bot/v3/info")
               .token_types({AccessTokenType.TENANT}).build())
        holder: dict[str, Any] = {}

        def call() -> Any:
            resp = self.gw.client.request(req)
            holder["resp"] = resp
            return resp

        self.gw.call("bot.info", call, family="im.chat", retry_safe=True)
        raw = getattr(holder.get("resp"), "raw", None)
        body = json.loads(raw.content) if raw is not None and raw.content else {}
        bot = body.get("bot") or (body.get("data") or {}).get("bot") or {}
        return bot.get("open_id") or None

    def get_chat(self, chat_id: str, *, context: str = "") -> Chat:
        """A chat the bot is in (NotFound or a 2320xx code when it is not, or the chat is gone)."""
        req = GetChatRequest.builder().chat_id(chat_id).build()
        data = self.gw.call("im.chat.get", lambda: self.gw.client.im.v1.chat.get(req), family="im.chat",
                            retry_safe=True, context=context or chat_id)
        return Chat(chat_id, str(getattr(data, "name", "") or ""))

    def chat_members(self, chat_id: str, *, page_size: int = 20) -> ChatMembers:
        req = (GetChatMembersRequest.builder().chat_id(chat_id).member_id_type("open_id")
               .page_size(page_size).build())
        data = self.gw.call("im.chat.members", lambda: self.gw.client.im.v1.chat_members.get(req),
                            family="im.chat", context=chat_id)
        items = getattr(data, "items", None) or []
        ids = [m.member_id for m in items if getattr(m, "member_id", None)]
        return ChatMembers(ids, int(getattr(data, "member_total", None) or len(items)))
