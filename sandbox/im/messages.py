"""IM messages as stored: `ImStore` in `world.extra["im"]` (messages by id and by chat, p2p chats,
uuid dedup, rate windows, `c-` tokens), the record of a message and its Open API and test views.

A p2p chat per (app, user) is created on the first message to that user, so tests and the
console can read both sides.
"""
from __future__ import annotations

import json
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from gtm.sandbox.errors import ApiError
from gtm.sandbox.state import App, User, new_id, now_ms

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

PUBLIC_KEYS = ("message_id", "root_id", "parent_id", "thread_id", "msg_type", "create_time", "update_time",
               "deleted", "updated", "chat_id", "sender", "body", "mentions", "upper_message_id")


class ImStore:
    """All IM state: messages by id and by chat, p2p chats, uuid dedup, rate windows, c- tokens."""

    def __init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        self.by_chat: dict[str, list[str]] = {}
        self.p2p: dict[str, str] = {}  # "app_id|open_id" -> chat_id
        self.p2p_chats: dict[str, dict[str, str]] = {}  # chat_id -> {app_id, open_id}
        self.uuids: dict[str, tuple[str, float]] = {}
        self.windows: dict[str, deque] = {}
        self.callback_tokens: dict[str, dict[str, Any]] = {}
        self.unavailable: dict[str, set[str]] = {}  # app_id -> open_ids outside the bot's availability

    def to_json(self) -> dict[str, Any]:
        return {"messages": self.messages, "by_chat": self.by_chat, "p2p_chats": self.p2p_chats}

    def load(self, data: dict[str, Any]) -> None:
        self.messages = dict(data.get("messages", {}))
        self.by_chat = {k: list(v) for k, v in data.get("by_chat", {}).items()}
        self.p2p_chats = dict(data.get("p2p_chats", {}))
        self.p2p = {f"{v['app_id']}|{v['open_id']}": k for k, v in self.p2p_chats.items()}


def store(sb: "Sandbox") -> ImStore:
    with sb.world.lock:
        st = sb.world.extra.get("im")
        if not isinstance(st, ImStore):
            fresh = ImStore()
            if isinstance(st, dict):
                fresh.load(st)
            st = sb.world.extra["im"] = fresh
        return st


def p2p_chat_id(sb: "Sandbox", app_id: str, open_id: str) -> str:
    """The p2p chat between the app's bot and a user (created on first use)."""
    st = store(sb)
    with sb.world.lock:
        key = f"{app_id}|{open_id}"
        if key not in st.p2p:
            cid = new_id("oc_p2p_", 20)
            st.p2p[key] = cid
            st.p2p_chats[cid] = {"app_id": app_id, "open_id": open_id}
            st.by_chat.setdefault(cid, [])
        return st.p2p[key]


def chat_type(sb: "Sandbox", chat_id: str) -> str:
    return "p2p" if chat_id in store(sb).p2p_chats else "group"


# -- records ---------------------------------------------------------------------------------
def add_message(sb: "Sandbox", chat_id: str, msg_type: str, content: str, mentions: list[dict], *,
                app: App | None = None, user: User | None = None, parent: dict | None = None,
                in_thread: bool = False, uuid: str = "") -> dict:
    """Store a message sent by an app (bot) or by a user (control API) and return its record."""
    st = store(sb)
    t = str(now_ms())
    if app is not None:
        sender = {"id": app.app_id, "id_type": "app_id", "sender_type": "app", "tenant_key": app.tenant_key}
    else:
        assert user is not None
        sender = {"id": user.open_id, "id_type": "open_id", "sender_type": "user", "tenant_key": user.tenant_key}
    rec: dict[str, Any] = {
        "message_id": new_id("om_", 32), "msg_type": msg_type, "create_time": t, "update_time": t,
        "deleted": False, "updated": False, "chat_id": chat_id, "chat_type": chat_type(sb, chat_id),
        "sender": sender, "body": {"content": content}, "mentions": mentions,
        "app_id": app.app_id if app else "", "uuid": uuid,
    }
    if parent is not None:
        rec["parent_id"] = parent["message_id"]
        rec["root_id"] = parent.get("root_id") or parent["message_id"]
        if in_thread or parent.get("thread_id"):
            rec["thread_id"] = parent.get("thread_id") or new_id("omt_", 20)
    with sb.world.lock:
        st.messages[rec["message_id"]] = rec
        st.by_chat.setdefault(chat_id, []).append(rec["message_id"])
    return rec


def public(rec: dict) -> dict:
    """The message as the Open API returns it (mentions in the send/get shape)."""
    out = {k: rec[k] for k in PUBLIC_KEYS if k in rec}
    out["mentions"] = [{"key": m["key"], "id": m["open_id"], "id_type": "open_id", "name": m["name"],
                        "tenant_key": m.get("tenant_key", "")} for m in rec.get("mentions", [])]
    if not out["mentions"]:
        out.pop("mentions")
    return out


def view(rec: dict) -> dict:
    """The message for tests and the console: public shape plus the parsed content/card."""
    out = public(rec)
    out["chat_type"] = rec.get("chat_type", "group")
    try:
        parsed = json.loads(rec["body"]["content"])
    except (ValueError, KeyError):
        parsed = None
    out["content"] = parsed
    if rec["msg_type"] == "interactive":
        out["card"] = parsed
    if rec["msg_type"] == "text" and isinstance(parsed, dict):
        out["text"] = parsed.get("text", "")
    return out


def replace_card(sb: "Sandbox", message_id: str, card: dict) -> None:
    st = store(sb)
    with sb.world.lock:
        rec = st.messages[message_id]
        rec["body"] = {"content": json.dumps(card, ensure_ascii=False)}
        rec["update_time"] = str(now_ms())
        rec["updated"] = True


def new_callback_token(sb: "Sandbox", app_id: str, message_id: str) -> str:
    """A `c-…` token for the delayed-update API (30 min, 3 uses)."""
    tok = "c-" + new_id("", 32)
    with sb.world.lock:
        store(sb).callback_tokens[tok] = {"app_id": app_id, "message_id": message_id, "uses": 0,
                                          "expires_at": time.time() + sb.config.delayed_update_ttl_seconds}
    return tok


def get_message(sb: "Sandbox", message_id: str) -> dict:
    rec = store(sb).messages.get(message_id)
    if rec is None or rec.get("deleted"):
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=message not found", 400)
    return rec
