"""IM v1: send, reply, card PATCH, delayed card update, get message (docs/feishu-api.md §6).

Messages live in `world.extra["im"]` (an `ImStore`), per chat; a p2p chat per (app, user) is
created on the first message to that user, so tests and the console can read both.

Codes (all HTTP 400, §6.1). Choices where the doc is silent (UNCONFIRMED):
- unknown receive_id / chat / message → 230001 "invalid receive_id" / "message not found";
- resigned user → 230029; user of another tenant or made unavailable → 230013; stopped bot → 230053;
- PATCH by another app → 230027; PATCH of a non-card or without `config.update_multi: true`
  before and after → 230001; over-size card/post body → `SandboxConfig.too_long_code` (230025);
- delayed update with an unknown/expired/used-up token → 230001.
"""
from __future__ import annotations

import json
import re
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gtm.sandbox.auth import authenticate
from gtm.sandbox.cards import CardError, parse_card, update_multi, validate_card
from gtm.sandbox.errors import ApiError, ok
from gtm.sandbox.state import App, Chat, User, new_id, now_ms

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox

RECEIVE_ID_TYPES = {"open_id", "user_id", "union_id", "email", "chat_id"}
MSG_TYPES = {"text", "post", "image", "file", "audio", "media", "sticker", "interactive", "share_chat",
             "share_user", "system"}
AT_TEXT_RE = re.compile(r"<at\s+user_id\s*=\s*[\"']?([^\"'>\s]+)[\"']?\s*>(.*?)</at>", re.S)
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


# -- lookups ---------------------------------------------------------------------------------
def find_user(sb: "Sandbox", id_type: str, value: str) -> User | None:
    if id_type == "open_id":
        return sb.world.users.get(value)
    attr = {"user_id": "user_id", "union_id": "union_id", "email": "email", "mobile": "mobile"}[id_type]
    return next((u for u in sb.world.users.values() if value and getattr(u, attr) == value), None)


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
        card = parse_card(content, lambda uid: _known(sb, app, uid), sb.config.card_max_elements)
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


def _known(sb: "Sandbox", app: App, uid: str) -> bool:
    u = sb.world.users.get(uid)
    return u is not None and u.tenant_key == app.tenant_key


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


# -- routes ----------------------------------------------------------------------------------
async def _body(request: web.Request) -> tuple[dict, int]:
    raw = await request.read()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=body is not JSON", 400)
    if not isinstance(body, dict):
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=body must be an object", 400)
    return body, len(raw)


def _dedup(sb: "Sandbox", app: App, uuid: Any) -> dict | None:
    if not uuid:
        return None
    if not isinstance(uuid, str) or len(uuid) > 50:
        raise ApiError(230001, "Your request contains an invalid request parameter, ext=uuid ≤50 characters", 400)
    st = store(sb)
    with sb.world.lock:
        hit = st.uuids.get(f"{app.app_id}|{uuid}")
        if hit and hit[1] > time.time() and hit[0] in st.messages:
            return st.messages[hit[0]]
    return None


def _remember(sb: "Sandbox", app: App, uuid: str, rec: dict) -> None:
    if uuid:
        with sb.world.lock:
            store(sb).uuids[f"{app.app_id}|{uuid}"] = (rec["message_id"], time.time() + sb.config.uuid_ttl_seconds)


def register(app: web.Application, sb: "Sandbox") -> None:
    store(sb)

    async def send(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        id_type = request.query.get("receive_id_type", "")
        if id_type not in RECEIVE_ID_TYPES:
            raise ApiError(230001, "Your request contains an invalid request parameter, ext=receive_id_type", 400)
        body, size = await _body(request)
        if not body.get("receive_id") or not body.get("msg_type"):
            raise ApiError(230001, "Your request contains an invalid request parameter, ext=receive_id and msg_type are required", 400)
        dup = _dedup(sb, a, body.get("uuid"))
        if dup:
            return ok(public(dup))
        chat_id, key = resolve_receiver(sb, a, id_type, str(body["receive_id"]))
        content, mentions = check_content(sb, a, body["msg_type"], body.get("content"), size)
        rate_check(sb, key)
        rec = add_message(sb, chat_id, body["msg_type"], content, mentions, app=a, uuid=body.get("uuid") or "")
        _remember(sb, a, body.get("uuid") or "", rec)
        return ok(public(rec))

    async def reply(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        parent = get_message(sb, request.match_info["message_id"])
        body, size = await _body(request)
        if not body.get("msg_type"):
            raise ApiError(230001, "Your request contains an invalid request parameter, ext=msg_type is required", 400)
        dup = _dedup(sb, a, body.get("uuid"))
        if dup:
            return ok(public(dup))
        chat_id, key = resolve_receiver(sb, a, "chat_id", parent["chat_id"])
        content, mentions = check_content(sb, a, body["msg_type"], body.get("content"), size)
        rate_check(sb, key)
        rec = add_message(sb, chat_id, body["msg_type"], content, mentions, app=a, parent=parent,
                          in_thread=bool(body.get("reply_in_thread")), uuid=body.get("uuid") or "")
        _remember(sb, a, body.get("uuid") or "", rec)
        return ok(public(rec))

    async def patch(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        rec = get_message(sb, request.match_info["message_id"])
        body, size = await _body(request)
        if rec["msg_type"] != "interactive":
            raise ApiError(230001, "Your request contains an invalid request parameter, ext=only interactive (card) messages can be updated", 400)
        if rec.get("app_id") != a.app_id:
            raise ApiError(230027, "Lack of necessary permissions: only the app that sent the card can update it.", 400)
        if not isinstance(body.get("content"), str):
            raise ApiError(230001, "Your request contains an invalid request parameter, ext=content must be a JSON string", 400)
        if size > sb.config.card_max_bytes:
            raise ApiError(sb.config.too_long_code, "The content of the message is too long.", 400)
        card = parse_card(body["content"], lambda uid: _known(sb, a, uid), sb.config.card_max_elements)
        old = json.loads(rec["body"]["content"])
        if not update_multi(old) or not update_multi(card):
            raise ApiError(230001, "Your request contains an invalid request parameter, ext=config.update_multi must be true before and after the update", 400)
        rate_check(sb, f"message:{rec['message_id']}")
        replace_card(sb, rec["message_id"], card)
        return ok({})

    async def get(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        rec = get_message(sb, request.match_info["message_id"])
        st = store(sb)
        p2p = st.p2p_chats.get(rec["chat_id"])
        if p2p is not None and p2p["app_id"] != a.app_id:
            raise ApiError(230027, "Lack of necessary permissions.", 400)
        if p2p is None:
            chat = sb.world.chats.get(rec["chat_id"])
            if chat is None or a.app_id not in chat.bots:
                raise ApiError(230002, "Bot/User can NOT be out of the chat.", 400)
        return ok({"items": [public(rec)]})

    async def delayed_update(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        body, size = await _body(request)
        st = store(sb)
        tok = st.callback_tokens.get(str(body.get("token", "")))
        if (tok is None or tok["app_id"] != a.app_id or tok["expires_at"] <= time.time()
                or tok["uses"] >= sb.config.delayed_update_uses):
            raise ApiError(230001, "Your request contains an invalid request parameter, ext=token is invalid, expired or used up", 400)
        if size > sb.config.delayed_update_max_bytes:
            raise ApiError(sb.config.too_long_code, "The card is too long.", 400)
        card = body.get("card")
        if isinstance(card, str):
            card = parse_card(card, lambda uid: _known(sb, a, uid), sb.config.card_max_elements)
        else:
            try:
                validate_card(card, lambda uid: _known(sb, a, uid), sb.config.card_max_elements)
            except CardError as err:
                raise err.api_error()
        with sb.world.lock:
            tok["uses"] += 1
        replace_card(sb, tok["message_id"], card)
        return ok({})

    app.router.add_post("/open-apis/im/v1/messages", send)
    app.router.add_post("/open-apis/im/v1/messages/{message_id}/reply", reply)
    app.router.add_patch("/open-apis/im/v1/messages/{message_id}", patch)
    app.router.add_get("/open-apis/im/v1/messages/{message_id}", get)
    app.router.add_post("/open-apis/interactive/v1/card/update", delayed_update)
