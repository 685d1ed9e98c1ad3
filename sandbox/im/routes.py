"""The IM routes: send, reply, card PATCH, get message, delayed card update (§6). Each answers
with the codes listed in `gtm.sandbox.im`.
"""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gtm.sandbox.auth import authenticate
from gtm.sandbox.cards import CardError, parse_card, update_multi, validate_card
from gtm.sandbox.errors import ApiError, ok
from gtm.sandbox.im.messages import add_message, get_message, public, replace_card, store
from gtm.sandbox.im.sending import RECEIVE_ID_TYPES, known_user, check_content, rate_check, resolve_receiver
from gtm.sandbox.state import App

if TYPE_CHECKING:
    from gtm.sandbox.server import Sandbox


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


def _post(sb: "Sandbox", app: App, body: dict, size: int, id_type: str, receive_id: str,
          parent: dict | None = None, in_thread: bool = False) -> web.Response:
    """A send or a reply after its own checks: the uuid replay, the receiver, the content, the rate
    limit, then the message (remembered under its uuid)."""
    dup = _dedup(sb, app, body.get("uuid"))
    if dup:
        return ok(public(dup))
    chat_id, key = resolve_receiver(sb, app, id_type, receive_id)
    content, mentions = check_content(sb, app, body["msg_type"], body.get("content"), size)
    rate_check(sb, key)
    rec = add_message(sb, chat_id, body["msg_type"], content, mentions, app=app, parent=parent,
                      in_thread=in_thread, uuid=body.get("uuid") or "")
    _remember(sb, app, body.get("uuid") or "", rec)
    return ok(public(rec))


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
        return _post(sb, a, body, size, id_type, str(body["receive_id"]))

    async def reply(request: web.Request) -> web.Response:
        a = authenticate(request, sb)
        parent = get_message(sb, request.match_info["message_id"])
        body, size = await _body(request)
        if not body.get("msg_type"):
            raise ApiError(230001, "Your request contains an invalid request parameter, ext=msg_type is required", 400)
        return _post(sb, a, body, size, "chat_id", parent["chat_id"], parent=parent,
                     in_thread=bool(body.get("reply_in_thread")))

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
        card = parse_card(body["content"], lambda uid: known_user(sb, a, uid), sb.config.card_max_elements)
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
            card = parse_card(card, lambda uid: known_user(sb, a, uid), sb.config.card_max_elements)
        else:
            try:
                validate_card(card, lambda uid: known_user(sb, a, uid), sb.config.card_max_elements)
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
