"""What a send or reply is checked against before it is stored: the recipient (who, reachable,
in the chat), the per-target rate (5 QPS, §6.1) and the content for its msg_type (cards through
`gtm.sandbox.cards`; `<at>` mentions rewritten to `@_user_N`).
"""
from __future__ import annotations

import json
import re
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from gtm.sandbox.cards import parse_card
from gtm.sandbox.errors import ApiError
from gtm.sandbox.im.messages import p2p_chat_id, store
from gtm.sandbox.state import App, Chat, User

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

RECEIVE_ID_TYPES = {"open_id", "user_id", "union_id", "email", "chat_id"}
MSG_TYPES = {"text", "post", "image", "file", "audio", "media", "sticker", "interactive", "share_chat",
             "share_user", "system"}
AT_TEXT_RE = re.compile(r"<at\s+user_id\s*=\s*[\"']?([^\"'>\s]+)[\"']?\s*>(.*?)</at>", re.S)


# -- recipients ------------------------------------------------------------------------------
def find_user(sb: "Sandbox", id_type: str, value: str) -> User | None:
    if id_type == "open_id":
        return sb.world.users.get(value)
    attr = {"user_id": "user_id", "union_id": "union_id", "email": "email", "mobile": "mobile"}[id_type]
    return next((u for u in sb.world.users.values() if value and getattr(u, attr) == value), None)


def check_user_reachable(sb: "Sandbox", app: App, user: User) -> None:
    if user.tenant_key != app.tenant_key or user.open_id in store(sb).unavailable.get(app.app_id, set()):
        raise ApiError(230013, "Bot has NO availability to this user.", 400)
    if user.resigned:
        raise ApiError(230029, "The user has resigned.", 400)
    if user.stopped_bot:
        raise ApiError(230053, "The user has stopped the bot from sending messages.", 400)


def check_group(sb: "Sandbox", app: App, chat: Chat | None) -> Chat:
    if chat is None or chat.tenant_key != app.tenant_key:
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=invalid receive_id", 400)
    if chat.dissolved:
        raise ApiError(232009, "Your request specifies a chat which has already been dissolved.", 400)
    if app.app_id not in chat.bots:
        raise ApiError(230002, "Bot/User can NOT be out of the chat.", 400)
    return chat


def resolve_receiver(sb: "Sandbox", app: App, id_type: str, receive_id: str) -> tuple[str, str]:
    """(chat_id, rate-limit key) for a send; raises Feishu's recipient errors."""
    if id_type == "chat_id":
        st = store(sb)
        if receive_id in st.p2p_chats:
            p = st.p2p_chats[receive_id]
            if p["app_id"] != app.app_id:
                raise ApiError(230001, "Your request contains an invalid request parameter, ext=invalid receive_id", 400)
            check_user_reachable(sb, app, sb.world.users[p["open_id"]])
            return receive_id, f"user:{p['open_id']}"
        chat = check_group(sb, app, sb.world.chats.get(receive_id))
        return chat.chat_id, f"chat:{chat.chat_id}"
    user = find_user(sb, id_type, receive_id)
    if user is None:
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=invalid receive_id", 400)
    check_user_reachable(sb, app, user)
    return p2p_chat_id(sb, app.app_id, user.open_id), f"user:{user.open_id}"


def rate_check(sb: "Sandbox", key: str) -> None:
    """5 QPS per recipient user / per group / per message (when `config.rate_limits` is on)."""
    if not sb.config.rate_limits:
        return
    st = store(sb)
    now = time.monotonic()
    limit = max(1, int(sb.config.im_qps_per_target * sb.config.rate_limit_scale))
    with sb.world.lock:
        win = st.windows.setdefault(key, deque())
        while win and now - win[0] >= 1.0:
            win.popleft()
        if len(win) >= limit:
            raise ApiError(230020, "This operation triggers the frequency limit.", 400)
        win.append(now)


# -- content ---------------------------------------------------------------------------------
def rewrite_mentions(sb: "Sandbox", msg_type: str, content: dict) -> tuple[dict, list[dict]]:
    """Replace `<at user_id=…>` (text) and post `at` tags with `@_user_N`; return the mentions."""
    mentions: list[dict] = []

    def mention(uid: str, name: str) -> str:
        if uid == "all":
            return "@_all"
        user = sb.world.users.get(uid) or find_user(sb, "user_id", uid) or find_user(sb, "union_id", uid)
        key = f"@_user_{len(mentions) + 1}"
        mentions.append({"key": key, "open_id": user.open_id if user else uid,
                         "user_id": user.user_id if user else "", "union_id": user.union_id if user else "",
                         "name": name or (user.name if user else ""),
                         "tenant_key": user.tenant_key if user else ""})
        return key

    if msg_type == "text" and isinstance(content.get("text"), str):
        content = dict(content, text=AT_TEXT_RE.sub(lambda m: mention(m.group(1), m.group(2)), content["text"]))
    elif msg_type == "post":
        for lang in list(content):
            body = content[lang] if isinstance(content[lang], dict) else None
            for para in (body or {}).get("content", []) if body else []:
                for item in para if isinstance(para, list) else []:
                    if isinstance(item, dict) and item.get("tag") == "at" and item.get("user_id"):
                        item["user_id"] = mention(str(item["user_id"]), str(item.get("user_name", "")))
    return content, mentions


def check_content(sb: "Sandbox", app: App, msg_type: str, content: Any, raw_size: int) -> tuple[str, list[dict]]:
    """Validate `content` (a JSON string) for its msg_type; return the stored content + mentions."""
    if msg_type not in MSG_TYPES:
        raise ApiError(230001, f"Your request contains an invalid request parameter, ext=invalid msg_type {msg_type}", 400)
    if not isinstance(content, str):
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=content must be a JSON string", 400)
    limit = sb.config.card_max_bytes if msg_type in ("interactive", "post") else sb.config.text_max_bytes
    if raw_size > limit:
        raise ApiError(sb.config.too_long_code, f"The content of the message is too long (limit {limit} bytes).", 400)
    if msg_type == "interactive":
        card = parse_card(content, lambda uid: known_user(sb, app, uid), sb.config.card_max_elements)
        return json.dumps(card, ensure_ascii=False), []
    try:
        obj = json.loads(content)
    except ValueError:
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=content is not valid JSON", 400)
    if not isinstance(obj, dict):
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=content must be a JSON object", 400)
    if msg_type == "text" and not isinstance(obj.get("text"), str):
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=text content needs \"text\"", 400)
    if msg_type == "post" and not any(isinstance(v, dict) and isinstance(v.get("content"), list) for v in obj.values()):
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=post needs {lang:{content:[[…]]}}", 400)
    obj, mentions = rewrite_mentions(sb, msg_type, obj)
    return json.dumps(obj, ensure_ascii=False), mentions


def known_user(sb: "Sandbox", app: App, uid: str) -> bool:
    u = sb.world.users.get(uid)
    return u is not None and u.tenant_key == app.tenant_key
